// An in-process HTTP/1.1 server on 127.0.0.1 (ephemeral port) for the fetch tests, with canned
// misbehaviours: serve bytes (whole or in pieces), a status, a trickle, a stall, a reset
// (RST via SO_LINGER 0), a lying Content-Length, redirects, and an empty reply; handlers may
// read further requests on a kept-alive connection (NextRequest). Plus the data
// helpers those tests share: a generated CSV and gzip (single- or multi-member).
// Every connection gets its own thread and "Connection: close"; the tests never touch the network.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pgpipe::test {

// One accepted connection, as a handler sees it.
class Connection {
 public:
  Connection(int fd, std::string path, const std::atomic<bool>& stopping,
             std::atomic<int64_t>& body_bytes_sent)
      : fd_(fd), path_(std::move(path)), stopping_(stopping), body_bytes_sent_(body_bytes_sent) {}

  // The request path, query included.
  const std::string& Path() const { return path_; }

  // Sends bytes, waiting while the client does not read (the server stopping ends the wait);
  // false once the client is gone or the server stops.
  bool Send(const char* data, size_t n, bool is_body = true) {
    while (n > 0) {
      pollfd pfd{fd_, POLLOUT, 0};
      int ready = poll(&pfd, 1, 50);
      if (stopping_.load()) return false;
      if (ready <= 0) continue;
      ssize_t sent = send(fd_, data, n, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return false;
      }
      if (is_body) body_bytes_sent_.fetch_add(sent);
      data += sent;
      n -= static_cast<size_t>(sent);
    }
    return true;
  }
  // Sends a string as body bytes.
  bool Send(const std::string& s) { return Send(s.data(), s.size()); }

  // Sends a status line and headers; content_length < 0 omits Content-Length (the body then
  // ends when the connection closes).
  bool SendHead(int status, const std::string& reason, int64_t content_length,
                const std::string& extra_headers = {}) {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
    if (content_length >= 0) head += "Content-Length: " + std::to_string(content_length) + "\r\n";
    head += "Connection: close\r\n" + extra_headers + "\r\n";
    return Send(head.data(), head.size(), false);
  }

  // Reads the next request head on this connection (keep-alive); false when the client closes
  // or the server stops first.
  bool NextRequest() {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      if (stopping_.load()) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      ssize_t got = recv(fd_, buf, sizeof buf, 0);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return false;
      if (got > 0) request.append(buf, static_cast<size_t>(got));
    }
    return true;
  }

  // Waits until the client closes the connection or the server stops.
  void WaitForClose() {
    char buf[512];
    while (!stopping_.load()) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      ssize_t got = recv(fd_, buf, sizeof buf, 0);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return;
    }
  }

  // Sleeps for ms milliseconds unless the server stops first; false if it stopped.
  bool Sleep(int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      if (stopping_.load()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 5)));
    }
    return !stopping_.load();
  }

  // Makes the close an abortive one (RST instead of FIN).
  void ArmReset() {
    linger lin{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
  }

 private:
  int fd_;
  std::string path_;
  const std::atomic<bool>& stopping_;
  std::atomic<int64_t>& body_bytes_sent_;
};

// The server. Routes map a path (query ignored) to a handler; unknown paths get a 404.
class LoopbackHttpServer {
 public:
  using Handler = std::function<void(Connection&)>;

