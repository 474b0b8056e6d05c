#!/usr/bin/env python3
"""Hostile connections against Hypha's two HTTP servers, and the memory of bodies in flight.

Starts `hypha run` with an arrow-http source (token, idle_timeout, read_timeout as given) and
the observability endpoint, then for each kind of hostile connection opens N of them at once,
keeps them going (one byte every 0.5 s where the kind drips) and samples Hypha's open
descriptors (/proc/PID/fd) every 0.25 s:

  arrow-401     POST with Content-Length 4000000 and no token, body dripped after the 401
  arrow-503     the same with the token while max_in_flight slow bodies hold every place
  arrow-silent  connect and send nothing
  arrow-head    a request head dripped a byte at a time, never finished
  observe-silent, observe-head   the same at the endpoint
  observe-answered-then-idle     a whole GET, answered, then silence

For each it prints the descriptors at rest, the peak, the count at timeout + 1 s, and how long
until they were back to rest. Then it sends 4 bodies of max_bytes at once to arrow-http and
prints Hypha's peak resident memory (VmHWM, after resetting it through /proc/PID/clear_refs)
against the bound 4 x max_bytes.

    python3 bench/security/hostile_connections.py .build/release/hypha --connections 200
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def connect(port, first=b""):
    s = socket.socket()
    s.setblocking(True)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    if first:
        s.sendall(first)
    s.setblocking(False)
    return s


def wait_listening(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def rest_level(pid, seconds=1.0):
    """The lowest descriptor count seen over `seconds` (connections of earlier phases linger)."""
    low = fds(pid)
    end = time.time() + seconds
    while time.time() < end:
        low = min(low, fds(pid))
        time.sleep(0.05)
    return low


def phase(name, pid, port, count, first, drip, timeout, extra=5.0, longest=30.0):
    rest = rest_level(pid)
    sockets = []
    for _ in range(count):
        try:
            sockets.append(connect(port, first))
        except OSError:
            pass
    start = time.time()
    samples = []
    back = None
    next_drip = start
    # At least timeout + extra; on until back to rest (connections past the limit are accepted
    # only as others close), at most `longest` seconds.
    while time.time() - start < timeout + extra or (back is None and time.time() - start < longest):
        now = time.time()
        if drip and now >= next_drip:
            for s in sockets:
                try:
                    s.send(drip)
                except OSError:
                    pass
            next_drip = now + 0.5
        for s in sockets:  # read what the server answers, so its writes do not wait on us
            try:
                s.recv(65536)
            except OSError:
                pass
        n = fds(pid)
        samples.append((now - start, n))
        if back is None and now - start > 0.3 and n <= rest + 2:
            back = now - start
        time.sleep(0.25)
    for s in sockets:
        s.close()
    peak = max(n for _, n in samples)
    at = [n for t, n in samples if t >= timeout + 1.0]
    result = {"phase": name, "connections": len(sockets), "rest": rest, "peak": peak,
              "at_timeout_plus_1s": at[0] if at else None,
              "back_to_rest_after_s": round(back, 2) if back is not None else None}
    print(json.dumps(result), flush=True)
    return result


def body_memory(pid, port, token, max_bytes, bodies):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident size
    except OSError as error:
        print(f"cannot reset VmHWM ({error}); the peak includes what came before", file=sys.stderr)
    before = status_kib(pid, "VmRSS")
    payload = os.urandom(1 << 20) * (max_bytes >> 20) + os.urandom(max_bytes % (1 << 20))
    answers = []

    def send_one():
        head = (f"POST /arrow HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/vnd.apache.arrow.stream\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(head)
            s.sendall(payload)
            answers.append(s.recv(200).split(b"\r\n", 1)[0].decode(errors="replace"))

    threads = [threading.Thread(target=send_one) for _ in range(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak = status_kib(pid, "VmHWM")
    bound = bodies * max_bytes // 1024
    result = {"phase": "arrow-bodies", "bodies": bodies, "max_bytes": max_bytes, "answers": answers,
              "rss_before_kib": before, "vmhwm_kib": peak, "peak_over_before_kib": peak - before,
              "bound_kib": bound, "peak_over_before_per_bound": round((peak - before) / bound, 2)}
    print(json.dumps(result), flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hypha")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--idle-timeout", type=float, default=2.0)
    parser.add_argument("--read-timeout", type=float, default=3.0)
    parser.add_argument("--max-connections", type=int, default=None,
                        help="arrow-http's max_connections and --http-max-connections (default: theirs)")
    parser.add_argument("--max-bytes", type=int, default=64 << 20)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--old", action="store_true",
                        help="a Hypha without --http-idle-timeout and --http-max-connections (to compare)")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="hypha-hostile-")
    port, observe = free_port(), free_port()
    limit = f", max_connections: {args.max_connections}" if args.max_connections and not args.old else ""
    with open(f"{work}/wf.yml", "w") as f:
        f.write("nodes:\n"
                f"  incoming: {{ plugin: arrow-http, port: {port}, token: tok, idle_timeout: {args.idle_timeout}s, "
                f"read_timeout: {args.read_timeout}s, max_bytes: {args.max_bytes}{limit} }}\n"
                "  out: { plugin: capture, from: incoming, path: got.jsonl }\n")
    command = [args.hypha, "run", f"{work}/wf.yml", "--no-state", "--run-dir", f"{work}/run", "--no-progress",
               "--http", str(observe)]
    if not args.old:
        command += ["--http-idle-timeout", str(args.idle_timeout)]
    if args.max_connections and not args.old:
        command += ["--http-max-connections", str(args.max_connections)]
    log = open(f"{work}/hypha.log", "w")
    process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        if not (wait_listening(port) and wait_listening(observe)):
            sys.exit(f"hypha did not listen; see {work}/hypha.log")
        pid, n = process.pid, args.connections
        body = b"POST /arrow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/vnd.apache.arrow.stream\r\n"
        unauthorized = body + b"Content-Length: 4000000\r\n\r\nxx"
        authorized = body + b"Authorization: Bearer tok\r\nContent-Length: 4000000\r\n\r\nxx"
        timeout = args.idle_timeout
        print(json.dumps({"hypha": args.hypha, "connections": n, "idle_timeout": args.idle_timeout,
                          "read_timeout": args.read_timeout, "max_connections": args.max_connections or "default"}))
        phase("arrow-401", pid, port, n, unauthorized, b"x", timeout)
        # Four slow bodies with the token hold every place in flight (max_in_flight 4) until read_timeout.
        holders = [connect(port, authorized) for _ in range(4)]
        time.sleep(0.3)
        phase("arrow-503", pid, port, n, authorized, b"x", timeout)
        for s in holders:
            s.close()
        phase("arrow-silent", pid, port, n, b"", None, timeout)
        phase("arrow-head", pid, port, n, b"POST /arrow HTTP/1.1\r\nX-Slow: ", b"x", timeout)
        phase("observe-silent", pid, observe, n, b"", None, timeout)
        phase("observe-head", pid, observe, n, b"GET /metrics HTTP/1.1\r\nX-Slow: ", b"x", timeout)
        phase("observe-answered-then-idle", pid, observe, n, b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", None, timeout)
        if not args.skip_memory:
            body_memory(pid, port, "tok", args.max_bytes, 4)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
