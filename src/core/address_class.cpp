// Address classification: see address_class.hpp. Two tables of ranges, searched first match
// wins (so 255.255.255.255/32 is named before 240.0.0.0/4 holds it), and the IPv6 forms that
// carry an IPv4 address unwrapped before the IPv6 table is consulted.
#include "core/address_class.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "core/pg_free.hpp"

namespace pgpipe::core {
namespace {

// An IPv4 range: the first address, the prefix length, and what it holds.
struct Ipv4Range {
  uint32_t base;
  int bits;
  AddressClass kind;
  const char* text;
};

// An IPv4 address as a number, from its four parts.
constexpr uint32_t V4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// The IANA IPv4 special-purpose ranges that are not globally reachable, and multicast.
constexpr Ipv4Range kIpv4Ranges[] = {
    {V4(0, 0, 0, 0), 8, AddressClass::kUnspecified, "0.0.0.0/8"},         // "this network"
    {V4(10, 0, 0, 0), 8, AddressClass::kPrivate, "10.0.0.0/8"},
    {V4(100, 64, 0, 0), 10, AddressClass::kPrivate, "100.64.0.0/10"},     // shared (CGNAT)
    {V4(127, 0, 0, 0), 8, AddressClass::kLoopback, "127.0.0.0/8"},
    {V4(169, 254, 0, 0), 16, AddressClass::kLinkLocal, "169.254.0.0/16"},  // cloud metadata
    {V4(172, 16, 0, 0), 12, AddressClass::kPrivate, "172.16.0.0/12"},
    {V4(192, 0, 0, 0), 24, AddressClass::kReserved, "192.0.0.0/24"},      // IETF protocols
    {V4(192, 0, 2, 0), 24, AddressClass::kReserved, "192.0.2.0/24"},      // TEST-NET-1
    {V4(192, 88, 99, 0), 24, AddressClass::kReserved, "192.88.99.0/24"},  // 6to4 relay anycast
    {V4(192, 168, 0, 0), 16, AddressClass::kPrivate, "192.168.0.0/16"},
    {V4(198, 18, 0, 0), 15, AddressClass::kReserved, "198.18.0.0/15"},    // benchmarking
    {V4(198, 51, 100, 0), 24, AddressClass::kReserved, "198.51.100.0/24"},  // TEST-NET-2
    {V4(203, 0, 113, 0), 24, AddressClass::kReserved, "203.0.113.0/24"},  // TEST-NET-3
    {V4(224, 0, 0, 0), 4, AddressClass::kMulticast, "224.0.0.0/4"},
    {V4(255, 255, 255, 255), 32, AddressClass::kReserved, "255.255.255.255/32"},  // broadcast
    {V4(240, 0, 0, 0), 4, AddressClass::kReserved, "240.0.0.0/4"},
};

// An IPv6 range: its leading bytes (the rest zero), the prefix length, and what it holds.
struct Ipv6Range {
  unsigned char base[16];
  int bits;
  AddressClass kind;
  const char* text;
};

// The IPv6 ranges that are not public, apart from the IPv4-carrying forms (CarriedIpv4) and
// the exact :: and ::1. Whatever none of them holds is public inside 2000::/3, reserved outside.
const Ipv6Range kIpv6Ranges[] = {
    // NAT64 for local use (RFC 8215)
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, AddressClass::kPrivate, "64:ff9b:1::/48"},
    {{0x01, 0x00}, 64, AddressClass::kReserved, "100::/64"},                     // discard-only
    {{0x20, 0x01, 0x0d, 0xb8}, 32, AddressClass::kReserved, "2001:db8::/32"},   // documentation
    {{0x20, 0x01}, 23, AddressClass::kReserved, "2001::/23"},       // IETF protocols, Teredo
    {{0x3f, 0xff}, 20, AddressClass::kReserved, "3fff::/20"},                    // documentation
    {{0xfc}, 7, AddressClass::kPrivate, "fc00::/7"},                             // unique local
    {{0xfe, 0x80}, 10, AddressClass::kLinkLocal, "fe80::/10"},
    {{0xfe, 0xc0}, 10, AddressClass::kPrivate, "fec0::/10"},                     // site-local
    {{0xff}, 8, AddressClass::kMulticast, "ff00::/8"},
};

// True when the first `bits` bits of a and b agree.
bool SamePrefix(const unsigned char* a, const unsigned char* b, int bits) {
  int whole = bits / 8;
  if (std::memcmp(a, b, static_cast<size_t>(whole)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  unsigned mask = (0xffu << (8 - rest)) & 0xffu;
  return (a[whole] & mask) == (b[whole] & mask);
}

// inet_ntop of an address of family af.
std::string AddressText(int af, const void* bytes) {
  char buf[INET6_ADDRSTRLEN] = {0};
  return inet_ntop(af, bytes, buf, sizeof buf) != nullptr ? std::string(buf) : std::string();
}

// For the IPv6 forms that carry an IPv4 address, the form's name and where the 4 bytes are;
// nullptr for any other address. :: and ::1 are not IPv4-compatible forms (they are themselves).
const char* CarriedIpv4(const unsigned char b[16], const unsigned char** ipv4) {
  static const unsigned char kZero[12] = {0};
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char kTranslated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
  static const unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  *ipv4 = b + 12;
  if (std::memcmp(b, kMapped, 12) == 0) return "IPv4-mapped";           // ::ffff:0:0/96
  if (std::memcmp(b, kTranslated, 12) == 0) return "IPv4-translated";   // ::ffff:0:0:0/96
  if (std::memcmp(b, kNat64, 12) == 0) return "NAT64";                  // 64:ff9b::/96
  if (std::memcmp(b, kZero, 12) == 0) {                                 // ::/96
    if ((b[12] | b[13] | b[14]) != 0 || b[15] > 1) return "IPv4-compatible";
  }
  if (b[0] == 0x20 && b[1] == 0x02) {  // 2002::/16: 6to4, the IPv4 address in bits 16-47
    *ipv4 = b + 2;
    return "6to4";
  }
  return nullptr;
}

}  // namespace

// The names used in messages.
const char* AddressClassName(AddressClass kind) {
  switch (kind) {
    case AddressClass::kPublic: return "public";
    case AddressClass::kLoopback: return "loopback";
    case AddressClass::kPrivate: return "private";
    case AddressClass::kLinkLocal: return "link-local";
    case AddressClass::kUnspecified: return "unspecified";
    case AddressClass::kMulticast: return "multicast";
    case AddressClass::kReserved: return "reserved";
  }
  return "reserved";
}

// The first range of the table that holds the address, else public.
AddressInfo ClassifyIpv4(const unsigned char bytes[4]) {
  AddressInfo info;
  info.text = AddressText(AF_INET, bytes);
  uint32_t a = (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
               (uint32_t{bytes[2]} << 8) | bytes[3];
  for (const Ipv4Range& r : kIpv4Ranges) {
    uint32_t mask = r.bits == 0 ? 0 : ~uint32_t{0} << (32 - r.bits);
    if ((a & mask) == r.base) {
      info.kind = r.kind;
      info.range = r.text;
      return info;
    }
  }
  info.kind = AddressClass::kPublic;
  return info;
}

// The exact ::, ::1, then the IPv4-carrying forms by their IPv4 address, then the table, then
// global unicast or not.
AddressInfo ClassifyIpv6(const unsigned char bytes[16]) {
  static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char kUnspecified[16] = {0};
  static const unsigned char kGlobalUnicast[1] = {0x20};
  AddressInfo info;
  info.text = AddressText(AF_INET6, bytes);
  if (std::memcmp(bytes, kUnspecified, 16) == 0) {
    info.kind = AddressClass::kUnspecified;
    info.range = "::/128";
    return info;
  }
  if (std::memcmp(bytes, kLoopback, 16) == 0) {
    info.kind = AddressClass::kLoopback;
    info.range = "::1/128";
    return info;
  }
  const unsigned char* ipv4 = nullptr;
  if (const char* form = CarriedIpv4(bytes, &ipv4)) {
    AddressInfo inner = ClassifyIpv4(ipv4);
    info.kind = inner.kind;
    info.range = inner.range;
    info.form = form;
    info.ipv4 = inner.text;
    return info;
  }
  for (const Ipv6Range& r : kIpv6Ranges) {
    if (SamePrefix(bytes, r.base, r.bits)) {
      info.kind = r.kind;
      info.range = r.text;
      return info;
    }
  }
  if (!SamePrefix(bytes, kGlobalUnicast, 3)) {
    info.kind = AddressClass::kReserved;
    return info;  // range "": DescribeAddress says it is outside 2000::/3
  }
  info.kind = AddressClass::kPublic;
  return info;
}

// Reads the address out of a sockaddr_in or sockaddr_in6 that is long enough.
AddressInfo ClassifySockaddr(const sockaddr* addr, size_t length) {
  if (addr != nullptr && length >= sizeof(sockaddr_in) && addr->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, addr, sizeof in);
    return ClassifyIpv4(reinterpret_cast<const unsigned char*>(&in.sin_addr.s_addr));
  }
  if (addr != nullptr && length >= sizeof(sockaddr_in6) && addr->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, addr, sizeof in6);
    return ClassifyIpv6(in6.sin6_addr.s6_addr);
  }
  return AddressInfo{};  // kReserved, text ""
}

// inet_pton as IPv4, then as IPv6.
std::optional<AddressInfo> ClassifyAddressText(const std::string& text) {
  unsigned char bytes[16];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) return ClassifyIpv4(bytes);
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) return ClassifyIpv6(bytes);
  return std::nullopt;
}

// The sentence for a detail line.
std::string DescribeAddress(const AddressInfo& info) {
  if (info.text.empty()) return "The address is not an IPv4 or IPv6 address.";
  if (info.kind == AddressClass::kPublic && info.form.empty()) return info.text + " is public.";
  std::string where = info.range.empty()
                          ? std::string(info.kind == AddressClass::kPublic
                                            ? "is public"
                                            : "is outside 2000::/3, the global unicast range")
                          : "is in " + info.range;
  if (!info.form.empty()) {
    return info.text + " is the " + info.form + " form of " + info.ipv4 + ", which " + where + ".";
  }
  return info.text + " " + where + ".";
}

}  // namespace pgpipe::core
