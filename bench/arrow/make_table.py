#!/usr/bin/env python3
"""Writes the 1,000,000-row benchmark table of shared/tools/arrow_baseline.py
(path utf8, size int64, mtime timestamp[us], sha utf8) as IPC streams: plain, lz4, zstd.
usage: make_table.py OUTDIR"""
import os
import sys

import pyarrow as pa
import pyarrow.ipc as ipc

here = os.path.dirname(os.path.abspath(__file__))
for cand in (os.environ.get("HYPHA_SHARED_DIR", ""), os.path.join(here, "..", "..", "..", "shared")):
    tools = os.path.join(cand, "tools")
    if os.path.exists(os.path.join(tools, "arrow_baseline.py")):
        sys.path.insert(0, tools)
        break
from arrow_baseline import bench_table  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
t = bench_table()
for comp in (None, "lz4", "zstd"):
    path = os.path.join(out, "bench%s.arrows" % ("" if comp is None else "-" + comp))
    with pa.OSFile(path, "wb") as f:
        with ipc.new_stream(f, t.schema, options=ipc.IpcWriteOptions(compression=comp)) as w:
            w.write_table(t)
    print(path, os.path.getsize(path))
