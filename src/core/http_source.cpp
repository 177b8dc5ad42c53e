// HttpSource: the producer thread that downloads with libcurl's multi interface, follows
// redirects itself, inflates gzip, and fills the ByteQueue the COPY callback reads from.
//
// The producer loop, per hop (one request; a redirect starts the next hop):
//   perform -> (write callback: classify the response on its first bytes; for a 2xx body count,
//   sniff gzip, inflate, cut into chunks, Push, which blocks while the queue is full) -> poll
//   (at most kPollMs, woken at once by Cancel; then the stall check) -> ... -> done: redirect,
//   HTTP error, transport error, or the clean end (Finish the inflater, flush, Close the queue).
// Redirect targets come from the Location header, resolved against the current URL with
// libcurl's URL parser (libcurl computes CURLINFO_REDIRECT_URL only for responses it read to the
// end, and we stop reading a redirect's body at once).
// The stall check is ours, not CURLOPT_LOW_SPEED_*: libcurl averages speed over ~5 s, so it
// reports a stall up to 5 s late, and it would count time the producer spends parked on a full
// queue (a slow consumer) as a stall. Ours measures bytes received over the last
// low_speed_time_s seconds of the hop and restarts the window whenever the queue held us.
// With public_addresses_only, an AddressGuard on the easy handle checks every connection of
// every hop (address_guard.hpp); a hop that failed without a response after it refused an
// address reports the refusal.
// Exceptions never cross libcurl: the write callback stores them and returns an error, and the
// loop rethrows them once curl reports the transfer done. Everything the thread throws ends up
// in the queue (Fail), where the consumer's Read rethrows it.
#include "core/http_source.hpp"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "core/address_guard.hpp"
#include "core/byte_queue.hpp"
#include "core/error.hpp"
#include "core/gzip_stream.hpp"
#include "core/http_status.hpp"
#include "core/request_url.hpp"
#include "core/url.hpp"
#include "core/pg_free.hpp"

namespace pgpipe::core {
namespace {

constexpr int kPollMs = 100;               // longest wait before re-checking cancel and stall
constexpr size_t kMaxHeaderBytes = 64 * 1024;      // all header lines of one hop
constexpr size_t kMaxHeaderLineBytes = 16 * 1024;  // one header line
constexpr size_t kErrorBodyBytes = 200;    // response body kept for an HTTP error's detail
constexpr long kCurlBufferBytes = 64 * 1024;

#ifndef CURL_WRITEFUNC_ERROR
#define CURL_WRITEFUNC_ERROR 0  // libcurl < 7.87: any count other than the one given stops
#endif

using Clock = std::chrono::steady_clock;

// Thrown inside the producer when the consumer aborted the queue; never reaches the consumer.
struct TransferAborted {};

// Initialises libcurl once per process, from the consumer thread (not thread-safe in 7.88).
void InitCurlOnce() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) {
    throw Error(sqlstate::kInternalError,
                std::string("could not initialize libcurl: ") + curl_easy_strerror(rc));
  }
}

