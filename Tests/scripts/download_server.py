#!/usr/bin/env python3
"""A file server for the http-download tests and benchmark (standard library only).

    download_server.py serve ROOT --port-file F [--log F] [--watch DIR --watch-log F [--watch-hidden]]
    download_server.py make-zips OUTDIR --count N [--big K]

`serve` serves ROOT on 127.0.0.1 (an ephemeral port, written to --port-file once listening):

* `/files/NAME`: the file, with a strong `ETag`, `Last-Modified`, `Accept-Ranges: bytes`;
  `If-None-Match` / `If-Modified-Since` give 304; `Range: bytes=N-` (with a matching
  `If-Range`, or none) gives 206.
* `/cut/NAME`: the same, but the first request for a whole NAME is sent slowly and the
  connection is closed after half of the body; later requests are served normally.
* `/stall/NAME`: the same, but the first request for a whole NAME sends half of the body and
  then holds the connection open without sending more (until the client goes away).
* `/missing/...`: 404.
* `/redirect?to=URL`: 302 to URL (any scheme, absolute or relative).
* `/claim/NAME?length=N&send=M`: 200 with `Content-Length: N`, then M zero bytes (default 0),
  then the connection is closed: a server that claims more than it has.
* `/stream/NAME?bytes=N`: 200 without `Content-Length` (chunked), N zero bytes as fast as the
  client takes them: a body whose size is known only once it has all arrived.
* `/slow/NAME?length=N&every=S`: 200 with `Content-Length: N`, then one byte every S seconds
  (default 0.1) until the client goes away: a transfer that never stalls long enough to time
  out and never ends.

--log gets one JSON line per request: method, path, status, the body bytes sent, the Range
asked. --watch polls DIR every millisecond and writes one JSON line to --watch-log per file
version seen under a name not starting with '.': its name, size and sha256 (what a watcher
downstream could have read at that moment). With --watch-hidden, names starting with '.' (a
partial download) are recorded too, with their size only (no sha256).

`make-zips` writes OUTDIR/sales-NN.zip (NN from 00): zip i holds data.csv with the rows
a,i  a,2i  b,10+i (so group a sums to 3i and b to 10+i); with --big K, zip K also holds 2 MB
of incompressible filler (to be cut halfway).
"""
import hashlib
import http.server
import io
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.parse
import zipfile
from email.utils import formatdate, parsedate_to_datetime


def make_zips(out, count, big):
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("data.csv", "category,amount\na,%d\na,%d\nb,%d\n" % (i, 2 * i, 10 + i))
            if i == big:
                z.writestr("filler.bin", random.Random(i).randbytes(2 << 20), compress_type=zipfile.ZIP_STORED)
        with open(os.path.join(out, "sales-%02d.zip" % i), "wb") as f:
            f.write(buf.getvalue())


