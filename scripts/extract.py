#!/usr/bin/env python3
"""Unpack a zip archive safely and describe what came out of it.

Usage: extract.py [--max-bytes N] [--max-entries N] ZIP OUTDIR

The archive is checked before anything is written, and again while it is written:

* entry names must be relative and stay inside OUTDIR: absolute paths (``/x``,
  ``\\x``, ``C:x``), ``..`` components, empty names and duplicates are rejected
  (zip-slip);
* symbolic links and other special files (devices, FIFOs, sockets) are rejected,
  judged by the Unix mode in each entry's ``external_attr``;
* encrypted entries are rejected;
* the number of entries is limited (``--max-entries``, default 100000);
* the total uncompressed size is limited (``--max-bytes``, default 1 GiB), both as
  the archive's headers claim it and as the bytes actually written while streaming,
  so an archive that lies about its sizes (a zip bomb) is stopped too.

Everything is written into a temporary sibling folder of OUTDIR, which is renamed
into place only when the whole archive has been extracted, so OUTDIR is either
absent, the previous complete result, or the new complete result. OUTDIR holds
``manifest.json``::

    {"zip": "/abs/path.zip", "zip_sha256": "...", "files": [{"path": "a/b.csv",
     "size": 12, "rows": 3}], "total_bytes": 12}

``rows`` counts the data rows of ``.csv`` files (header excluded) and is null for
other files or for CSV files that cannot be read as UTF-8. A rerun whose OUTDIR
already holds a complete extraction of the same archive (same SHA-256, every listed
file present with its size) does nothing and succeeds; anything else is replaced.

Exit status: 0 on success (one summary line on stdout), 1 when the archive is
rejected or broken or the output cannot be written, 2 for bad usage. Messages go to
stderr.
"""

import argparse
import csv
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import zipfile
import zlib

MANIFEST = "manifest.json"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
DEFAULT_MAX_ENTRIES = 100_000
CHUNK = 1 << 16


class Rejected(Exception):
    """The archive is unsafe or broken; the message says why."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="extract.py",
        description="Unpack a zip archive safely into OUTDIR and write OUTDIR/manifest.json.",
    )
    parser.add_argument("zip", metavar="ZIP", help="the zip archive to unpack")
    parser.add_argument("outdir", metavar="OUTDIR", help="the folder to create (replaced atomically)")
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        help="largest total uncompressed size accepted (default: %(default)s = 1 GiB)",
    )
    parser.add_argument(
        "--max-entries",
        type=int,
        default=DEFAULT_MAX_ENTRIES,
        help="largest number of entries accepted (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.max_bytes < 0:
        parser.error("--max-bytes must be >= 0")
    if args.max_entries < 0:
        parser.error("--max-entries must be >= 0")
    if not os.path.isfile(args.zip):
        parser.error(f"ZIP {args.zip!r} is not a file")
    return args


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def safe_relative_path(name):
    """Return the entry name as a list of path parts (empty for "./"), or raise Rejected."""
    if not name or "\x00" in name:
        raise Rejected(f"entry {name!r} has an empty or invalid name")
    if name.startswith(("/", "\\")) or (len(name) >= 2 and name[1] == ":"):
        raise Rejected(f"entry {name!r} has an absolute path")
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise Rejected(f"entry {name!r} points outside the output folder ('..')")
    return parts


def check_entry_type(info):
    """Reject symlinks and special files (Unix mode in the high 16 bits of external_attr)."""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise Rejected(f"entry {info.filename!r} is a symbolic link")
    file_type = stat.S_IFMT(mode)
    if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
        raise Rejected(f"entry {info.filename!r} is a special file (mode {mode:o})")
    if info.flag_bits & 0x1:
        raise Rejected(f"entry {info.filename!r} is encrypted")


def plan(archive, max_bytes, max_entries):
    """Check every entry before writing anything; return [(info, parts, is_dir)]."""
    entries = archive.infolist()
    if len(entries) > max_entries:
        raise Rejected(f"archive has {len(entries)} entries, more than the limit of {max_entries}")
    claimed = sum(info.file_size for info in entries)
    if claimed > max_bytes:
        raise Rejected(
            f"archive would unpack to {claimed} bytes, more than the limit of {max_bytes} (--max-bytes)"
        )
    planned, files, dirs = [], set(), set()
    for info in entries:
        parts = safe_relative_path(info.filename)
        check_entry_type(info)
        key = "/".join(parts)
        is_dir = info.is_dir() or stat.S_ISDIR(info.external_attr >> 16)
        if not parts:
            if is_dir:
                continue  # "./": the output folder itself
            raise Rejected(f"entry {info.filename!r} has an empty path")
        if key in files or (not is_dir and key in dirs):
            raise Rejected(f"entry {info.filename!r} appears more than once")
        if not is_dir and key == MANIFEST:
            raise Rejected(f"entry {info.filename!r} would clash with the {MANIFEST} this script writes")
        (dirs if is_dir else files).add(key)
        planned.append((info, parts, is_dir))
    for key in files:
        parents = key.split("/")[:-1]
        for depth in range(1, len(parents) + 1):
            if "/".join(parents[:depth]) in files:
                raise Rejected(f"entry {key!r} lies inside {'/'.join(parents[:depth])!r}, which is a file")
    return planned


def count_csv_rows(path):
    """Data rows of a CSV file (header and blank lines excluded), or None if unreadable."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            records = sum(1 for record in csv.reader(handle) if record)
    except (UnicodeDecodeError, csv.Error):
        return None
    return max(records - 1, 0)


