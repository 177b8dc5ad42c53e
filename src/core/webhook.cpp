// Webhook delivery: see webhook.hpp. Blocking libcurl easy call with every timeout bounded; the
// caller (a run worker finishing a run) has nothing else to do meanwhile.
#include "core/webhook.hpp"

#include <curl/curl.h>

#include <memory>

#include "core/address_guard.hpp"
#include "core/error.hpp"
#include "core/request_url.hpp"
#include "core/url.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {

// Checks and normalises the URL, then posts to that normal form, through the address guard
// when asked.
void PostJson(const std::string& url, const std::string& json, long timeout_ms,
              const std::vector<std::string>& allowed_prefixes, bool public_addresses_only) {
  const std::string target = CheckedRequestUrl(url, allowed_prefixes, "webhook URL");
  AddressGuard guard;  // before the handle, so it outlives it
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error(sqlstate::kInternalError, "could not start libcurl");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"), curl_slist_free_all);
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, target.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  // The URL was normalised once: libcurl must send that path as is, not squash it again.
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "pg_pipeline/0.1");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void*) { return size * n; });
  if (public_addresses_only) guard.Install(h);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  // No answer and a refused address: the refusal is why.
  if (rc != CURLE_OK && status == 0 && guard.Refused())
    throw guard.RefusalError("webhook \"" + RedactUrl(target) + "\"");
  if (rc != CURLE_OK)
    throw Error(sqlstate::kConnectionFailure,
                "could not post to webhook \"" + RedactUrl(target) + "\": " + curl_easy_strerror(rc));
  if (status < 200 || status >= 300)
    throw Error(sqlstate::kConnectionException,
                "webhook \"" + RedactUrl(target) + "\" answered HTTP " + std::to_string(status));
}

// No prefixes: any http(s) URL.
void PostJson(const std::string& url, const std::string& json, long timeout_ms) {
  PostJson(url, json, timeout_ms, {});
}

}  // namespace pgpipe::core