class State:
    lock = threading.Lock()
    cut_done = set()
    log = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate sends: without this, delayed ACKs add ~40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def record(self, status, sent):
        if State.log:
            with State.lock:
                State.log.write(json.dumps({"method": self.command, "path": self.path, "status": status, "bytes": sent,
                                            "range": self.headers.get("Range")}) + "\n")
                State.log.flush()

    def answer(self, status, headers=(), body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(status, len(body))

    def query(self):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))

    def head(self, status, headers):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self):
        parts = self.path.split("?")[0].split("/", 2)
        kind = parts[1] if len(parts) > 1 else ""
        if kind in ("redirect", "claim", "stream", "slow"):
            return self.made_up(kind)
        if len(parts) < 3 or parts[1] not in ("files", "cut", "stall"):
            return self.answer(404, body=b"not found\n")
        kind, name = parts[1], parts[2]
        path = os.path.join(self.root, name)
        if "/" in name or not os.path.isfile(path):
            return self.answer(404, body=b"not found\n")
        st = os.stat(path)
        etag = '"%x-%x"' % (st.st_size, st.st_mtime_ns)
        modified = formatdate(st.st_mtime, usegmt=True)
        common = [("ETag", etag), ("Last-Modified", modified), ("Accept-Ranges", "bytes")]
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if inm is not None:
            if etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
                return self.answer(304, common)
        elif ims is not None:
            try:
                if int(st.st_mtime) <= parsedate_to_datetime(ims).timestamp():
                    return self.answer(304, common)
            except (TypeError, ValueError):
                pass
        size = st.st_size
        start = 0
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-") and (if_range is None or if_range in (etag, modified)):
            try:
                start = int(rng[6:-1])
            except ValueError:
                start = 0
            if not 0 < start < size:
                start = 0
        if start:
            return self.send_file(path, 206, common + [("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))], start, size)
        if kind in ("cut", "stall"):
            with open(path, "rb") as f:
                data = f.read()
            with State.lock:
                first = name not in State.cut_done
                State.cut_done.add(name)
            if first:
                self.send_response(200)
                for k, v in common:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                half = len(data) // 2
                step = max(1, half // 8)
                for i in range(0, half, step):
                    self.wfile.write(data[i:min(i + step, half)])
                    self.wfile.flush()
                    time.sleep(0.02)
                self.record(200, half)
                if kind == "stall":
                    # Hold on until the client is gone (a write then fails) or a minute passes.
                    for _ in range(600):
                        time.sleep(0.1)
                        try:
                            self.connection.send(b"")
                        except OSError:
                            break
                self.close_connection = True
                self.connection.shutdown(2)
                return
        return self.send_file(path, 200, common, 0, size)

    def made_up(self, kind):
        """The routes whose answers are made up from their query, not read from ROOT."""
        q = self.query()
        sent = 0
        try:
            if kind == "redirect":
                return self.answer(302, [("Location", q.get("to", "/"))])
            if kind == "claim":
                length, send = int(q.get("length", "0")), int(q.get("send", "0"))
                self.head(200, [("Content-Length", str(length))])
                while sent < send:
                    n = min(1 << 16, send - sent)
                    self.wfile.write(bytes(n))
                    sent += n
                self.wfile.flush()
            elif kind == "stream":
                total = int(q.get("bytes", "0"))
                self.head(200, [("Transfer-Encoding", "chunked")])
                while sent < total:
                    n = min(1 << 16, total - sent)
                    self.wfile.write(b"%x\r\n" % n + bytes(n) + b"\r\n")
                    sent += n
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                self.record(200, sent)
                return
            elif kind == "slow":
                length, every = int(q.get("length", "1000")), float(q.get("every", "0.1"))
                self.head(200, [("Content-Length", str(length))])
                while sent < length - 1:
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    sent += 1
                    time.sleep(every)
        except OSError:
            pass  # the client went away
        self.record(200, sent)
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def send_file(self, path, status, headers, start, size):
        """Sends bytes start..size of the file with sendfile (a 1 GiB file is never read into memory)."""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        sent = 0
        with open(path, "rb") as f:
            try:
                sent = self.connection.sendfile(f, start, size - start)
            except OSError:
                self.close_connection = True
        self.record(status, sent)


def watch(folder, out, hidden):
    seen = {}
    with open(out, "a") as log:
        while True:
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                entries = []
            for e in entries:
                if e.name.startswith(".") and not hidden:
                    continue
                try:
                    st = e.stat()
                    key = (st.st_size, st.st_mtime_ns, st.st_ino)
                    if seen.get(e.name) == key:
                        continue
                    if e.name.startswith("."):
                        seen[e.name] = key
                        log.write(json.dumps({"name": e.name, "size": st.st_size}) + "\n")
                        log.flush()
                        continue
                    with open(e.path, "rb") as f:
                        digest = hashlib.sha256(f.read()).hexdigest()
                except FileNotFoundError:
                    continue
                seen[e.name] = key
                log.write(json.dumps({"name": e.name, "size": st.st_size, "sha256": digest}) + "\n")
                log.flush()
            time.sleep(0.001)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "make-zips":
        args = sys.argv[2:]
        out = args[0]
        count = int(args[args.index("--count") + 1])
        big = int(args[args.index("--big") + 1]) if "--big" in args else -1
        make_zips(out, count, big)
        return
    if len(sys.argv) < 3 or sys.argv[1] != "serve":
        sys.exit(__doc__)
    args = sys.argv[2:]
    Handler.root = args[0]
    # A parent that blocks SIGTERM (a test runner's thread) passes the mask on; stop when asked.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])

    def opt(name):
        return args[args.index(name) + 1] if name in args else None

    if opt("--log"):
        State.log = open(opt("--log"), "a")
    if opt("--watch"):
        threading.Thread(target=watch, args=(opt("--watch"), opt("--watch-log"), "--watch-hidden" in args), daemon=True).start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(opt("--port-file") + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(opt("--port-file") + ".tmp", opt("--port-file"))
    server.serve_forever()


if __name__ == "__main__":
    main()
