// Splitting a CSV header line and comparing it with the columns a load expects.
#include <gtest/gtest.h>

#include "core/csv_header.hpp"

using namespace pgpipe::core;

TEST(CsvHeader, SplitsQuotedFieldsWithDelimitersAndDoubledQuotes) {
  EXPECT_EQ(SplitCsvLine(R"(a,"b,c","say ""hi""",,e)", ',', '"'),
            (std::vector<std::string>{"a", "b,c", "say \"hi\"", "", "e"}));
  EXPECT_EQ(SplitCsvLine("x;y", ';', '"'), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(SplitCsvLine("", ',', '"'), (std::vector<std::string>{""}));
}

TEST(CsvHeader, MatchingHeaderIsOkInAnyOrder) {
  HeaderCheck c = CheckHeader({"b", "a"}, {"a", "b", "c"}, {"a"});
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.Detail(), "");
}

TEST(CsvHeader, RenameIsReportedAsExtraAndMissing) {
  HeaderCheck c = CheckHeader({"VendorID", "passenger_cnt", "foo"},
                              {"VendorID", "passenger_count"}, {});
  EXPECT_EQ(c.extra, (std::vector<std::string>{"passenger_cnt", "foo"}));
  EXPECT_EQ(c.missing, (std::vector<std::string>{"passenger_count"}));
  EXPECT_EQ(c.Detail(),
            "The file has columns the target lacks: \"passenger_cnt\", \"foo\". "
            "The file lacks columns: \"passenger_count\".");
}

TEST(CsvHeader, DeclaredColumnMissingFromFileIsAnError) {
  HeaderCheck c = CheckHeader({"a"}, {"a", "b"}, {"a", "b"});
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.missing, (std::vector<std::string>{"b"}));
}

TEST(CsvHeader, DuplicateHeaderNameCountsAsExtra) {
  HeaderCheck c = CheckHeader({"a", "a"}, {"a"}, {});
  EXPECT_EQ(c.extra, (std::vector<std::string>{"a"}));
}

TEST(CsvHeader, FallsBackToAnUnambiguousCaseInsensitiveMatch) {
  HeaderCheck c = CheckHeader({"VendorID", "passenger_count"}, {"vendorid", "passenger_count"}, {});
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.columns, (std::vector<std::string>{"vendorid", "passenger_count"}));
  HeaderCheck ambiguous = CheckHeader({"Id"}, {"id", "ID"}, {});
  EXPECT_EQ(ambiguous.extra, (std::vector<std::string>{"Id"}));
}

TEST(CsvHeader, OptionalDeclaredColumnsMayBeMissingAndEveryHeaderColumnMustBeDeclared) {
  std::vector<std::string> declared = {"VendorID", "fare", "ehail_fee"};
  // ehail_fee is optional and the file lacks it: not required; fare is not optional: required
  auto fit = FitDeclared({"vendorid", "fare"}, declared, {"ehail_fee"});
  EXPECT_EQ(fit.required, (std::vector<std::string>{"VendorID", "fare"}));
  EXPECT_TRUE(fit.undeclared.empty());
  // present, it is required like the others
  fit = FitDeclared({"VendorID", "fare", "ehail_fee"}, declared, {"ehail_fee"});
  EXPECT_EQ(fit.required, declared);
  // a header column nobody declared is named, only when there are optional columns
  fit = FitDeclared({"VendorID", "fare", "tip"}, declared, {"ehail_fee"});
  EXPECT_EQ(fit.undeclared, (std::vector<std::string>{"tip"}));
  EXPECT_TRUE(FitDeclared({"VendorID", "fare", "tip"}, declared, {}).undeclared.empty());
  EXPECT_EQ(FitDeclared({"fare"}, declared, {}).required, declared);
}
