// What kind of place an IP address is: public, or one of the special-purpose ranges a server must
// not be talked into reaching for someone else (loopback, the private networks, link-local with
// the cloud metadata service at 169.254.169.254, ...). The check of FetchOptions'
// public_addresses_only (address_guard.hpp) asks this about every address libcurl connects to.
//
// IPv4: the IANA special-purpose registry's ranges that are not globally reachable, plus
// multicast. IPv6: anything outside global unicast 2000::/3 is not public, and inside it the
// documentation, IETF-protocol and similar ranges are not either. IPv6 forms that carry an IPv4
// address (IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, IPv4-compatible ::/96,
// NAT64 64:ff9b::/96, 6to4 2002::/16) are what their IPv4 address is, so ::ffff:127.0.0.1 is
// loopback and 64:ff9b::8.8.8.8 public.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

struct sockaddr;

namespace pgpipe::core {

enum class AddressClass {
  kPublic,
  kLoopback,     // 127.0.0.0/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7, fec0::/10, ...
  kLinkLocal,    // 169.254/16, fe80::/10
  kUnspecified,  // 0.0.0.0/8, :: (connecting to them reaches this host)
  kMulticast,    // 224/4, ff00::/8
  kReserved,     // documentation, benchmarking, IETF protocol, 240/4, broadcast, not an IP address
};

// An address, classified.
struct AddressInfo {
  AddressClass kind = AddressClass::kReserved;
  std::string text;   // as inet_ntop writes it: "127.0.0.1", "::ffff:127.0.0.1"; "" if not IP
  std::string range;  // the range that decides the class ("127.0.0.0/8"); "" when public
  std::string form;   // for an IPv6 address carrying an IPv4 one: "IPv4-mapped", "NAT64", ...
  std::string ipv4;   // ... and that IPv4 address
};

// "public", "loopback", "private", "link-local", "unspecified", "multicast" or "reserved".
const char* AddressClassName(AddressClass kind);

// Classifies an IPv4 address given as its 4 bytes in network order.
AddressInfo ClassifyIpv4(const unsigned char bytes[4]);

// Classifies an IPv6 address given as its 16 bytes in network order.
AddressInfo ClassifyIpv6(const unsigned char bytes[16]);

// Classifies a socket address: AF_INET and AF_INET6 by their address; any other family, or a
// length too short for its family, is kReserved with text "" (never public).
AddressInfo ClassifySockaddr(const sockaddr* addr, size_t length);

// Classifies an address written in its standard form (inet_pton: dotted quad or IPv6 text, as
// libcurl reports a connection's address); nullopt when it is neither.
std::optional<AddressInfo> ClassifyAddressText(const std::string& text);

// One sentence on why an address has its class: "127.0.0.1 is in 127.0.0.0/8." or
// "::ffff:127.0.0.1 is the IPv4-mapped form of 127.0.0.1, which is in 127.0.0.0/8."
std::string DescribeAddress(const AddressInfo& info);

}  // namespace pgpipe::core
