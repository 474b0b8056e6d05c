#!/usr/bin/env python3
"""Records/s through an `exec` transform (a Python program that echoes its input) beside the same
records through built-in nodes only, in one invocation on the same files.

usage: bench_exec.py [--records N] [--hypha PATH] [--keep]

N empty files are made once; each workflow then runs `hypha run --once` over them from a fresh
state folder: file-watch (metadata, batches of 1024 rows) -> arrow-decode -> ... -> capture.
  builtin          decode -> capture                          (built-in transform only)
  exec c=1 / c=4   decode -> exec(echo.py, concurrency) -> capture   (one JSON line per record)
  exec c=N p=M     the same with `pipeline: M`: M records in flight per copy
  ... b            the echo answering every complete line it has read in one write
  exec-arrow       files -> exec-arrow(echo, 1024-row batches) -> decode -> capture
Wall time of the whole run (start-up and the scan included); exec's own cost is the difference.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# One answer per input line, flushed at once: without `pipeline`, Hypha sends the next record only
# after the answer (one message in flight per copy), so buffering answers would deadlock. Reads and writes go
# through the binary buffers, and the echo skips JSON parsing: it returns its input as is.
ECHO = r'''import sys
i, o = sys.stdin.buffer, sys.stdout.buffer
for line in i:
    o.write(b"[" + line.rstrip(b"\n") + b"]\n")
    o.flush()
'''

# The same echo reading whatever has arrived and answering all of its complete lines in one write:
# with `pipeline`, many records arrive at once, and neither side pays a system call per record.
BATCHED_ECHO = r'''import os, sys
out = sys.stdout.buffer
rest = b""
while True:
    chunk = os.read(0, 1 << 16)
    if not chunk:
        break
    lines = (rest + chunk).split(b"\n")
    rest = lines.pop()
    if lines:
        out.write(b"".join(b"[" + line + b"]\n" for line in lines))
        out.flush()
'''

ARROW_ECHO = r'''import struct, sys
i, o = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = i.read(4)
    if len(head) < 4:
        break
    (n,) = struct.unpack("<I", head)
    o.write(head + i.read(n))
    o.flush()
'''

def exec_workflow(sink, script="echo.py", options=""):
    """file-watch -> arrow-decode -> exec(SCRIPT, OPTIONS) -> capture to SINK."""
    return """
nodes:
  files:  { plugin: file-watch, path: in }
  decode: { plugin: arrow-decode, from: files }
  echo:   { plugin: exec, from: decode, command: [python3, %s]%s }
  out:    { plugin: capture, from: echo, path: %s }
""" % (script, options, sink)


WORKFLOWS = {
    "builtin": """
nodes:
  files:  { plugin: file-watch, path: in }
  decode: { plugin: arrow-decode, from: files }
  out:    { plugin: capture, from: decode, path: out-builtin.jsonl }
""",
    "exec c=1": exec_workflow("out-exec1.jsonl"),
    "exec c=4": exec_workflow("out-exec4.jsonl", options=", concurrency: 4"),
    "exec c=1 p=64": exec_workflow("out-exec1p.jsonl", options=", pipeline: 64"),
    "exec c=2 p=32": exec_workflow("out-exec2p.jsonl", options=", concurrency: 2, pipeline: 32"),
    "exec c=1 p=64 b": exec_workflow("out-exec1pb.jsonl", script="echo_batched.py", options=", pipeline: 64"),
    "exec-arrow": """
nodes:
  files:  { plugin: file-watch, path: in }
  echo:   { plugin: exec-arrow, from: files, input: arrow, command: [python3, arrow_echo.py] }
  decode: { plugin: arrow-decode, from: echo }
  out:    { plugin: capture, from: decode, path: out-arrow.jsonl }
""",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=50000)
    ap.add_argument("--hypha", default=os.path.join(ROOT, ".build", "release", "hypha"))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not os.access(a.hypha, os.X_OK):
        sys.exit("no hypha at %s (swift build -c release --product hypha, or --hypha PATH)" % a.hypha)
    work = tempfile.mkdtemp(prefix="hypha-bench-exec-")
    try:
        os.makedirs(os.path.join(work, "in"))
        for n in range(a.records):
            open(os.path.join(work, "in", "f%07d.txt" % n), "wb").close()
        with open(os.path.join(work, "echo.py"), "w") as f:
            f.write(ECHO)
        with open(os.path.join(work, "echo_batched.py"), "w") as f:
            f.write(BATCHED_ECHO)
        with open(os.path.join(work, "arrow_echo.py"), "w") as f:
            f.write(ARROW_ECHO)
        print("%d records, %s" % (a.records, a.hypha))
        print("%-16s %10s %12s" % ("workflow", "wall s", "records/s"))
        for name, text in WORKFLOWS.items():
            slug = name.replace(" ", "").replace("=", "")
            wf = os.path.join(work, "w-%s.yml" % slug)
            with open(wf, "w") as f:
                f.write(text)
            start = time.perf_counter()
            r = subprocess.run([a.hypha, "run", wf, "--once", "--no-progress",
                                "--run-dir", os.path.join(work, "run-" + slug),
                                "--state-dir", os.path.join(work, "state-" + slug)],
                               cwd=work, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if r.returncode != 0:
                print(r.stdout, r.stderr, file=sys.stderr)
                sys.exit("%s failed (%d)" % (name, r.returncode))
            sink = os.path.join(work, text.split("path: ")[-1].split(" ")[0])
            with open(sink, "rb") as f:
                lines = sum(1 for _ in f)
            if lines != a.records:
                sys.exit("%s: %d records reached the sink, not %d" % (name, lines, a.records))
            print("%-16s %10.2f %12.0f" % (name, wall, a.records / wall))
    finally:
        if a.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