// Makes untrusted response bytes safe for a message: valid UTF-8 kept, control characters and
// invalid bytes become '?', newlines and tabs become spaces, trailing blanks trimmed.
std::string SanitizeSnippet(const std::string& raw) {
  std::string out;
  size_t i = 0;
  while (i < raw.size()) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      if (c == '\n' || c == '\r' || c == '\t') out += ' ';
      else if (c < 0x20 || c == 0x7f) out += '?';
      else out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    bool valid = len > 0 && i + len <= raw.size() && c >= 0xc2 && c <= 0xf4;
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(raw[i + k]) & 0xc0) == 0x80;
    }
    if (valid) {
      out.append(raw, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Quotes a (redacted) URL for a message.
std::string Quoted(const std::string& redacted_url) { return "\"" + redacted_url + "\""; }

// A header line's value after "name:", blanks and line break trimmed.
std::string HeaderValue(const std::string& line, size_t name_length) {
  size_t begin = line.find_first_not_of(" \t", name_length);
  size_t end = line.find_last_not_of(" \t\r\n");
  return begin == std::string::npos || end < begin ? std::string()
                                                   : line.substr(begin, end - begin + 1);
}

}  // namespace

// All state of one source. The fields under "producer only" are touched by the producer
// thread alone once Start() has run; the rest is shared as marked.
struct HttpSource::Impl {
  // Set by the constructor, read-only afterwards.
  FetchOptions opts;
  std::string redacted_url;  // the original URL, redacted
  bool gzip_forced = false;
  bool sniff_gzip = false;

  ByteQueue queue;
  CURLM* multi = nullptr;  // created by Start(); curl_multi_wakeup is the only shared use
  std::thread thread;
  bool started = false;  // consumer only
  std::atomic<bool> cancelled{false};

  // Progress, written by the producer, read by Stats().
  std::atomic<int64_t> bytes_downloaded{0};
  std::atomic<int64_t> bytes_decompressed{0};
  std::atomic<long> http_status{0};
  std::atomic<int64_t> content_length{-1};
  std::atomic<int> redirects{0};
  mutable std::mutex url_mutex;
  std::string effective_url;  // redacted, under url_mutex
  std::optional<Error> failure;  // the terminal error, under url_mutex

  // Producer only: the hop being fetched.
  CURL* easy = nullptr;
  std::unique_ptr<AddressGuard> guard;  // with public_addresses_only: checks every connection
  std::string current_url;
  char errbuf[CURL_ERROR_SIZE] = {0};
  Clock::time_point started_at;
  enum class Kind { kUnknown, kBody, kDiscard, kErrorBody } kind = Kind::kUnknown;
  std::exception_ptr callback_error;
  std::string error_body;
  int64_t body_bytes = 0;
  std::string location;  // the Location header of the current response
  std::string retry_after;  // the Retry-After header of the current response
  size_t header_bytes = 0;  // header bytes of this hop, all responses (1xx included)
  int64_t wire_bytes = 0;  // header and body bytes received this hop, for the stall check
  std::deque<std::pair<Clock::time_point, int64_t>> speed_samples;  // (time, wire_bytes)

  // Producer only: the body pipeline of the final response.
  enum class Codec { kUndecided, kGzip, kNone } codec = Codec::kUndecided;
  std::string sniff;  // the first bytes, until gzip can be told
  std::unique_ptr<GzipInflater> inflater;
  std::string pending;  // the chunk being filled

  explicit Impl(FetchOptions o) : opts(std::move(o)), queue(opts.max_chunks) {}

  // --- messages ---------------------------------------------------------------------------

  // The redacted URL of the hop being fetched.
  std::string CurrentRedacted() const { return RedactUrl(current_url); }

  // The context line naming the original URL once redirected, else "".
  std::string RedirectContext() const {
    int hops = redirects.load();
    if (hops == 0) return {};
    return "after " + std::to_string(hops) + (hops == 1 ? " redirect" : " redirects") + " from " +
           Quoted(redacted_url);
  }

  // An error about the current URL, with a context line naming the original one if redirected.
  Error UrlError(const char* state, const std::string& message, const std::string& detail = {},
                 const std::string& hint = {}) const {
    return Error(state, message, detail, hint, RedirectContext());
  }

  // --- the consumer-side pieces -------------------------------------------------------------

  // The error Read throws after Cancel(): never worth retrying, the user asked to stop.
  Error CancelledError() const {
    Error e(sqlstate::kQueryCanceled, "transfer cancelled fetching " + Quoted(redacted_url));
    e.SetRetry(RetryClass::kPermanent);
    return e;
  }

  // Remembers the terminal error (the first one wins) for Failure().
  void RecordFailure(const Error& e) {
    std::lock_guard<std::mutex> lock(url_mutex);
    if (!failure) failure = e;
  }

  // Reports the producer's terminal error to the consumer, remembering it first.
  void FailWith(const Error& e) {
    RecordFailure(e);
    queue.Fail(std::make_exception_ptr(e));
  }

  // --- producer: setup and the loop ---------------------------------------------------------

  // The producer thread's body: runs the transfer and reports its outcome to the queue.
  void ThreadMain() noexcept {
    try {
      Run();
      if (!cancelled.load()) queue.Close();
    } catch (const TransferAborted&) {
      // The consumer aborted the queue: nobody is listening any more.
    } catch (const Error& e) {
      FailWith(e);
    } catch (const std::exception& e) {
      FailWith(Error(sqlstate::kInternalError,
                     std::string("unexpected error fetching ") + Quoted(redacted_url) + ": " +
                         e.what()));
    } catch (...) {
      FailWith(Error(sqlstate::kInternalError, "unexpected error fetching " + Quoted(redacted_url)));
    }
    if (easy != nullptr) {
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
      easy = nullptr;
    }
  }

  // Sets the options every hop shares.
  void SetupEasy() {
    easy = curl_easy_init();
    if (easy == nullptr) throw Error(sqlstate::kInternalError, "could not create a curl handle");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, opts.connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, opts.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, kCurlBufferBytes);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::WriteCallback);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Impl::HeaderCallback);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
    if (opts.public_addresses_only) {
      guard = opts.classify_address ? std::make_unique<AddressGuard>(opts.classify_address)
                                    : std::make_unique<AddressGuard>();
      guard->Install(easy);
    }
  }

  // Fetches hop after hop until the final response has been streamed or an error is thrown.
  void Run() {
    started_at = Clock::now();
    current_url = opts.url;
    SetupEasy();
    while (true) {
      BeginHop();
      CURLcode result = PerformHop();
      if (!FinishHop(result)) return;
    }
  }

  // Resets the per-response state and queues the request for the current URL.
  void BeginHop() {
    kind = Kind::kUnknown;
    callback_error = nullptr;
    error_body.clear();
    body_bytes = 0;
    location.clear();
    retry_after.clear();
    header_bytes = 0;
    wire_bytes = 0;
    RestartStallWindow();
    errbuf[0] = '\0';
    if (guard) guard->Clear();
    http_status.store(0);
    content_length.store(-1);
    {
      std::lock_guard<std::mutex> lock(url_mutex);
      effective_url = CurrentRedacted();
    }
    curl_easy_setopt(easy, CURLOPT_URL, current_url.c_str());
    if (opts.timeout_ms > 0) {
      long elapsed = static_cast<long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_at)
              .count());
      long remaining = opts.timeout_ms - elapsed;
      if (remaining <= 0) throw TimedOut();
      curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, remaining);
    }
    CURLMcode mc = curl_multi_add_handle(multi, easy);
    if (mc != CURLM_OK) {
      throw Error(sqlstate::kInternalError,
                  std::string("could not start the transfer: ") + curl_multi_strerror(mc));
    }
  }

  // Drives the multi handle until this hop is done (or cancelled); returns curl's result.
  CURLcode PerformHop() {
    while (true) {
      int running = 0;
      CURLMcode mc = curl_multi_perform(multi, &running);
      if (cancelled.load()) throw TransferAborted();
      if (mc != CURLM_OK) {
        throw Error(sqlstate::kInternalError,
                    std::string("curl_multi_perform failed: ") + curl_multi_strerror(mc));
      }
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
          CURLcode result = msg->data.result;
          curl_multi_remove_handle(multi, easy);
          return result;
        }
      }
      // About to wait: hand over a partial chunk if the consumer has nothing to read.
      if (!pending.empty() && queue.Size() == 0) PushPending();
      mc = curl_multi_poll(multi, nullptr, 0, kPollMs, nullptr);
      if (mc != CURLM_OK) {
        throw Error(sqlstate::kInternalError,
                    std::string("curl_multi_poll failed: ") + curl_multi_strerror(mc));
      }
      if (cancelled.load()) throw TransferAborted();
      CheckStall();
    }
  }

  // Starts a new observation window for the stall check.
  void RestartStallWindow() {
    speed_samples.clear();
    speed_samples.emplace_back(Clock::now(), wire_bytes);
  }

  // Throws the stall error when fewer than low_speed_limit * low_speed_time_s bytes arrived
  // during the last low_speed_time_s seconds.
  void CheckStall() {
    if (opts.low_speed_limit <= 0 || opts.low_speed_time_s <= 0) return;
    Clock::time_point now = Clock::now();
    if (now - speed_samples.back().first >= std::chrono::milliseconds(kPollMs)) {
      speed_samples.emplace_back(now, wire_bytes);
    }
    Clock::time_point horizon = now - std::chrono::seconds(opts.low_speed_time_s);
    while (speed_samples.size() >= 2 && speed_samples[1].first <= horizon) {
      speed_samples.pop_front();
    }
    if (speed_samples.front().first > horizon) return;  // not watched that long yet
    if (wire_bytes - speed_samples.front().second >= opts.low_speed_limit * opts.low_speed_time_s) {
      return;
    }
    throw UrlError(sqlstate::kConnectionFailure,
                   "transfer stalled: less than " + std::to_string(opts.low_speed_limit) +
                       " bytes/s for " + std::to_string(opts.low_speed_time_s) + " s fetching " +
                       Quoted(CurrentRedacted()))
        .SetRetry(RetryClass::kTransient);
  }

  // Acts on a finished hop: returns true to fetch the next hop (a redirect), false when the
  // data is complete; throws on any failure.
  bool FinishHop(CURLcode result) {
    if (cancelled.load()) throw TransferAborted();
    if (callback_error) std::rethrow_exception(callback_error);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    http_status.store(status);
    // No response and a refused address: the refusal is why (a refused host's other, public
    // address may have been tried and connected; then the transfer went on and this is moot).
    if (result != CURLE_OK && status == 0 && guard && guard->Refused()) throw Refused();
    if (kind == Kind::kUnknown) {
      curl_off_t length = -1;
      curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      content_length.store(static_cast<int64_t>(length));
    }
    // Once the status line says redirect or error, the body does not matter: a failure while
    // reading it (or our own early stop) does not hide the status.
    if (status >= 300 && status < 400) return FollowRedirect(status);
    if (status >= 400) throw HttpError(status);
    if (result != CURLE_OK) throw TransferError(result);
    if (status < 200) {
      throw UrlError(sqlstate::kConnectionException,
                     "unexpected HTTP status " + std::to_string(status) + " fetching " +
                         Quoted(CurrentRedacted()))
          .SetRetry(RetryClass::kPermanent);
    }
    if (IsNoContent(status)) throw NoContent(status);
    FinishBody();
    return false;
  }

  // A 2xx that delivers no file: 204 and 205 never have a body; any other 2xx but 200, 203 and
  // 206 (which mean "here is the content") that came without a byte is not an empty file either.
  bool IsNoContent(long status) const {
    if (status == 204 || status == 205) return true;
    return body_bytes == 0 && status != 200 && status != 203 && status != 206;
  }

  // The error for a 2xx without a file; 202 Accepted (being prepared) may be there later.
  Error NoContent(long status) const {
    std::string phrase = ReasonPhrase(status);
    Error e = UrlError(sqlstate::kConnectionException,
                       Quoted(CurrentRedacted()) + " answered HTTP " + std::to_string(status) +
                           (phrase.empty() ? "" : " (" + phrase + ")") +
                           ": there is no file to load");
    e.SetRetry(status == 202 ? RetryClass::kTransient : RetryClass::kPermanent,
               RetryAfterSeconds(retry_after));
    return e;
  }

  // --- producer: redirects and errors -------------------------------------------------------

  // Resolves the Location header against the current URL (it may be relative); "" if it does
  // not parse.
  std::string ResolveLocation() const {
    CURLU* h = curl_url();
    if (h == nullptr) throw Error(sqlstate::kInternalError, "out of memory parsing a URL");
    std::string resolved;
    unsigned int flags = CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE | CURLU_ALLOW_SPACE;
    char* out = nullptr;
    if (curl_url_set(h, CURLUPART_URL, current_url.c_str(), 0) == CURLUE_OK &&
        curl_url_set(h, CURLUPART_URL, location.c_str(), flags) == CURLUE_OK &&
        curl_url_get(h, CURLUPART_URL, &out, 0) == CURLUE_OK) {
      resolved = out;
    }
    curl_free(out);
    curl_url_cleanup(h);
    return resolved;
  }

  // Checks a 3xx's target (scheme, prefix, count) and makes it the next hop.
  bool FollowRedirect(long status) {
    if (location.empty()) {
      std::string phrase = ReasonPhrase(status);
      throw UrlError(sqlstate::kConnectionException,
                     "HTTP " + std::to_string(status) +
                         (phrase.empty() ? "" : " (" + phrase + ")") + " fetching " +
                         Quoted(CurrentRedacted()),
                     "The response is a redirect without a Location header.")
          .SetRetry(RetryClass::kPermanent);
    }
    std::string target = ResolveLocation();
    if (target.empty()) {
      throw UrlError(sqlstate::kConnectionException,
                     "redirect to " + Quoted(RedactUrl(location)) + " refused: invalid URL")
          .SetRetry(RetryClass::kPermanent);
    }
    UrlCheck check = CheckRequestUrl(target, opts.allowed_prefixes);
    const std::string refused = "redirect to " + Quoted(RedactUrl(target)) + " refused: ";
    switch (check.verdict) {
      case UrlVerdict::kOk:
        break;
      case UrlVerdict::kEmpty:
      case UrlVerdict::kInvalid:
        throw UrlError(sqlstate::kConnectionException, refused + "invalid URL")
            .SetRetry(RetryClass::kPermanent);
      case UrlVerdict::kUnsupportedScheme:
        throw UrlError(sqlstate::kInsufficientPrivilege,
                       refused + "only http and https URLs may be fetched");
      case UrlVerdict::kEncodedDot:
        throw UrlError(sqlstate::kInsufficientPrivilege, refused + "it has an encoded dot segment");
      case UrlVerdict::kNotAllowed:
        throw UrlError(sqlstate::kInsufficientPrivilege,
                       refused + "it matches none of the allowed URL prefixes");
    }
    target = check.url;
    if (redirects.load() >= opts.max_redirects) {
      throw Error(sqlstate::kConnectionException,
                  "too many redirects (more than " + std::to_string(opts.max_redirects) +
                      ") fetching " + Quoted(redacted_url),
                  "The last redirect pointed to " + Quoted(RedactUrl(target)) + ".")
          .SetRetry(RetryClass::kPermanent);
    }
    redirects.fetch_add(1);
    current_url = target;
    return true;
  }

  // The error for a response with status >= 400, with the start of its body as detail.
  Error HttpError(long status) const {
    std::string phrase = ReasonPhrase(status);
    std::string snippet = SanitizeSnippet(error_body);
    Error e = UrlError(sqlstate::kConnectionException,
                       "HTTP " + std::to_string(status) +
                           (phrase.empty() ? "" : " (" + phrase + ")") + " fetching " +
                           Quoted(CurrentRedacted()),
                       snippet.empty() ? std::string() : "The response body begins: " + snippet);
    e.SetRetry(StatusRetryClass(status), RetryAfterSeconds(retry_after));
    return e;
  }

  // The error for a connection the guard refused, with the redirect context of UrlError.
  Error Refused() const {
    return guard->RefusalError(Quoted(CurrentRedacted()), RedirectContext());
  }

  // The error for the whole-transfer timeout.
  Error TimedOut() const {
    Error e = UrlError(sqlstate::kConnectionFailure,
                       "transfer timed out after " + std::to_string(opts.timeout_ms) +
                           " ms fetching " + Quoted(CurrentRedacted()));
    e.SetRetry(RetryClass::kTransient);
    return e;
  }

  // Maps a libcurl failure to the message a user can act on.
  Error TransferError(CURLcode result) const {
    std::string url = Quoted(CurrentRedacted());
    std::string curl_message = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(result);
    if (result == CURLE_OPERATION_TIMEDOUT && opts.timeout_ms > 0 &&
        curl_message.find("Operation timed out") != std::string::npos) {
      return TimedOut();
    }
    // libcurl refuses a header line over its own 100 KB limit before our callback sees it,
    // and says "out of memory".
    if (result == CURLE_OUT_OF_MEMORY && kind == Kind::kUnknown)
      return HeadersTooLarge("a header line longer than libcurl accepts (" + curl_message + ")");
    Error e = [&] {
      if ((result == CURLE_PARTIAL_FILE || result == CURLE_RECV_ERROR) && http_status.load() > 0) {
        int64_t expected = content_length.load();
        std::string of = expected >= 0 ? " of " + std::to_string(expected) : std::string();
        return UrlError(sqlstate::kConnectionFailure,
                        "connection closed after " + std::to_string(body_bytes) + of +
                            " bytes fetching " + url,
                        "libcurl: " + curl_message + ".");
      }
      return UrlError(sqlstate::kConnectionFailure, "could not fetch " + url + ": " + curl_message);
    }();
    e.SetRetry(CurlRetryClass(result));
    return e;
  }

  // The error for response headers over our limits; `what` says which limit.
  Error HeadersTooLarge(const std::string& what) const {
    Error e = UrlError(sqlstate::kProgramLimitExceeded,
                       "response headers too large fetching " + Quoted(CurrentRedacted()) + ": " +
                           what);
    e.SetRetry(RetryClass::kPermanent);
    return e;
  }

  // --- producer: the body pipeline ----------------------------------------------------------

  // libcurl's write callback: classifies the response on its first bytes, then routes them.
  static size_t WriteCallback(char* data, size_t size, size_t nmemb, void* self_ptr) {
    auto* self = static_cast<Impl*>(self_ptr);
    size_t n = size * nmemb;
    try {
      return self->OnBytes(data, n);
    } catch (...) {
      self->callback_error = std::current_exception();
      return CURL_WRITEFUNC_ERROR;
    }
  }

  // libcurl's header callback (one call per complete line): keeps the Location and
  // Retry-After of the current response, and stops a response whose headers are too large.
  static size_t HeaderCallback(char* data, size_t size, size_t nmemb, void* self_ptr) {
    auto* self = static_cast<Impl*>(self_ptr);
    size_t n = size * nmemb;
    self->wire_bytes += static_cast<int64_t>(n);
    try {
      self->header_bytes += n;
      if (n > kMaxHeaderLineBytes)
        throw self->HeadersTooLarge("a header line of " + std::to_string(n) +
                                    " bytes (the limit is " + std::to_string(kMaxHeaderLineBytes) +
                                    ")");
      if (self->header_bytes > kMaxHeaderBytes)
        throw self->HeadersTooLarge("more than " + std::to_string(kMaxHeaderBytes) +
                                    " bytes of headers");
      std::string line(data, n);
      if (line.compare(0, 5, "HTTP/") == 0) {
        self->location.clear();  // a new response (after a 1xx) starts
        self->retry_after.clear();
      } else if (line.size() > 9 && strncasecmp(line.c_str(), "location:", 9) == 0) {
        self->location = HeaderValue(line, 9);
      } else if (line.size() > 12 && strncasecmp(line.c_str(), "retry-after:", 12) == 0) {
        self->retry_after = HeaderValue(line, 12);
      }
    } catch (...) {
      self->callback_error = std::current_exception();
      return CURL_WRITEFUNC_ERROR;
    }
    return n;
  }

  // Handles n bytes of the current response's body; returns n to go on, or an error value to
  // stop the response.
  size_t OnBytes(const char* data, size_t n) {
    if (cancelled.load()) throw TransferAborted();
    wire_bytes += static_cast<int64_t>(n);
    if (kind == Kind::kUnknown) ClassifyResponse();
    if (kind == Kind::kDiscard) return CURL_WRITEFUNC_ERROR;  // a redirect's body: not needed
    if (kind == Kind::kErrorBody) {
      error_body.append(data, std::min(n, kErrorBodyBytes - error_body.size()));
      // Enough for the detail: stop; FinishHop reports the status whatever curl says.
      return error_body.size() < kErrorBodyBytes ? n : CURL_WRITEFUNC_ERROR;
    }
    body_bytes += static_cast<int64_t>(n);
    bytes_downloaded.fetch_add(static_cast<int64_t>(n));
    if (opts.max_bytes > 0 && body_bytes > opts.max_bytes) throw TooLarge();
    Decode(data, n);
    return n;
  }

  // Reads the status and length of the response whose body starts now.
  void ClassifyResponse() {
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t length = -1;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    http_status.store(status);
    content_length.store(static_cast<int64_t>(length));
    if (status >= 300 && status < 400) {
      kind = Kind::kDiscard;
    } else if (status >= 400 || status < 200) {
      kind = Kind::kErrorBody;
    } else {
      kind = Kind::kBody;
      if (opts.max_bytes > 0 && length > opts.max_bytes) throw TooLarge();
    }
  }

  // The error for a body over max_bytes.
  Error TooLarge() const {
    Error e = UrlError(sqlstate::kProgramLimitExceeded,
                       "download exceeds max_bytes (" + std::to_string(opts.max_bytes) +
                           " bytes) fetching " + Quoted(CurrentRedacted()),
                       {}, "Raise max_bytes if the file is expected to be this large.");
    e.SetRetry(RetryClass::kPermanent);
    return e;
  }

  // The error for output over max_decompressed_bytes, naming both sizes.
  Error InflatesTooMuch() const {
    const std::string cap = std::to_string(opts.max_decompressed_bytes);
    std::string message =
        codec == Codec::kGzip
            ? "download inflates to more than " + cap + " bytes (max_decompressed_bytes) from " +
                  std::to_string(inflater->CompressedBytes()) + " compressed bytes fetching " +
                  Quoted(CurrentRedacted())
            : "download exceeds max_decompressed_bytes (" + cap + " bytes) fetching " +
                  Quoted(CurrentRedacted());
    Error e = UrlError(sqlstate::kProgramLimitExceeded, message, {},
                       "Raise max_decompressed_bytes if the file is expected to be this large.");
    e.SetRetry(RetryClass::kPermanent);
    return e;
  }

  // Decides gzip or not (from the first two bytes when compression is auto), then inflates or
  // passes the bytes through.
  void Decode(const char* data, size_t n) {
    if (codec == Codec::kUndecided) {
      if (!sniff_gzip) {
        SetCodec(gzip_forced ? Codec::kGzip : Codec::kNone);
      } else {
        size_t take = std::min(n, size_t{2} - sniff.size());
        sniff.append(data, take);
        data += take;
        n -= take;
        if (sniff.size() < 2) return;
        SetCodec(LooksGzip(reinterpret_cast<const unsigned char*>(sniff.data()), 2)
                     ? Codec::kGzip
                     : Codec::kNone);
        std::string head;
        head.swap(sniff);
        Decode(head.data(), head.size());
      }
    }
    if (n == 0) return;
    if (codec == Codec::kNone) {
      Append(data, n);
      return;
    }
    try {
      inflater->Feed(data, n, [this](const char* out, size_t len) { Append(out, len); });
    } catch (const Error& e) {
      // The inflater's own errors (22P04) do not name the URL; ours from Append already do.
      if (e.sqlstate() != sqlstate::kBadCopyFileFormat) throw;
      throw e.WithContext("fetching " + Quoted(CurrentRedacted()));
    }
  }

  // Fixes the codec of the body.
  void SetCodec(Codec c) {
    codec = c;
    if (c == Codec::kGzip) inflater = std::make_unique<GzipInflater>(64 * 1024);
  }

  // Copies output into the chunk being filled, queuing each full chunk; stops at once when the
  // output goes over max_decompressed_bytes (inside the inflater's sink, mid-chunk).
  void Append(const char* data, size_t n) {
    if (opts.max_decompressed_bytes > 0 &&
        bytes_decompressed.load() + static_cast<int64_t>(n) > opts.max_decompressed_bytes)
      throw InflatesTooMuch();
    bytes_decompressed.fetch_add(static_cast<int64_t>(n));
    while (n > 0) {
      if (pending.capacity() < opts.chunk_bytes) pending.reserve(opts.chunk_bytes);
      size_t take = std::min(n, opts.chunk_bytes - pending.size());
      pending.append(data, take);
      data += take;
      n -= take;
      if (pending.size() == opts.chunk_bytes) PushPending();
    }
  }

  // Queues the chunk being filled (blocking while the queue is full).
  void PushPending() {
    if (pending.empty()) return;
    std::string chunk;
    chunk.swap(pending);
    bool waited = false;
    if (!queue.Push(std::move(chunk), &waited)) throw TransferAborted();
    if (waited) RestartStallWindow();  // a slow consumer is not a stalled server
  }

  // Ends the body: a short body settles the codec, the inflater checks for truncation, and
  // the last partial chunk is queued.
  void FinishBody() {
    if (codec == Codec::kUndecided) {
      SetCodec(gzip_forced ? Codec::kGzip : Codec::kNone);
      std::string head;
      head.swap(sniff);
      Decode(head.data(), head.size());
    }
    if (codec == Codec::kGzip) {
      try {
        inflater->Finish();
      } catch (const Error& e) {
        throw e.WithContext("fetching " + Quoted(CurrentRedacted()));
      }
    }
    PushPending();
  }
};

