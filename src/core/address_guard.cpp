// AddressGuard: see address_guard.hpp. The callbacks run inside libcurl and must not throw: they
// classify (which allocates a few strings; an allocation failure refuses), record, and answer.
#include "core/address_guard.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <utility>

#include "core/pg_free.hpp"

namespace pgpipe::core {

// A guard that classifies for real.
AddressGuard::AddressGuard() : AddressGuard(ClassifySockaddr) {}

// A guard with a stand-in classifier (tests).
AddressGuard::AddressGuard(Classifier classify) : classify_(std::move(classify)) {}

// The callbacks, their data, and no proxy.
void AddressGuard::Install(CURL* easy) {
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &AddressGuard::OpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &AddressGuard::BeforeRequest);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, this);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
}

// Public: true. Otherwise the first refusal is kept for the message.
bool AddressGuard::Admit(const AddressInfo& info) {
  if (info.kind == AddressClass::kPublic) return true;
  if (!refused_) refused_ = info;
  return false;
}

// Classifies the address libcurl is about to connect to, and creates the socket only for a
// public one (as libcurl would: socket(2) with its family, type and protocol).
curl_socket_t AddressGuard::OpenSocket(void* self, curlsocktype, curl_sockaddr* address) {
  auto* guard = static_cast<AddressGuard*>(self);
  try {
    if (!guard->Admit(guard->classify_(&address->addr, address->addrlen))) return CURL_SOCKET_BAD;
  } catch (...) {
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// Classifies the peer of the connection a request is about to go out on (libcurl gives it as
// text: made back into a sockaddr so the one classifier decides both checks).
int AddressGuard::BeforeRequest(void* self, char* primary_ip, char*, int primary_port, int) {
  auto* guard = static_cast<AddressGuard*>(self);
  try {
    sockaddr_in in{};
    sockaddr_in6 in6{};
    AddressInfo info;  // kReserved: not an IP address, refused
    if (primary_ip != nullptr && inet_pton(AF_INET, primary_ip, &in.sin_addr) == 1) {
      in.sin_family = AF_INET;
      in.sin_port = htons(static_cast<uint16_t>(primary_port));
      info = guard->classify_(reinterpret_cast<const sockaddr*>(&in), sizeof in);
    } else if (primary_ip != nullptr && inet_pton(AF_INET6, primary_ip, &in6.sin6_addr) == 1) {
      in6.sin6_family = AF_INET6;
      in6.sin6_port = htons(static_cast<uint16_t>(primary_port));
      info = guard->classify_(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
    } else if (primary_ip != nullptr) {
      info.text = primary_ip;  // named as libcurl gave it; still refused
    }
    return guard->Admit(info) ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
  } catch (...) {
    return CURL_PREREQFUNC_ABORT;
  }
}

// "refused to connect to ADDRESS for WHAT: a non-public address (CLASS)".
Error AddressGuard::RefusalError(const std::string& what, const std::string& context) const {
  AddressInfo info = refused_.value_or(AddressInfo{});
  std::string address = info.text.empty() ? "a socket that is not IPv4 or IPv6" : info.text;
  Error e(sqlstate::kInsufficientPrivilege,
          "refused to connect to " + address + " for " + what + ": a non-public address (" +
              AddressClassName(info.kind) + ")",
          DescribeAddress(info) +
              " Only public addresses may be fetched unless pipeline.allowed_url_prefixes allows "
              "the URL.",
          "A superuser can allow this URL by listing a prefix of it in "
          "pipeline.allowed_url_prefixes.",
          context);
  e.SetRetry(RetryClass::kPermanent);
  return e;
}

}  // namespace pgpipe::core
