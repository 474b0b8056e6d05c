#!/usr/bin/env python3
"""A file server for the http-download tests and benchmark (standard library only).

    download_server.py serve ROOT --port-file F [--log F] [--watch DIR --watch-log F]
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

--log gets one JSON line per request: method, path, status, the body bytes sent, the Range
asked. --watch polls DIR every millisecond and writes one JSON line to --watch-log per file
version seen under a name not starting with '.': its name, size and sha256 (what a watcher
downstream could have read at that moment).

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

    def do_GET(self):
        parts = self.path.split("?")[0].split("/", 2)
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


def watch(folder, out):
    seen = {}
    with open(out, "a") as log:
        while True:
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                entries = []
            for e in entries:
                if e.name.startswith("."):
                    continue
                try:
                    st = e.stat()
                    key = (st.st_size, st.st_mtime_ns, st.st_ino)
                    if seen.get(e.name) == key:
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
        threading.Thread(target=watch, args=(opt("--watch"), opt("--watch-log")), daemon=True).start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(opt("--port-file") + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(opt("--port-file") + ".tmp", opt("--port-file"))
    server.serve_forever()


if __name__ == "__main__":
    main()