// Checks everything that can be checked without I/O.
HttpSource::HttpSource(FetchOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {
  Impl& s = *impl_;
  s.redacted_url = RedactUrl(s.opts.url);
  // Check and fetch the same URL: libcurl's normal form (request_url.hpp), so
  // "allowed/../elsewhere" cannot slip past a prefix.
  s.opts.url = CheckedRequestUrl(s.opts.url, s.opts.allowed_prefixes);
  if (s.opts.compression == "gzip") {
    s.gzip_forced = true;
  } else if (s.opts.compression == "auto") {
    s.sniff_gzip = true;
  } else if (s.opts.compression != "none") {
    throw Error(sqlstate::kInvalidParameterValue,
                "unknown compression " + Quoted(s.opts.compression), {},
                "Use auto, gzip or none.");
  }
  if (s.opts.chunk_bytes == 0 || s.opts.max_chunks == 0) {
    throw Error(sqlstate::kInvalidParameterValue, "chunk_bytes and max_chunks must be positive");
  }
  if (s.opts.connect_timeout_ms < 0 || s.opts.low_speed_limit < 0 ||
      s.opts.low_speed_time_s < 0 || s.opts.timeout_ms < 0 || s.opts.max_redirects < 0 ||
      s.opts.max_bytes < 0 || s.opts.max_decompressed_bytes < 0) {
    throw Error(sqlstate::kInvalidParameterValue, "fetch limits must not be negative");
  }
  std::lock_guard<std::mutex> lock(s.url_mutex);
  s.effective_url = s.redacted_url;
}

// Cancels, joins the producer, then frees the curl handles; swallows everything.
HttpSource::~HttpSource() {
  Stop();
  if (impl_->multi != nullptr) curl_multi_cleanup(impl_->multi);
}

// Creates the multi handle (so Cancel can wake it), then the thread with all signals blocked,
// so no Postgres signal handler ever runs on it.
void HttpSource::Start() {
  Impl& s = *impl_;
  if (s.started) throw Error(sqlstate::kInternalError, "HttpSource::Start called twice");
  s.started = true;
  if (s.cancelled.load()) return;
  InitCurlOnce();
  s.multi = curl_multi_init();
  if (s.multi == nullptr) throw Error(sqlstate::kInternalError, "could not create a curl handle");
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  try {
    s.thread = std::thread([&s] { s.ThreadMain(); });
  } catch (const std::exception& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw Error(sqlstate::kInternalError,
                std::string("could not start the fetch thread: ") + e.what());
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_setname_np(s.thread.native_handle(), "pgpipe fetch");  // for top -H, gdb, /proc
}

// Takes what the queue has, or reports the end, the error, or the cancel.
int HttpSource::Read(char* buf, int max) {
  Impl& s = *impl_;
  if (s.cancelled.load()) {
    s.RecordFailure(s.CancelledError());
    throw s.CancelledError();
  }
  if (!s.started) throw Error(sqlstate::kInternalError, "HttpSource::Read called before Start");
  if (max <= 0) {
    throw Error(sqlstate::kInternalError, "HttpSource::Read needs a positive buffer size");
  }
  size_t n = 0;
  ByteQueue::ReadStatus status = s.queue.Read(buf, static_cast<size_t>(max), &n);
  if (s.cancelled.load()) {
    s.RecordFailure(s.CancelledError());
    throw s.CancelledError();
  }
  switch (status) {
    case ByteQueue::ReadStatus::kData: return static_cast<int>(n);
    case ByteQueue::ReadStatus::kEnd: return 0;
    case ByteQueue::ReadStatus::kWouldBlock: break;
  }
  return kWouldBlock;
}

// The queue's eventfd.
int HttpSource::ReadyFd() const { return impl_->queue.ReadyFd(); }

// Flags the cancel, releases a producer blocked on the queue, and wakes curl_multi_poll.
void HttpSource::Cancel() {
  Impl& s = *impl_;
  s.cancelled.store(true);
  s.queue.Abort();
  if (s.multi != nullptr) curl_multi_wakeup(s.multi);
}

// Cancels, then joins the producer (it returns promptly once cancelled).
void HttpSource::Stop() {
  Cancel();
  if (impl_->thread.joinable()) impl_->thread.join();
}

// Copies the progress counters.
FetchStats HttpSource::Stats() const {
  const Impl& s = *impl_;
  FetchStats stats;
  stats.bytes_downloaded = s.bytes_downloaded.load();
  stats.bytes_decompressed = s.bytes_decompressed.load();
  stats.http_status = s.http_status.load();
  stats.content_length = s.content_length.load();
  stats.redirects = s.redirects.load();
  std::lock_guard<std::mutex> lock(s.url_mutex);
  stats.effective_url = s.effective_url;
  return stats;
}

// The recorded terminal error.
std::optional<Error> HttpSource::Failure() const {
  std::lock_guard<std::mutex> lock(impl_->url_mutex);
  return impl_->failure;
}

}  // namespace pgpipe::core
