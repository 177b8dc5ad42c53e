// The check behind FetchOptions::public_addresses_only: a libcurl easy handle guarded by an
// AddressGuard connects to public addresses only (address_class.hpp). The check is made on the
// address libcurl is about to connect to, after name resolution, so no spelling of a host (a name
// that resolves to 127.0.0.1, 2130706433, 0x7f.1, [::ffff:127.0.0.1]) gets past it:
//   - CURLOPT_OPENSOCKETFUNCTION sees every address libcurl tries, for every hop and every
//     connection, before the socket exists; a refused one gets no socket (CURL_SOCKET_BAD), so
//     not even a SYN reaches it, and libcurl goes on to the host's next address, if any.
//   - CURLOPT_PREREQFUNCTION sees the peer of every request just before it is sent, reused
//     connections included, and aborts it if that peer is not public: a second check that does
//     not depend on every connection in libcurl's cache having come through the first.
//   - Proxies are switched off (CURLOPT_PROXY ""): through a proxy, the only address libcurl
//     connects to is the proxy's, and the proxy would reach the target on our behalf unchecked.
// The guard remembers the first address it refused; the owner turns a failed transfer into
// RefusalError when there is one, instead of libcurl's "couldn't connect".
#pragma once

#include <curl/curl.h>

#include <functional>
#include <optional>
#include <string>

#include "core/address_class.hpp"
#include "core/error.hpp"

namespace pgpipe::core {

class AddressGuard {
 public:
  // How addresses are classified: ClassifySockaddr for real; tests substitute their own to
  // stand a loopback server in for a public one.
  using Classifier = std::function<AddressInfo(const sockaddr* addr, size_t length)>;

  AddressGuard();
  explicit AddressGuard(Classifier classify);
  AddressGuard(const AddressGuard&) = delete;
  AddressGuard& operator=(const AddressGuard&) = delete;

  // Installs the two callbacks on `easy` and switches its proxies off. The guard must outlive
  // every transfer of `easy`; its callbacks run on the thread that drives the transfer.
  void Install(CURL* easy);
  // Forgets what was refused (before each hop, so a refusal names the hop's own address).
  void Clear() { refused_.reset(); }
  // The first address refused since Clear, if any.
  const std::optional<AddressInfo>& Refused() const { return refused_; }

  // The error for the refused address while fetching `what` (a quoted, redacted URL, or
  // 'webhook "..."'): 42501, permanent for retries, with a detail saying why the address is not
  // public, a hint naming pipeline.allowed_url_prefixes, and `context` as its context line.
  // Only when Refused() has a value.
  Error RefusalError(const std::string& what, const std::string& context = {}) const;

 private:
  // CURLOPT_OPENSOCKETFUNCTION: a socket for a public address, CURL_SOCKET_BAD otherwise.
  static curl_socket_t OpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address);
  // CURLOPT_PREREQFUNCTION: aborts a request whose connection's peer is not public.
  static int BeforeRequest(void* self, char* primary_ip, char* local_ip, int primary_port,
                           int local_port);
  // Records a refusal (the first one wins) and returns false, or returns true for public.
  bool Admit(const AddressInfo& info);

  Classifier classify_;
  std::optional<AddressInfo> refused_;
};

}  // namespace pgpipe::core
