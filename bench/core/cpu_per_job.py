#!/usr/bin/env python3
"""CPU per job: `hypha run --once` over N empty zips with the stamp job, reading /proc/PID/stat.

    python3 bench/core/cpu_per_job.py N [MAX_PARALLEL]     # HYPHA=path overrides the binary,
                                                           # HYPHA_ARGS adds arguments (--no-state)
"""
import sys, os, time, tempfile, shutil, subprocess
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench
n = int(sys.argv[1]); par = int(sys.argv[2]) if len(sys.argv) > 2 else None
tmp = tempfile.mkdtemp(); stamp = bench.compile_stamp(tmp)
inbox = tmp + "/in"; os.makedirs(inbox)
for i in range(n): open(f"{inbox}/z{i}.zip", "w").close()
wf = bench.workflow(tmp, inbox, stamp, tmp + "/log", parallel=par)
t0 = time.time()
p = subprocess.Popen([os.environ.get("HYPHA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "release", "hypha")), "run", wf, "--once", "--no-progress", "--log-level", "error", "--run-dir", tmp + "/run"] + os.environ.get("HYPHA_ARGS", "").split(), stdout=subprocess.DEVNULL)
tck = os.sysconf("SC_CLK_TCK"); last = None
while p.poll() is None:
    try:
        f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        last = (int(f[11]) / tck, int(f[12]) / tck, int(f[13]) / tck, int(f[14]) / tck)
    except Exception: pass
    time.sleep(0.01)
wall = time.time() - t0
print(f"n={n} wall={wall:.2f}s jobs/s={n/wall:.0f} hypha user={last[0]:.2f}s sys={last[1]:.2f}s per job {(last[0]+last[1])/n*1000:.3f} ms; children user={last[2]:.2f} sys={last[3]:.2f}")
shutil.rmtree(tmp)
