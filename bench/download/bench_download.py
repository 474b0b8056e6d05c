#!/usr/bin/env python3
"""Downloads: Hypha's http-download beside curl and wget, from one local server, in one run.

    bench_download.py [--hypha .build/release/hypha] [--small 1000] [--small-size 16384]
                      [--big-mib 1024] [--parallel 8] [--work /tmp/hypha-bench-download]

The server is Tests/scripts/download_server.py (Python's ThreadingHTTPServer; bodies sent
with sendfile), on 127.0.0.1, serving SMALL files of SMALL_SIZE random bytes and one file of
BIG_MIB MiB. Each client fetches every small file, then the big one, into a fresh folder:

* hypha: `hypha run W --once --no-state` of a workflow http-download (urls, max_parallel
  PARALLEL) -> capture to /dev/null; its CPU is the child's rusage (user + system);
* curl sequential: one curl for all URLs (`curl -s -o F1 URL1 -o F2 URL2 ...`, one connection);
* curl --parallel --parallel-max PARALLEL;
* wget: `wget -q -i LIST -P DIR` (sequential, one connection).

Prints a table (files/s and MB/s for the small files, MB/s for the big one, CPU seconds per
MB for Hypha) and the same as JSON on the last line.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, **kw):
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    wall = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    if r.returncode != 0:
        sys.exit("%s failed (%d): %s %s" % (cmd[0], r.returncode, r.stdout.decode()[-2000:], r.stderr.decode()[-2000:]))
    return wall, cpu


def check(folder, names, sizes):
    for name in names:
        p = os.path.join(folder, name)
        if os.path.getsize(p) != sizes[name]:
            sys.exit("%s has %d bytes, not %d" % (p, os.path.getsize(p), sizes[name]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hypha", default=os.path.join(ROOT, ".build/release/hypha"))
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--small-size", type=int, default=16384)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--work", default="/tmp/hypha-bench-download")
    a = ap.parse_args()

    shutil.rmtree(a.work, ignore_errors=True)
    served = os.path.join(a.work, "served")
    os.makedirs(served)
    small = ["f%04d.bin" % i for i in range(a.small)]
    sizes = {}
    for name in small:
        with open(os.path.join(served, name), "wb") as f:
            f.write(os.urandom(a.small_size))
        sizes[name] = a.small_size
    big = "big.bin"
    chunk = os.urandom(1 << 20)
    with open(os.path.join(served, big), "wb") as f:
        for _ in range(a.big_mib):
            f.write(chunk)
    sizes[big] = a.big_mib << 20

    port_file = os.path.join(a.work, "port")
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests/scripts/download_server.py"), "serve", served,
                               "--port-file", port_file], stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while not os.path.exists(port_file):
            if time.time() > deadline:
                sys.exit("the server did not start")
            time.sleep(0.05)
        base = "http://127.0.0.1:%s/files/" % open(port_file).read().strip()
        results = {}

        def run_hypha(names, label):
            out = os.path.join(a.work, "hypha-" + label)
            wf = os.path.join(a.work, "hypha-%s.yml" % label)
            with open(wf, "w") as f:
                json.dump({"name": "bench-download", "nodes": {
                    "get": {"plugin": "http-download", "urls": [base + n for n in names], "dir": out,
                            "max_parallel": a.parallel, "timeout": 120},
                    "out": {"plugin": "capture", "from": "get", "path": "/dev/null"}}}, f)
            cmd = [a.hypha, "run", wf, "--once", "--no-state", "--no-progress", "--run-dir", os.path.join(a.work, "run")]
            wall, cpu = timed(cmd)
            check(out, names, sizes)
            shutil.rmtree(out)
            return wall, cpu

        def run_curl(names, label, parallel):
            out = os.path.join(a.work, "curl-" + label)
            os.makedirs(out)
            cmd = ["curl", "-s", "--fail"]
            if parallel:
                cmd += ["--parallel", "--parallel-max", str(a.parallel)]
            for n in names:
                cmd += ["-o", os.path.join(out, n), base + n]
            wall, cpu = timed(cmd)
            check(out, names, sizes)
            shutil.rmtree(out)
            return wall, cpu

        def run_wget(names, label):
            out = os.path.join(a.work, "wget-" + label)
            os.makedirs(out)
            lst = os.path.join(a.work, "list-" + label)
            with open(lst, "w") as f:
                f.write("".join(base + n + "\n" for n in names))
            wall, cpu = timed(["wget", "-q", "-i", lst, "-P", out])
            check(out, names, sizes)
            shutil.rmtree(out)
            return wall, cpu

        clients = [("hypha (max_parallel %d)" % a.parallel, lambda n, l: run_hypha(n, l)),
                   ("curl sequential", lambda n, l: run_curl(n, l, False)),
                   ("curl --parallel %d" % a.parallel, lambda n, l: run_curl(n, l, True)),
                   ("wget", lambda n, l: run_wget(n, l))]
        # A peer whose tool is not installed is left out (and named on stderr) rather than
        # failing the whole run.
        for label, fn in list(clients)[1:]:
            tool = label.split()[0]
            if shutil.which(tool) is None:
                print("%s: not installed, left out" % tool, file=sys.stderr)
                clients.remove((label, fn))
        small_mb = a.small * a.small_size / 1e6
        big_mb = sizes[big] / 1e6
        for label, fn in clients:
            w1, c1 = fn(small, "small")
            w2, c2 = fn([big], "big")
            results[label] = {"small_s": round(w1, 3), "files_per_s": round(a.small / w1, 1), "small_MB_per_s": round(small_mb / w1, 1),
                              "small_cpu_s": round(c1, 3), "big_s": round(w2, 3), "big_MB_per_s": round(big_mb / w2, 1),
                              "big_cpu_s": round(c2, 3), "cpu_s_per_MB_small": round(c1 / small_mb, 4),
                              "cpu_s_per_MB_big": round(c2 / big_mb, 5)}
        print("%-24s %9s %9s %9s %9s %12s %12s" % ("client", "files/s", "small MB/s", "big MB/s", "big s", "CPU s/MB sm", "CPU s/MB big"))
        for label, r in results.items():
            print("%-24s %9.1f %9.1f %9.1f %9.2f %12.4f %12.5f" % (label, r["files_per_s"], r["small_MB_per_s"], r["big_MB_per_s"],
                                                                 r["big_s"], r["cpu_s_per_MB_small"], r["cpu_s_per_MB_big"]))
        print(json.dumps({"small_files": a.small, "small_size": a.small_size, "big_MiB": a.big_mib, "parallel": a.parallel,
                          "results": results}))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