  // Binds 127.0.0.1:0 and starts accepting.
  LoopbackHttpServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("loopback server: bind/listen failed");
    }
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  // Stops accepting, releases every handler, and joins all threads.
  ~LoopbackHttpServer() {
    stopping_.store(true);
    acceptor_.join();
    close(listen_fd_);
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      workers.swap(workers_);
    }
    for (std::thread& t : workers) t.join();
  }

  // Installs the handler for a path.
  void Route(const std::string& path, Handler handler) {
    std::lock_guard<std::mutex> lock(mutex_);
    routes_[path] = std::move(handler);
  }

  // The base URL "http://127.0.0.1:PORT" followed by path.
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int Port() const { return port_; }

  // How many requests a path has received.
  int Requests(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    return hits_[path];
  }
  // Connections accepted so far.
  int Connections() const { return connections_.load(); }
  // Body bytes the kernel accepted from all handlers so far.
  int64_t BodyBytesSent() const { return body_bytes_sent_.load(); }

  // --- canned behaviours ---------------------------------------------------------------------

  // 200 with Content-Length (or none: close-delimited), the body sent in pieces of piece bytes.
  static Handler Serve(std::string body, size_t piece = 0, bool content_length = true) {
    return [body = std::move(body), piece, content_length](Connection& c) {
      if (!c.SendHead(200, "OK", content_length ? static_cast<int64_t>(body.size()) : -1,
                      "Content-Type: text/csv\r\n"))
        return;
      size_t step = piece == 0 ? body.size() : piece;
      for (size_t off = 0; off < body.size(); off += step) {
        if (!c.Send(body.data() + off, std::min(step, body.size() - off))) return;
      }
    };
  }

  // A status with a small body.
  static Handler Status(int status, std::string reason, std::string body) {
    return [=](Connection& c) {
      if (c.SendHead(status, reason, static_cast<int64_t>(body.size()))) c.Send(body);
    };
  }

  // A status with a small body and extra header lines (each "Name: value\r\n").
  static Handler StatusWithHeaders(int status, std::string reason, std::string body,
                                   std::string headers) {
    return [=](Connection& c) {
      if (c.SendHead(status, reason, static_cast<int64_t>(body.size()), headers)) c.Send(body);
    };
  }

  // A gzip stream that never ends: a gzip header, then deflated zeros for as long as the client
  // reads (about 1000:1, so inflating it has no end either).
  static Handler EndlessGzip() {
    return [](Connection& c) {
      if (!c.SendHead(200, "OK", -1, "Content-Type: application/gzip\r\n")) return;
      z_stream strm{};
      if (deflateInit2(&strm, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return;
      std::string zeros(1 << 20, '\0');
      std::string out(1 << 16, '\0');
      bool open = true;
      while (open) {
        strm.next_in = reinterpret_cast<Bytef*>(zeros.data());
        strm.avail_in = static_cast<uInt>(zeros.size());
        do {
          strm.next_out = reinterpret_cast<Bytef*>(out.data());
          strm.avail_out = static_cast<uInt>(out.size());
          deflate(&strm, Z_NO_FLUSH);
          size_t produced = out.size() - strm.avail_out;
          if (produced > 0 && !c.Send(out.data(), produced)) open = false;
        } while (open && strm.avail_in > 0);
      }
      deflateEnd(&strm);
    };
  }

  // The body bytes_per_step at a time, every delay_ms.
  static Handler Trickle(std::string body, size_t bytes_per_step, int delay_ms) {
    return [=](Connection& c) {
      if (!c.SendHead(200, "OK", static_cast<int64_t>(body.size()))) return;
      for (size_t off = 0; off < body.size(); off += bytes_per_step) {
        if (!c.Send(body.data() + off, std::min(bytes_per_step, body.size() - off))) return;
        if (!c.Sleep(delay_ms)) return;
      }
    };
  }

  // Announces the whole body, sends its first n bytes, then goes silent until the client leaves.
  static Handler StallAfter(std::string body, size_t n) {
    return [=](Connection& c) {
      if (!c.SendHead(200, "OK", static_cast<int64_t>(body.size()))) return;
      if (n > 0 && !c.Send(body.data(), n)) return;
      c.WaitForClose();
    };
  }

  // Announces the whole body, sends its first n bytes, lets the client read them, then resets.
  static Handler ResetAfter(std::string body, size_t n) {
    return [=](Connection& c) {
      if (!c.SendHead(200, "OK", static_cast<int64_t>(body.size()))) return;
      if (!c.Send(body.data(), n)) return;
      c.Sleep(200);
      c.ArmReset();
    };
  }

  // Claims claimed bytes, sends the (shorter) body, then closes normally.
  static Handler LyingLength(std::string body, int64_t claimed) {
    return [=](Connection& c) {
      if (c.SendHead(200, "OK", claimed)) c.Send(body);
    };
  }

  // A redirect to location (absolute or relative), with a small body.
  static Handler Redirect(int status, std::string location) {
    return [=](Connection& c) {
      std::string body = "moved to " + location;
      if (c.SendHead(status, "Moved", static_cast<int64_t>(body.size()),
                     "Location: " + location + "\r\n"))
        c.Send(body);
    };
  }

  // Closes the connection without any response.
  static Handler EmptyReply() {
    return [](Connection&) {};
  }

 private:
  // Accepts connections until stopping, one thread each.
  void AcceptLoop() {
    while (!stopping_.load()) {
      pollfd pfd{listen_fd_, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) continue;
      connections_.fetch_add(1);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard<std::mutex> lock(mutex_);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  // Reads the request head, runs the route's handler, closes.
  void Serve(int fd) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && !stopping_.load()) {
      pollfd pfd{fd, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      ssize_t got = recv(fd, buf, sizeof buf, 0);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) break;
      if (got > 0) request.append(buf, static_cast<size_t>(got));
    }
    size_t sp1 = request.find(' ');
    size_t sp2 = sp1 == std::string::npos ? sp1 : request.find(' ', sp1 + 1);
    if (sp2 != std::string::npos) {
      std::string target = request.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string path = target.substr(0, target.find('?'));
      Handler handler;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++hits_[path];
        auto it = routes_.find(path);
        handler = it != routes_.end() ? it->second : Status(404, "Not Found", "no such file");
      }
      Connection conn(fd, target, stopping_, body_bytes_sent_);
      handler(conn);
    }
    close(fd);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> body_bytes_sent_{0};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::map<std::string, Handler> routes_;
  std::map<std::string, int> hits_;
  std::vector<std::thread> workers_;
};

// --- data helpers ---------------------------------------------------------------------------

// A deterministic taxi-like CSV of about `bytes` bytes (whole lines, header first).
inline std::string GenerateCsv(size_t bytes, uint32_t seed = 1) {
  std::string out = "VendorID,tpep_pickup_datetime,passenger_count,trip_distance,fare_amount\n";
  out.reserve(bytes + 128);
  uint32_t x = seed;
  char line[128];
  for (long row = 0; out.size() < bytes; ++row) {
    x = x * 1664525u + 1013904223u;
    int n = std::snprintf(line, sizeof line, "%u,2021-01-%02u %02u:%02u:%02u,%u,%u.%02u,%u.%02u\n",
                          1 + (x >> 31), 1 + (x >> 8) % 28, (x >> 3) % 24, (x >> 13) % 60,
                          (x >> 19) % 60, (x >> 5) % 7, (x >> 11) % 30, (x >> 17) % 100,
                          3 + (x >> 7) % 80, (x >> 21) % 100);
    out.append(line, static_cast<size_t>(n));
  }
  return out;
}

// One gzip member holding data.
inline std::string Gzip(const std::string& data, int level = 6) {
  z_stream strm{};
  if (deflateInit2(&strm, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&strm, data.size()), '\0');
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  strm.avail_in = static_cast<uInt>(data.size());
  strm.next_out = reinterpret_cast<Bytef*>(out.data());
  strm.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&strm, Z_FINISH);
  deflateEnd(&strm);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(strm.total_out);
  return out;
}

// Concatenated gzip members, one per part (what `cat a.gz b.gz` makes).
inline std::string GzipMembers(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += Gzip(part);
  return out;
}

}  // namespace pgpipe::test
