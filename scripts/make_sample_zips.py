#!/usr/bin/env python3
"""Make sample zips of CSV data for the demo, the tests and the benchmarks.

    make_sample_zips.py OUTDIR [--count N] [--files-per-zip K] [--rows R] [--seed S] [--tricky-names]

Each zip holds K CSV files with the columns `category,amount,note`. With --tricky-names the
zip names contain spaces, quotes, `$(...)`, `;`, `: `, `{{`, and non-ASCII letters. Zips are
written beside OUTDIR first and renamed in, so a watcher never sees a half-written zip.
Prints each zip's path.
"""
import argparse
import csv
import io
import os
import random
import sys
import zipfile

TRICKY = [
    "plain", "with space", "it's quoted", 'double "q"', "$(touch pwned)", "semi;colon",
    "colon: space", "{{ vars.work }}", "naïve café", "日本語", "back`tick`", "dash -rf",
]
CATEGORIES = ["alpha", "beta", "gamma", "delta"]


def zip_bytes(rng, files, rows):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in range(files):
            text = io.StringIO()
            w = csv.writer(text)
            w.writerow(["category", "amount", "note"])
            for _ in range(rows):
                w.writerow([rng.choice(CATEGORIES), rng.randint(-500, 5000) / 4, rng.choice(["x", "y, z", 'q"q'])])
            z.writestr(f"part-{f}.csv", text.getvalue())
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=5)
    ap.add_argument("--files-per-zip", type=int, default=2)
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tricky-names", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.outdir, exist_ok=True)
    staging = os.path.join(os.path.dirname(os.path.abspath(args.outdir)), ".staging-" + str(os.getpid()))
    os.makedirs(staging, exist_ok=True)
    for i in range(args.count):
        stem = f"{TRICKY[i % len(TRICKY)]} {i:03d}" if args.tricky_names else f"sales-{i:03d}"
        data = zip_bytes(rng, args.files_per_zip, args.rows)
        tmp = os.path.join(staging, f"{i}.zip")
        with open(tmp, "wb") as fh:
            fh.write(data)
        final = os.path.join(args.outdir, stem + ".zip")
        os.rename(tmp, final)
        print(final)
    os.rmdir(staging)
    return 0


if __name__ == "__main__":
    sys.exit(main())
