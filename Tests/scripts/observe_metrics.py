#!/usr/bin/env python3
"""Scrapes a `hypha run --once --http` of 20 zips during and after the run, and checks /metrics
with prometheus_client's text parser: the format parses, counters never go down while it runs,
and after the run they equal the messages and jobs of the run's summary.

    observe_metrics.py HYPHA_BIN WORKFLOW TMP_DIR PORT

Exit 0: all held; 1: a check failed (stderr says which); 77: prometheus_client is missing.
Spawned by Tests/CLITests/ObserveTests.swift.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_client is not installed", file=sys.stderr)
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def scrape(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        if response.status != 200:
            fail(f"/metrics answered {response.status}")
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("text/plain"):
            fail(f"/metrics Content-Type is {content_type}")
        text = response.read().decode()
    samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, types, text


def status(url):
    with urllib.request.urlopen(url + "/api/v1/status", timeout=10) as response:
        return json.load(response)


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def main():
    hypha, workflow, tmp, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    inbox, work = os.path.join(tmp, "in"), os.path.join(tmp, "work")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_sample_zips.py"), inbox, "--count", "20"],
                   check=True, stdout=subprocess.DEVNULL)
    # The job scripts through wrappers; every aggregate waits for the file `go`, which is made
    # only after a scrape has seen the run under way: the run cannot end before that scrape,
    # however fast the machine, so counters are compared across at least two scrapes.
    scripts, gate = os.path.join(tmp, "scripts"), os.path.join(tmp, "go")
    os.makedirs(scripts, exist_ok=True)
    for name, wait in (("extract.py", ""), ("aggregate.py", f"while not os.path.exists({gate!r}):\n    time.sleep(0.02)\n")):
        real = os.path.join(ROOT, "scripts", name)
        with open(os.path.join(scripts, name), "w") as wrapper:
            wrapper.write(f"import os, sys, time\n{wait}os.execv(sys.executable, [sys.executable, {real!r}] + sys.argv[1:])\n")
    url = f"http://127.0.0.1:{port}"
    out, err = open(os.path.join(tmp, "stdout"), "w+"), open(os.path.join(tmp, "stderr"), "w+")
    proc = subprocess.Popen([hypha, "run", workflow, "--once", "--no-progress", "--var", f"inbox={inbox}",
                             "--var", f"work={work}", "--var", f"scripts={scripts}", "--state-dir", os.path.join(tmp, "state"),
                             "--http", f"127.0.0.1:{port}", "--http-linger", "120"], stdout=out, stderr=err)
    try:
        # During: every scrape parses, and no counter goes down.
        previous, scrapes, finished = {}, 0, False
        deadline = time.time() + 120
        while time.time() < deadline:
            if proc.poll() is not None:
                err.seek(0)
                fail(f"hypha exited ({proc.returncode}) before its linger: {err.read()}")
            try:
                samples, types, _ = scrape(url)
            except (ConnectionError, urllib.error.URLError):
                time.sleep(0.05)
                continue
            scrapes += 1
            for key, v in samples.items():
                if key[0].endswith("_total") and key in previous and v < previous[key]:
                    fail(f"counter {key} went down: {previous[key]} -> {v}")
            previous = samples
            if not os.path.exists(gate) and (value(samples, "hypha_jobs_total", node="extract", state="completed") or 0) >= 1:
                # Seen under way (an extract done, every aggregate waiting): let it finish.
                open(gate, "w").close()
            if status(url)["finished"]:
                finished = True
                break
            time.sleep(0.05)
        if not finished:
            fail("the run did not finish in 120 s")
        if scrapes < 2:
            fail(f"only {scrapes} scrape(s) during the run, though it waited for the first")

        # After: the counters equal the run's summary.
        samples, types, text = scrape(url)
        out.seek(0)
        summary = out.read()
        rows = re.findall(r"^  (\S+)\s+(\S+)\s+(?:in (\d+)\s+)?(?:out (\d+)\s+)?failed (\d+)$", summary, re.M)
        if len(rows) != 6:
            fail(f"expected 6 node lines in the summary, got {rows}:\n{summary}")
        for node, plugin, received, emitted, failed in rows:
            if received and value(samples, "hypha_messages_received_total", node=node) != int(received):
                fail(f"{node}: received {value(samples, 'hypha_messages_received_total', node=node)}, summary says {received}")
            if emitted and value(samples, "hypha_messages_emitted_total", node=node) != int(emitted):
                fail(f"{node}: emitted {value(samples, 'hypha_messages_emitted_total', node=node)}, summary says {emitted}")
            if value(samples, "hypha_messages_failed_total", node=node) != int(failed):
                fail(f"{node}: failed {value(samples, 'hypha_messages_failed_total', node=node)}, summary says {failed}")
        if "jobs: 40 completed, 0 failed" not in summary:
            fail(f"the run did not complete 40 jobs:\n{summary}")
        for node in ("extract", "aggregate"):
            if value(samples, "hypha_jobs_total", node=node, state="completed") != 20:
                fail(f"{node}: hypha_jobs_total completed = {value(samples, 'hypha_jobs_total', node=node, state='completed')}, not 20")
            if value(samples, "hypha_jobs_total", node=node, state="failed") != 0:
                fail(f"{node}: failed jobs")
            if value(samples, "hypha_job_duration_seconds_count", node=node) != 20:
                fail(f"{node}: hypha_job_duration_seconds_count is {value(samples, 'hypha_job_duration_seconds_count', node=node)}")
            if value(samples, "hypha_job_duration_seconds_bucket", node=node, le="+Inf") != 20:
                fail(f"{node}: the +Inf bucket is not 20")
            if value(samples, "hypha_jobs_running", node=node) != 0:
                fail(f"{node}: jobs still running")
        if value(samples, "hypha_messages_received_total", node="extract") != 20:
            fail("extract did not receive 20 messages")
        if value(samples, "hypha_source_lag_seconds", node="downloads") != 0:
            fail("the source's lag is not 0 after the run")
        for node in ("decode", "extract-spec", "extract", "aggregate-spec", "aggregate"):
            if value(samples, "hypha_channel_depth", node=node) != 0:
                fail(f"{node}: channel not empty after the run")
            if value(samples, "hypha_channel_capacity", node=node) is None:
                fail(f"{node}: no hypha_channel_capacity")
        expected_types = {"hypha_messages_received": "counter", "hypha_jobs": "counter", "hypha_job_duration_seconds": "histogram",
                          "hypha_channel_depth": "gauge", "process_resident_memory_bytes": "gauge",
                          "process_cpu_seconds": "counter", "process_open_fds": "gauge"}
        for name, kind in expected_types.items():
            if types.get(name) != kind:
                fail(f"{name} is {types.get(name)}, not a {kind}")
        if not value(samples, "process_resident_memory_bytes") or not value(samples, "process_open_fds"):
            fail("process metrics are missing or zero")
        if value(samples, "process_cpu_seconds_total") is None:
            fail("process_cpu_seconds_total is missing")
        print(f"ok: {scrapes} scrapes during the run; final counters match the summary")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    if proc.returncode != 0:
        err.seek(0)
        fail(f"hypha exited {proc.returncode}: {err.read()}")


if __name__ == "__main__":
    main()