def unpack(archive, planned, root, max_bytes):
    """Stream every entry into root, counting the bytes really written."""
    real_root = os.path.realpath(root)
    written = 0
    files = []
    for info, parts, is_dir in planned:
        target = os.path.join(root, *parts)
        if not os.path.realpath(target).startswith(real_root + os.sep):
            raise Rejected(f"entry {info.filename!r} resolves outside the output folder")
        if is_dir:
            os.makedirs(target, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        size = 0
        with archive.open(info) as source, open(target, "xb") as sink:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                written += len(chunk)
                if size > info.file_size:
                    raise Rejected(f"entry {info.filename!r} holds more data than its header claims")
                if written > max_bytes:
                    raise Rejected(f"archive unpacks to more than the limit of {max_bytes} bytes (--max-bytes)")
                sink.write(chunk)
        rel = "/".join(parts)
        rows = count_csv_rows(target) if rel.lower().endswith(".csv") else None
        files.append({"path": rel, "size": size, "rows": rows})
    files.sort(key=lambda entry: entry["path"])
    return files


def existing_manifest_matches(outdir, digest):
    """True if outdir holds a complete extraction of the archive with this digest."""
    try:
        with open(os.path.join(outdir, MANIFEST), encoding="utf-8") as handle:
            manifest = json.load(handle)
        if manifest.get("zip_sha256") != digest:
            return None
        for entry in manifest["files"]:
            parts = safe_relative_path(entry["path"])
            if os.path.getsize(os.path.join(outdir, *parts)) != entry["size"]:
                return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError, Rejected):
        return None


def move_into_place(staging, outdir):
    """Rename staging to outdir, replacing an older outdir."""
    if not os.path.lexists(outdir):
        os.rename(staging, outdir)
        return
    parent = os.path.dirname(outdir) or "."
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(outdir)}.old-", dir=parent)
    retired = os.path.join(old, "previous")
    os.rename(outdir, retired)
    os.rename(staging, outdir)
    shutil.rmtree(old, ignore_errors=True)


def extract(zip_path, outdir, max_bytes, max_entries):
    """Extract zip_path into outdir; return (manifest, reused)."""
    zip_path = os.path.abspath(zip_path)
    outdir = os.path.abspath(outdir)
    digest = sha256_of(zip_path)
    manifest = existing_manifest_matches(outdir, digest)
    if manifest is not None:
        return manifest, True

    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(outdir)}.tmp-", dir=parent)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            planned = plan(archive, max_bytes, max_entries)
            files = unpack(archive, planned, staging, max_bytes)
        manifest = {
            "zip": zip_path,
            "zip_sha256": digest,
            "files": files,
            "total_bytes": sum(entry["size"] for entry in files),
        }
        with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        move_into_place(staging, outdir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest, False


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        manifest, reused = extract(args.zip, args.outdir, args.max_bytes, args.max_entries)
    except Rejected as error:
        print(f"extract.py: rejected {args.zip}: {error}", file=sys.stderr)
        return 1
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError) as error:
        print(f"extract.py: {args.zip} is broken or not a zip archive: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"extract.py: could not extract {args.zip} into {args.outdir}: {error}", file=sys.stderr)
        return 1
    verb = "already extracted" if reused else "extracted"
    print(
        f"{verb} {len(manifest['files'])} files ({manifest['total_bytes']} bytes) "
        f"from {args.zip} into {args.outdir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
