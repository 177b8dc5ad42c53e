// The address classification behind public_addresses_only: every special-purpose range at and
// just past its edges, the IPv6 forms that carry an IPv4 address, sockaddrs of every family,
// and the sentences messages use.
#include "core/address_class.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>

namespace pgpipe::core {
namespace {

// One row: an address, its class, the range named (or "" when public or outside 2000::/3).
struct Row {
  const char* address;
  AddressClass kind;
  const char* range;
};

constexpr AddressClass kPublic = AddressClass::kPublic;
constexpr AddressClass kLoopback = AddressClass::kLoopback;
constexpr AddressClass kPrivate = AddressClass::kPrivate;
constexpr AddressClass kLinkLocal = AddressClass::kLinkLocal;
constexpr AddressClass kUnspecified = AddressClass::kUnspecified;
constexpr AddressClass kMulticast = AddressClass::kMulticast;
constexpr AddressClass kReserved = AddressClass::kReserved;

// Checks each row through ClassifyAddressText (which goes through ClassifyIpv4/ClassifyIpv6).
void ExpectRows(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    std::optional<AddressInfo> info = ClassifyAddressText(row.address);
    ASSERT_TRUE(info.has_value()) << row.address;
    EXPECT_EQ(AddressClassName(info->kind), std::string(AddressClassName(row.kind))) << row.address;
    EXPECT_EQ(info->range, row.range) << row.address;
  }
}

TEST(AddressClass, Ipv4RangesAtAndPastTheirEdges) {
  ExpectRows({
      {"0.0.0.0", kUnspecified, "0.0.0.0/8"},
      {"0.255.255.255", kUnspecified, "0.0.0.0/8"},
      {"1.0.0.0", kPublic, ""},
      {"8.8.8.8", kPublic, ""},
      {"9.255.255.255", kPublic, ""},
      {"10.0.0.0", kPrivate, "10.0.0.0/8"},
      {"10.255.255.255", kPrivate, "10.0.0.0/8"},
      {"11.0.0.0", kPublic, ""},
      {"100.63.255.255", kPublic, ""},
      {"100.64.0.0", kPrivate, "100.64.0.0/10"},
      {"100.127.255.255", kPrivate, "100.64.0.0/10"},
      {"100.128.0.0", kPublic, ""},
      {"126.255.255.255", kPublic, ""},
      {"127.0.0.0", kLoopback, "127.0.0.0/8"},
      {"127.0.0.1", kLoopback, "127.0.0.0/8"},
      {"127.255.255.255", kLoopback, "127.0.0.0/8"},
      {"128.0.0.0", kPublic, ""},
      {"169.253.255.255", kPublic, ""},
      {"169.254.0.0", kLinkLocal, "169.254.0.0/16"},
      {"169.254.169.254", kLinkLocal, "169.254.0.0/16"},
      {"169.254.255.255", kLinkLocal, "169.254.0.0/16"},
      {"169.255.0.0", kPublic, ""},
      {"172.15.255.255", kPublic, ""},
      {"172.16.0.0", kPrivate, "172.16.0.0/12"},
      {"172.31.255.255", kPrivate, "172.16.0.0/12"},
      {"172.32.0.0", kPublic, ""},
      {"191.255.255.255", kPublic, ""},
      {"192.0.0.0", kReserved, "192.0.0.0/24"},
      {"192.0.0.170", kReserved, "192.0.0.0/24"},
      {"192.0.0.255", kReserved, "192.0.0.0/24"},
      {"192.0.1.0", kPublic, ""},
      {"192.0.2.0", kReserved, "192.0.2.0/24"},
      {"192.0.2.255", kReserved, "192.0.2.0/24"},
      {"192.0.3.0", kPublic, ""},
      {"192.88.98.255", kPublic, ""},
      {"192.88.99.1", kReserved, "192.88.99.0/24"},
      {"192.88.100.0", kPublic, ""},
      {"192.167.255.255", kPublic, ""},
      {"192.168.0.0", kPrivate, "192.168.0.0/16"},
      {"192.168.255.255", kPrivate, "192.168.0.0/16"},
      {"192.169.0.0", kPublic, ""},
      {"198.17.255.255", kPublic, ""},
      {"198.18.0.0", kReserved, "198.18.0.0/15"},
      {"198.19.255.255", kReserved, "198.18.0.0/15"},
      {"198.20.0.0", kPublic, ""},
      {"198.51.100.7", kReserved, "198.51.100.0/24"},
      {"198.51.101.0", kPublic, ""},
      {"203.0.112.255", kPublic, ""},
      {"203.0.113.9", kReserved, "203.0.113.0/24"},
      {"203.0.114.0", kPublic, ""},
      {"223.255.255.255", kPublic, ""},
      {"224.0.0.0", kMulticast, "224.0.0.0/4"},
      {"239.255.255.255", kMulticast, "224.0.0.0/4"},
      {"240.0.0.0", kReserved, "240.0.0.0/4"},
      {"255.255.255.254", kReserved, "240.0.0.0/4"},
      {"255.255.255.255", kReserved, "255.255.255.255/32"},
  });
}

TEST(AddressClass, Ipv6Ranges) {
  ExpectRows({
      {"::", kUnspecified, "::/128"},
      {"::1", kLoopback, "::1/128"},
      {"::1:0:0:0", kReserved, ""},  // in ::/8, outside 2000::/3
      {"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", kReserved, ""},
      {"64:ff9b:1::1", kPrivate, "64:ff9b:1::/48"},
      {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", kPrivate, "64:ff9b:1::/48"},
      {"64:ff9b:2::1", kReserved, ""},
      {"100::1", kReserved, "100::/64"},
      {"100::ffff:ffff:ffff:ffff", kReserved, "100::/64"},
      {"100:0:0:1::", kReserved, ""},
      {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", kReserved, ""},
      {"2000::", kPublic, ""},
      {"2001::1", kReserved, "2001::/23"},  // Teredo
      {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", kReserved, "2001::/23"},
      {"2001:200::1", kPublic, ""},
      {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", kPublic, ""},
      {"2001:db8::1", kReserved, "2001:db8::/32"},
      {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", kReserved, "2001:db8::/32"},
      {"2001:db9::", kPublic, ""},
      {"2001:4860:4860::8888", kPublic, ""},
      {"2606:4700:4700::1111", kPublic, ""},
      {"3ffe:ffff::1", kPublic, ""},
      {"3fff::1", kReserved, "3fff::/20"},
      {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", kReserved, "3fff::/20"},
      {"3fff:1000::", kPublic, ""},
      {"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", kPublic, ""},
      {"4000::1", kReserved, ""},
      {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", kReserved, ""},
      {"fc00::", kPrivate, "fc00::/7"},
      {"fd00::2", kPrivate, "fc00::/7"},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", kPrivate, "fc00::/7"},
      {"fe00::1", kReserved, ""},
      {"fe80::", kLinkLocal, "fe80::/10"},
      {"fe80::fc:ff:fe00:1", kLinkLocal, "fe80::/10"},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", kLinkLocal, "fe80::/10"},
      {"fec0::1", kPrivate, "fec0::/10"},
      {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", kPrivate, "fec0::/10"},
      {"ff00::", kMulticast, "ff00::/8"},
      {"ff02::1", kMulticast, "ff00::/8"},
      {"ff0e::1", kMulticast, "ff00::/8"},
  });
}

TEST(AddressClass, Ipv6FormsCarryingIpv4AreWhatTheirIpv4AddressIs) {
  ExpectRows({
      // IPv4-mapped ::ffff:0:0/96
      {"::ffff:127.0.0.1", kLoopback, "127.0.0.0/8"},
      {"::ffff:7f00:1", kLoopback, "127.0.0.0/8"},
      {"::ffff:0.0.0.0", kUnspecified, "0.0.0.0/8"},
      {"::ffff:10.1.2.3", kPrivate, "10.0.0.0/8"},
      {"::ffff:169.254.169.254", kLinkLocal, "169.254.0.0/16"},
      {"::ffff:224.0.0.1", kMulticast, "224.0.0.0/4"},
      {"::ffff:8.8.8.8", kPublic, ""},
      // IPv4-translated ::ffff:0:0:0/96
      {"::ffff:0:127.0.0.1", kLoopback, "127.0.0.0/8"},
      {"::ffff:0:8.8.8.8", kPublic, ""},
      // IPv4-compatible ::/96 (but :: and ::1 are themselves)
      {"::127.0.0.1", kLoopback, "127.0.0.0/8"},
      {"::0.0.0.2", kUnspecified, "0.0.0.0/8"},
      {"::192.168.1.1", kPrivate, "192.168.0.0/16"},
      {"::8.8.8.8", kPublic, ""},
      // NAT64 64:ff9b::/96
      {"64:ff9b::127.0.0.1", kLoopback, "127.0.0.0/8"},
      {"64:ff9b::a9fe:a9fe", kLinkLocal, "169.254.0.0/16"},
      {"64:ff9b::8.8.8.8", kPublic, ""},
      // 6to4 2002::/16, the IPv4 address in bits 16-47
      {"2002:7f00:1::1", kLoopback, "127.0.0.0/8"},
      {"2002:a00:1::", kPrivate, "10.0.0.0/8"},
      {"2002:808:808::1", kPublic, ""},
  });
  AddressInfo info = *ClassifyAddressText("::ffff:127.0.0.1");
  EXPECT_EQ(info.text, "::ffff:127.0.0.1");
  EXPECT_EQ(info.form, "IPv4-mapped");
  EXPECT_EQ(info.ipv4, "127.0.0.1");
  info = *ClassifyAddressText("64:ff9b::a9fe:a9fe");
  EXPECT_EQ(info.text, "64:ff9b::a9fe:a9fe");
  EXPECT_EQ(info.form, "NAT64");
  EXPECT_EQ(info.ipv4, "169.254.169.254");
  EXPECT_EQ(ClassifyAddressText("::ffff:0:7f00:1")->form, "IPv4-translated");
  EXPECT_EQ(ClassifyAddressText("::7f00:1")->form, "IPv4-compatible");
  EXPECT_EQ(ClassifyAddressText("2002:7f00:1::1")->ipv4, "127.0.0.1");
  EXPECT_EQ(ClassifyAddressText("2002:7f00:1::1")->form, "6to4");
  EXPECT_EQ(ClassifyAddressText("::1")->form, "");
}

TEST(AddressClass, TextMustBeAStandardAddress) {
  // The loose spellings a URL may use are the resolver's business: libcurl reports the
  // address it connects to in the standard form, and that is what is classified.
  for (const char* text : {"", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::1]",
                           "localhost", "fe80::1%eth0", "1.2.3.4.5"}) {
    EXPECT_FALSE(ClassifyAddressText(text).has_value()) << text;
  }
}

TEST(AddressClass, SockaddrsOfEveryFamily) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(5432);
  inet_pton(AF_INET, "169.254.169.254", &in.sin_addr);
  AddressInfo info = ClassifySockaddr(reinterpret_cast<sockaddr*>(&in), sizeof in);
  EXPECT_EQ(info.kind, AddressClass::kLinkLocal);
  EXPECT_EQ(info.text, "169.254.169.254");

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
  info = ClassifySockaddr(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
  EXPECT_EQ(info.kind, AddressClass::kLoopback);
  EXPECT_EQ(info.text, "::ffff:127.0.0.1");
  inet_pton(AF_INET6, "2606:4700:4700::1111", &in6.sin6_addr);
  EXPECT_EQ(ClassifySockaddr(reinterpret_cast<sockaddr*>(&in6), sizeof in6).kind,
            AddressClass::kPublic);

  // Too short for its family, another family, or none: never public.
  inet_pton(AF_INET, "8.8.8.8", &in.sin_addr);
  EXPECT_EQ(ClassifySockaddr(reinterpret_cast<sockaddr*>(&in), sizeof in).kind,
            AddressClass::kPublic);
  EXPECT_EQ(ClassifySockaddr(reinterpret_cast<sockaddr*>(&in), sizeof in - 1).kind,
            AddressClass::kReserved);
  EXPECT_EQ(ClassifySockaddr(reinterpret_cast<sockaddr*>(&in6), sizeof(sockaddr_in)).kind,
            AddressClass::kReserved);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/tmp/.s.PGSQL.5432");
  info = ClassifySockaddr(reinterpret_cast<sockaddr*>(&un), sizeof un);
  EXPECT_EQ(info.kind, AddressClass::kReserved);
  EXPECT_EQ(info.text, "");
  EXPECT_EQ(ClassifySockaddr(nullptr, 0).kind, AddressClass::kReserved);
}

TEST(AddressClass, SentencesForMessages) {
  EXPECT_EQ(DescribeAddress(*ClassifyAddressText("127.0.0.1")), "127.0.0.1 is in 127.0.0.0/8.");
  EXPECT_EQ(DescribeAddress(*ClassifyAddressText("::ffff:169.254.169.254")),
            "::ffff:169.254.169.254 is the IPv4-mapped form of 169.254.169.254, which is in "
            "169.254.0.0/16.");
  EXPECT_EQ(DescribeAddress(*ClassifyAddressText("4000::1")),
            "4000::1 is outside 2000::/3, the global unicast range.");
  EXPECT_EQ(DescribeAddress(*ClassifyAddressText("8.8.8.8")), "8.8.8.8 is public.");
  EXPECT_EQ(DescribeAddress(*ClassifyAddressText("64:ff9b::808:808")),
            "64:ff9b::808:808 is the NAT64 form of 8.8.8.8, which is public.");
  EXPECT_EQ(DescribeAddress(AddressInfo{}), "The address is not an IPv4 or IPv6 address.");
  for (AddressClass kind : {kPublic, kLoopback, kPrivate, kLinkLocal, kUnspecified, kMulticast,
                            kReserved}) {
    EXPECT_STRNE(AddressClassName(kind), "");
  }
  EXPECT_STREQ(AddressClassName(kLinkLocal), "link-local");
}

}  // namespace
}  // namespace pgpipe::core
