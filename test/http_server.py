#!/usr/bin/env python3
"""Local HTTP/1.1 test server with fault injection, for pg_pipeline's loader
tests and benchmarks.  Standard library only; binds 127.0.0.1 only.

Usage:
  python3 test/http_server.py --root DIR [--port 0] [--port-file FILE]
      [--pid-file FILE] [--max-seconds 3600] [--verbose]

  --port 0 picks a free port.  Once listening, the port is written to
  --port-file (tmp file + rename, so readers never see a partial number).
  The server exits by itself after --max-seconds, or on SIGTERM/SIGINT, and
  then removes its port and pid files.  Logs go to stderr only with --verbose.

Routes (PATH is a file under --root; "..", absolute paths and symlinks out of
the root give 404).  Every response has Content-Length (except where the fault
is the point) and Content-Type: application/octet-stream; HEAD works on every
route and sends the GET headers without a body.

  GET /files/PATH                the file; "Range: bytes=A-B" / "bytes=A-"
                                 answers 206 (one range), 416 when unsatisfiable
  GET /status/CODE               status CODE (200-599) with a short body
  GET /flaky/KEY/N/PATH          the first N requests for KEY answer 500, the
                                 later ones serve the file
  GET /retry-after/KEY/N/S/PATH  the first N requests for KEY answer 503 with
                                 "Retry-After: S", the later ones serve the file
  GET /big-headers/KB/PATH       the file, with one extra response header of KB
                                 kilobytes (capped at 1024)
  GET /counter/KEY               number of /flaky requests (GET or HEAD) seen
  POST /hook/KEY                 stores the request body (webhook tests); GET /hook/KEY returns it
                                 for KEY, as text, e.g. "3\n"
  GET /trickle/PATH?bps=B        full Content-Length, body at B bytes/s (default
                                 16384) in pieces of ~B/10 bytes; gives up after
                                 300 s
  GET /stall/PATH?after=N[&hold=S]  full Content-Length, N bytes (default 0),
                                 then nothing; holds the connection S seconds
                                 (default and cap 120) or until the client
                                 closes, then closes
  GET /reset/PATH?after=N        full Content-Length, N bytes (default 0), then
                                 a TCP RST (SO_LINGER on, 0 s, close); stall and
                                 reset first wait (at most 2 s) until the kernel
                                 has sent the N bytes
  GET /truncate/PATH?keep=F      the first fraction F (default 0.5) of the file,
                                 with a Content-Length of what is sent
  GET /corrupt/PATH?at=N         the file with a 64-byte window starting at
                                 byte N (default: the middle) xor 0xFF; correct
                                 Content-Length
  GET /lying-length/PATH         Content-Length = file size + 1000, the file,
                                 then the connection is closed
  GET /redirect/N/PATH           302 to /redirect/N-1/PATH ... the last one to
                                 /files/PATH: N redirects in all (N=0 serves
                                 the file); N is capped at 1000
  GET /redirect-loop             302 to itself, forever
  GET /redirect-to?url=U         302 to U, verbatim (e.g. file:///etc/passwd);
                                 percent-encode U if it has "&", "+" or "#"
  GET /auth/PATH                 401 (WWW-Authenticate: Basic) unless the
                                 Authorization header is exactly
                                 "Basic dXNlcjpzZWNyZXQ=" (user:secret)
  GET /health                    200 "ok"
  anything else                  404

Redirect Location headers are absolute: http://<Host header>/...
"""

import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import termios
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUTH_OK = "Basic dXNlcjpzZWNyZXQ="
WINDOW = 64
STALL_CAP = 120.0
TRICKLE_CAP = 300.0
DRAIN_CAP = 2.0
COPY_CHUNK = 1 << 20

_counts = {}
_counts_lock = threading.Lock()


def _bump(key):
    with _counts_lock:
        _counts[key] = _counts.get(key, 0) + 1
        return _counts[key]


_hooks = {}  # webhook bodies by key (POST /hook/KEY)


