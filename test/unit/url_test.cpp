// Unit tests of the URL helpers: credential redaction, scheme, allowed prefixes.
#include "core/url.hpp"

#include <gtest/gtest.h>

namespace pgpipe::core {
namespace {

TEST(RedactUrl, DropsUserinfo) {
  EXPECT_EQ(RedactUrl("https://alice:s3cret@example.com/data.csv"), "https://example.com/data.csv");
  EXPECT_EQ(RedactUrl("https://alice@example.com:8443/x"), "https://example.com:8443/x");
  EXPECT_EQ(RedactUrl("http://u:p@ss@example.com"), "http://example.com");
}

TEST(RedactUrl, LeavesAtSignsOutsideTheHostAlone) {
  EXPECT_EQ(RedactUrl("https://example.com/@scope/pkg?who=a@b"),
            "https://example.com/@scope/pkg?who=a@b");
}

TEST(RedactUrl, MasksSecretQueryParameters) {
  EXPECT_EQ(RedactUrl("https://s3.example.com/f.csv.gz?X-Amz-Signature=abc&X-Amz-Expires=300"
                      "&api_key=k&Token=t&year=2021&AUTH=z&password=p&client_secret=s"),
            "https://s3.example.com/f.csv.gz?X-Amz-Signature=***&X-Amz-Expires=300"
            "&api_key=***&Token=***&year=2021&AUTH=***&password=***&client_secret=***");
  EXPECT_EQ(RedactUrl("https://x.org/a?sig=1&month=01"), "https://x.org/a?sig=***&month=01");
  EXPECT_EQ(RedactUrl("https://x.org/a?X-Amz-Credential=AKIA%2F2021"),
            "https://x.org/a?X-Amz-Credential=***");
}

TEST(RedactUrl, KeepsEmptyAndValuelessParameters) {
  EXPECT_EQ(RedactUrl("https://x.org/a?token&&key="), "https://x.org/a?token&&key=***");
  EXPECT_EQ(RedactUrl("https://x.org/a?"), "https://x.org/a?");
}

TEST(RedactUrl, MasksFragmentParametersToo) {
  EXPECT_EQ(RedactUrl("https://u:p@x.org/cb?state=1#access_token=abc&x=2"),
            "https://x.org/cb?state=1#access_token=***&x=2");
  EXPECT_EQ(RedactUrl("https://x.org/a#frag?token=1"), "https://x.org/a#frag?token=***");
}

TEST(RedactUrl, LeavesPlainUrlsUnchanged) {
  EXPECT_EQ(RedactUrl("https://github.com/DataTalksClub/nyc-tlc-data/releases/download/yellow/"
                      "yellow_tripdata_2021-01.csv.gz"),
            "https://github.com/DataTalksClub/nyc-tlc-data/releases/download/yellow/"
            "yellow_tripdata_2021-01.csv.gz");
  EXPECT_EQ(RedactUrl(""), "");
  EXPECT_EQ(RedactUrl("not a url"), "not a url");
}

TEST(UrlScheme, LowercasesTheScheme) {
  EXPECT_EQ(UrlScheme("HTTPS://example.com/"), "https");
  EXPECT_EQ(UrlScheme("http://example.com/"), "http");
  EXPECT_EQ(UrlScheme("file:///etc/passwd"), "file");
  EXPECT_EQ(UrlScheme("svn+ssh://host/repo"), "svn+ssh");
}

TEST(UrlScheme, IsEmptyWithoutAScheme) {
  EXPECT_EQ(UrlScheme("example.com/data.csv"), "");
  EXPECT_EQ(UrlScheme("1http://example.com"), "");
  EXPECT_EQ(UrlScheme(":x"), "");
  EXPECT_EQ(UrlScheme(""), "");
}

TEST(UrlAllowedByPrefixes, EmptyListAllowsEverything) {
  EXPECT_TRUE(UrlAllowedByPrefixes("https://anything.example/", {}));
}

TEST(UrlAllowedByPrefixes, MatchesPlainPrefixes) {
  std::vector<std::string> prefixes = {"https://example.com/data/", "http://127.0.0.1:8080/"};
  EXPECT_TRUE(UrlAllowedByPrefixes("https://example.com/data/2021-01.csv.gz", prefixes));
  EXPECT_TRUE(UrlAllowedByPrefixes("http://127.0.0.1:8080/x", prefixes));
  EXPECT_FALSE(UrlAllowedByPrefixes("https://example.com/other.csv", prefixes));
  EXPECT_FALSE(UrlAllowedByPrefixes("https://example.com/data", prefixes));
  EXPECT_FALSE(UrlAllowedByPrefixes("HTTPS://example.com/data/x", prefixes));  // case matters
  EXPECT_TRUE(UrlAllowedByPrefixes("https://example.com/data2021.csv", {"https://example.com/data"}));
}

TEST(UrlAllowedByPrefixes, HostOnlyPrefixStopsAtTheHostBoundary) {
  std::vector<std::string> prefixes = {"https://example.com"};
  EXPECT_TRUE(UrlAllowedByPrefixes("https://example.com", prefixes));
  EXPECT_TRUE(UrlAllowedByPrefixes("https://example.com/x", prefixes));
  EXPECT_TRUE(UrlAllowedByPrefixes("https://example.com?x=1", prefixes));
  EXPECT_TRUE(UrlAllowedByPrefixes("https://example.com:8443/x", prefixes));
  EXPECT_FALSE(UrlAllowedByPrefixes("https://example.com.evil.org/x", prefixes));
  EXPECT_FALSE(UrlAllowedByPrefixes("https://example.com@evil.org/x", prefixes));
  EXPECT_FALSE(UrlAllowedByPrefixes("https://example.com:443@evil.org/x", prefixes));
  EXPECT_FALSE(UrlAllowedByPrefixes("https://example.com:/x", prefixes));
}

TEST(UrlAllowedByPrefixes, SchemeOnlyPrefixAllowsTheScheme) {
  EXPECT_TRUE(UrlAllowedByPrefixes("https://any.host/x", {"https://"}));
  EXPECT_FALSE(UrlAllowedByPrefixes("http://any.host/x", {"https://"}));
}

}  // namespace
}  // namespace pgpipe::core