def _count(key):
    with _counts_lock:
        return _counts.get(key, 0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pg_pipeline-test-http/1"
    timeout = 300  # idle keep-alive connections are dropped after this
    verbose = False

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    # ---- helpers -------------------------------------------------------

    def _headers(self, code, length, extra=None, close=False):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _simple(self, code, text, extra=None):
        body = text.encode()
        self._headers(code, len(body), extra)
        if not self.head and code not in (204, 304):
            self.wfile.write(body)

    def _not_found(self):
        self._simple(404, "not found\n")

    def _resolve(self, rel):
        """The real path of rel under the root, or None."""
        rel = urllib.parse.unquote(rel)
        if not rel or rel.startswith("/") or "\0" in rel:
            return None
        root = self.server.root
        full = os.path.realpath(os.path.join(root, rel))
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return None
        return full

    def _send_range(self, f, offset, count):
        """Send count bytes of f from offset with sendfile (zero copy)."""
        if count <= 0:
            return
        self.connection.sendfile(f, offset, count)

    def _drain(self):
        """Wait (bounded) until the kernel has sent what we wrote, so the
        client really gets the bytes before a stall or reset."""
        deadline = time.monotonic() + DRAIN_CAP
        buf = struct.pack("i", 0)
        while time.monotonic() < deadline:
            try:
                left = struct.unpack("i", fcntl.ioctl(self.connection.fileno(),
                                                      termios.TIOCOUTQ, buf))[0]
            except OSError:
                return
            if left == 0:
                return
            time.sleep(0.005)

    def _file(self, full, more_headers=None):
        """Serve a whole file (or one Range of it), with more_headers if given."""
        size = os.path.getsize(full)
        start, end, code, extra = 0, size, 200, {"Accept-Ranges": "bytes"}
        extra.update(more_headers or {})
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and "," not in rng:
            a, _, b = rng[6:].strip().partition("-")
            try:
                if a == "":
                    start, end = max(0, size - int(b)), size
                else:
                    start = int(a)
                    end = min(size, int(b) + 1) if b else size
            except ValueError:
                start, end = 0, size
            else:
                if start >= size or start >= end:
                    self._simple(416, "range not satisfiable\n",
                                 {"Content-Range": "bytes */%d" % size})
                    return
                code = 206
                extra["Content-Range"] = "bytes %d-%d/%d" % (start, end - 1, size)
        self._headers(code, end - start, extra)
        if not self.head:
            with open(full, "rb") as f:
                self._send_range(f, start, end - start)

    # ---- dispatch ------------------------------------------------------

    def do_HEAD(self):
        self.head = True
        self._dispatch()

    def do_GET(self):
        self.head = False
        self._dispatch()

    def do_POST(self):
        """POST /hook/KEY stores the body (a webhook call); GET /hook/KEY returns the last one."""
        self.head = False
        parts = urllib.parse.urlsplit(self.path).path.lstrip("/").split("/", 1)
        length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        body = self.rfile.read(length)
        if parts[0] != "hook" or len(parts) < 2 or not parts[1]:
            return self._not_found()
        with _counts_lock:
            _hooks[urllib.parse.unquote(parts[1])] = body
        self._simple(204, "")

    def _dispatch(self):
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError, socket.timeout, TimeoutError):
            self.close_connection = True

    def _route(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        parts = u.path.lstrip("/").split("/", 1)
        head, rest = parts[0], (parts[1] if len(parts) > 1 else "")

        if head == "health" and not rest:
            return self._simple(200, "ok")
        if head == "files":
            full = self._resolve(rest)
            return self._file(full) if full else self._not_found()
        if head == "status":
            try:
                code = int(rest)
            except ValueError:
                return self._not_found()
            if not 200 <= code <= 599:
                return self._simple(400, "status must be 200-599\n")
            return self._simple(code, "status %d\n" % code)
        if head == "hook" and rest:
            with _counts_lock:
                body = _hooks.get(urllib.parse.unquote(rest))
            if body is None:
                return self._not_found()
            self._headers(200, len(body))
            if not self.head:
                self.wfile.write(body)
            return None
        if head == "counter" and rest:
            return self._simple(200, "%d\n" % _count(urllib.parse.unquote(rest)))
        if head == "flaky":
            bits = rest.split("/", 2)
            if len(bits) < 3 or not bits[1].isdigit():
                return self._not_found()
            key, n = urllib.parse.unquote(bits[0]), int(bits[1])
            seen = _bump(key)
            if seen <= n:
                return self._simple(500, "flaky %s: failure %d of %d\n" % (key, seen, n))
            full = self._resolve(bits[2])
            return self._file(full) if full else self._not_found()
        if head == "retry-after":
            bits = rest.split("/", 3)
            if len(bits) < 4 or not bits[1].isdigit():
                return self._not_found()
            key, n = urllib.parse.unquote(bits[0]), int(bits[1])
            if _bump(key) <= n:
                return self._simple(503, "busy\n", {"Retry-After": bits[2]})
            full = self._resolve(bits[3])
            return self._file(full) if full else self._not_found()
        if head == "big-headers":
            bits = rest.split("/", 1)
            if len(bits) < 2 or not bits[0].isdigit():
                return self._not_found()
            full = self._resolve(bits[1])
            if not full:
                return self._not_found()
            return self._file(full, {"X-Padding": "x" * (min(int(bits[0]), 1024) * 1024)})
        if head == "redirect":
            bits = rest.split("/", 1)
            if len(bits) < 2 or not bits[0].isdigit():
                return self._not_found()
            n = min(int(bits[0]), 1000)
            if n == 0:
                full = self._resolve(bits[1])
                return self._file(full) if full else self._not_found()
            nxt = "/files/%s" % bits[1] if n == 1 else "/redirect/%d/%s" % (n - 1, bits[1])
            return self._redirect(nxt)
        if head == "redirect-loop" and not rest:
            return self._redirect("/redirect-loop")
        if head == "redirect-to" and not rest:
            if "url" not in q:
                return self._simple(400, "url= missing\n")
            return self._simple(302, "redirect\n", {"Location": q["url"]})
        if head == "auth":
            if self.headers.get("Authorization") != AUTH_OK:
                return self._simple(401, "unauthorized\n",
                                    {"WWW-Authenticate": 'Basic realm="pg_pipeline-test"'})
            full = self._resolve(rest)
            return self._file(full) if full else self._not_found()

        faults = {"trickle": self._trickle, "stall": self._stall, "reset": self._reset,
                  "truncate": self._truncate, "corrupt": self._corrupt,
                  "lying-length": self._lying}
        if head in faults:
            full = self._resolve(rest)
            if not full:
                return self._not_found()
            try:
                return faults[head](full, q)
            except ValueError:
                return self._simple(400, "bad query parameter\n")
        return self._not_found()

    def _redirect(self, path):
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        return self._simple(302, "redirect\n", {"Location": "http://%s%s" % (host, path)})

    # ---- faults --------------------------------------------------------

    def _trickle(self, full, q):
        bps = max(1, int(q.get("bps", 16384)))
        size = os.path.getsize(full)
        self._headers(200, size)
        if self.head:
            return
        piece = max(1, min(bps // 10, 65536))
        delay = piece / float(bps)
        deadline = time.monotonic() + TRICKLE_CAP
        with open(full, "rb") as f:
            while True:
                chunk = f.read(piece)
                if not chunk:
                    return
                self.wfile.write(chunk)
                if time.monotonic() + delay > deadline:
                    self.close_connection = True
                    return
                time.sleep(delay)

    def _partial_then(self, full, q):
        """Headers with the full length, then `after` bytes; returns False
        for HEAD (nothing more to do)."""
        size = os.path.getsize(full)
        after = min(size, max(0, int(q.get("after", 0))))
        self._headers(200, size, close=True)
        if self.head:
            return False
        with open(full, "rb") as f:
            self._send_range(f, 0, after)
        self._drain()
        return True

    def _stall(self, full, q):
        hold = min(STALL_CAP, max(0.0, float(q.get("hold", STALL_CAP))))
        if not self._partial_then(full, q):
            return
        deadline = time.monotonic() + hold
        sock = self.connection
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([sock], [], [], min(left, 1.0))
            if r:
                try:
                    if not sock.recv(65536):
                        return  # the client went away
                except OSError:
                    return

    def _reset(self, full, q):
        if not self._partial_then(full, q):
            return
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # close() would be deferred while rfile holds a reference and the
        # server's shutdown(SHUT_WR) would send a FIN first: detach the fd
        # and close it ourselves so the peer gets a bare RST.
        os.close(sock.detach())

    def _truncate(self, full, q):
        keep = float(q.get("keep", 0.5))
        if not 0.0 <= keep <= 1.0:
            raise ValueError(keep)
        n = int(os.path.getsize(full) * keep)
        self._headers(200, n)
        if not self.head:
            with open(full, "rb") as f:
                self._send_range(f, 0, n)

    def _corrupt(self, full, q):
        size = os.path.getsize(full)
        at = int(q["at"]) if "at" in q else size // 2
        at = min(max(0, at), size)
        end = min(size, at + WINDOW)
        self._headers(200, size)
        if self.head:
            return
        with open(full, "rb") as f:
            self._send_range(f, 0, at)
            f.seek(at)
            self.wfile.write(bytes(b ^ 0xFF for b in f.read(end - at)))
            self._send_range(f, end, size - end)

    def _lying(self, full, q):
        size = os.path.getsize(full)
        self._headers(200, size + 1000, close=True)
        if not self.head:
            with open(full, "rb") as f:
                self._send_range(f, 0, size)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    verbose = False

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def _write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--pid-file")
    ap.add_argument("--max-seconds", type=float, default=3600)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.root):
        ap.error("--root %s is not a directory" % a.root)

    Handler.verbose = Server.verbose = a.verbose
    httpd = Server(("127.0.0.1", a.port), Handler)
    httpd.root = os.path.realpath(a.root)
    port = httpd.server_address[1]

    def stop(*_):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(a.max_seconds, httpd.shutdown)
    timer.daemon = True
    timer.start()
    try:
        if a.pid_file:
            _write_atomic(a.pid_file, "%d\n" % os.getpid())
        if a.port_file:
            _write_atomic(a.port_file, "%d\n" % port)
        if a.verbose:
            sys.stderr.write("listening on 127.0.0.1:%d root %s\n" % (port, httpd.root))
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        for p in (a.port_file, a.pid_file):
            if p:
                try:
                    os.unlink(p)
                except OSError:
                    pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
