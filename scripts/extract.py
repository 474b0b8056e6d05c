#!/usr/bin/env python3
"""Unpack a zip archive safely and describe what came out of it.

Usage: extract.py [--within DIR] [--max-bytes N] [--max-ratio R] [--max-entries N] ZIP OUTDIR

Archives come from untrusted senders, so the output folder is checked first, and the
archive is checked before anything is written, and again while it is written:

* OUTDIR's last component may not be empty, ``.`` or ``..`` (``work/``, ``work/..``);
  with ``--within DIR``, OUTDIR must resolve (symbolic links of its existing parents
  followed) to a folder strictly inside DIR, never DIR itself. Without ``--within``
  OUTDIR may be anywhere.
* the number of entries is limited (``--max-entries``, default 100000): the count in
  the End Of Central Directory record (ZIP64 record included) is checked first, then
  the central directory's headers are counted one by one without keeping them, both
  before Python's zipfile parses the central directory into memory;
* entry names must be relative and stay inside OUTDIR: absolute paths (``/x``,
  ``\\x``, ``C:x``), ``..`` components, empty names and duplicates are rejected
  (zip-slip). Names without the UTF-8 flag are read as cp437 (the zip standard's
  legacy encoding); a name flagged UTF-8 that is not valid UTF-8, a name holding a
  control character, one that cannot be encoded for the file system, one longer than
  4096 bytes or with a component longer than 255 bytes is rejected;
* symbolic links and other special files (devices, FIFOs, sockets) are rejected,
  judged by the Unix mode in each entry's ``external_attr``;
* encrypted entries are rejected;
* the total uncompressed size is limited to ``--max-bytes`` (default 1 GiB) and to
  ``--max-ratio`` times the zip file's own size (default 100), both as the archive's
  headers claim it and as the bytes actually written while streaming, so an archive
  that lies about its sizes (a zip bomb) is stopped too;
* the file system holding OUTDIR must have the claimed total plus 64 MiB free.

Everything is written into a temporary sibling folder of OUTDIR, which is renamed
into place only when the whole archive has been extracted, so OUTDIR is either
absent, the previous complete result, or the new complete result; a rejected or
failed run leaves no partial output. OUTDIR holds ``manifest.json``::

    {"zip": "/abs/path.zip", "zip_sha256": "...", "files": [{"path": "a/b.csv",
     "size": 12, "rows": 3}], "total_bytes": 12}

``rows`` counts the data rows of ``.csv`` files (header excluded) and is null for
other files or for CSV files that cannot be read as UTF-8. A rerun whose OUTDIR
already holds a complete extraction of the same archive (same SHA-256, every listed
file present with its size) does nothing and succeeds; anything else is replaced.

Exit status: 0 on success (one summary line on stdout), 1 when OUTDIR is refused, the
archive is rejected or broken, or the output cannot be written (one line on stderr,
never a traceback), 2 for bad usage.
"""

import argparse
import collections
import copy
import csv
import errno
import hashlib
import json
import os
import shutil
import stat
import struct
import sys
import tempfile
import unicodedata
import zipfile
import zlib

from folder_rules import folder_refusal

MANIFEST = "manifest.json"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
DEFAULT_MAX_RATIO = 100
DEFAULT_MAX_ENTRIES = 100_000
FREE_SPACE_MARGIN = 64 << 20  # 64 MiB left free on OUTDIR's file system
MAX_NAME_BYTES = 4096  # Linux PATH_MAX: no longer entry name can be created
MAX_COMPONENT_BYTES = 255  # Linux NAME_MAX
CHUNK = 1 << 16

# Zip records read before zipfile sees the archive (APPNOTE 4.3.12, 4.3.14-4.3.16).
EOCD = struct.Struct("<4s4H2LH")  # signature, disks, entries here, entries, cd size, cd offset, comment length
EOCD_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # ..., entries here, entries, cd size, cd offset
ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")  # 46 bytes; name, extra, comment lengths at 10-12
CENTRAL_HEADER_SIGNATURE = b"PK\x01\x02"

Limits = collections.namedtuple("Limits", "max_bytes max_entries max_ratio zip_size")


class Rejected(Exception):
    """The archive is unsafe or broken; the message says why."""


class WriteFailed(Exception):
    """An entry could not be written (disk full, permissions...); the message says which and why."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="extract.py",
        description="Unpack a zip archive safely into OUTDIR and write OUTDIR/manifest.json.",
    )
    parser.add_argument("zip", metavar="ZIP", help="the zip archive to unpack")
    parser.add_argument("outdir", metavar="OUTDIR", help="the folder to create (replaced atomically)")
    parser.add_argument(
        "--within",
        metavar="DIR",
        help="refuse an OUTDIR that does not resolve to a folder strictly inside DIR (default: no check)",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        help="largest total uncompressed size accepted (default: %(default)s = 1 GiB)",
    )
    parser.add_argument(
        "--max-ratio",
        type=int,
        default=DEFAULT_MAX_RATIO,
        help="largest total uncompressed size accepted, as a multiple of the zip file's size (default: %(default)s)",
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
    if args.max_ratio < 1:
        parser.error("--max-ratio must be >= 1")
    if args.max_entries < 0:
        parser.error("--max-entries must be >= 0")
    if not os.path.isfile(args.zip):
        parser.error(f"ZIP {args.zip!r} is not a file")
    return args


def show(name):
    """An entry name for a message: quoted, escaped (one line) and cut if very long."""
    text = repr(name)
    return text if len(text) <= 100 else f"{text[:80]}...' ({len(name)} characters)"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_entry_count(handle, max_entries):
    """Count the entries without letting zipfile load the central directory.

    First the count claimed by the End Of Central Directory record (or the ZIP64 one),
    then the central directory's headers, walked one by one; raises Rejected past
    max_entries. The records are found the way zipfile finds them, so both read the
    same central directory.
    """
    size = handle.seek(0, os.SEEK_END)
    if size < EOCD.size:
        raise zipfile.BadZipFile("File is not a zip file (too short)")
    # The EOCD record ends the file, followed only by a comment of at most 65535 bytes.
    handle.seek(size - EOCD.size)
    tail = handle.read()
    if tail.startswith(EOCD_SIGNATURE) and tail.endswith(b"\0\0"):
        eocd_at = size - EOCD.size  # no comment
    else:
        start = max(size - (1 << 16) - EOCD.size, 0)
        handle.seek(start)
        tail = handle.read()
        found = tail.rfind(EOCD_SIGNATURE)
        if found < 0 or found + EOCD.size > len(tail):
            raise zipfile.BadZipFile("File is not a zip file (no end of central directory record)")
        eocd_at = start + found
        tail = tail[found : found + EOCD.size]
    _, _, _, here, total, cd_size, _, _ = EOCD.unpack(tail[: EOCD.size])
    cd_end = eocd_at  # the central directory ends where the (ZIP64) end records start

    # A ZIP64 locator right before the EOCD record points at the ZIP64 EOCD record,
    # which zipfile expects right before the locator.
    if eocd_at >= ZIP64_LOCATOR.size + ZIP64_EOCD.size:
        handle.seek(eocd_at - ZIP64_LOCATOR.size)
        if ZIP64_LOCATOR.unpack(handle.read(ZIP64_LOCATOR.size))[0] == ZIP64_LOCATOR_SIGNATURE:
            record_at = eocd_at - ZIP64_LOCATOR.size - ZIP64_EOCD.size
            handle.seek(record_at)
            record = ZIP64_EOCD.unpack(handle.read(ZIP64_EOCD.size))
            if record[0] == ZIP64_EOCD_SIGNATURE:
                here, total, cd_size = record[6], record[7], record[8]
                cd_end = record_at

    claimed = max(here, total)
    if claimed > max_entries:
        raise Rejected(
            f"archive has {claimed} entries (says its end of central directory record), "
            f"more than the limit of {max_entries} (--max-entries)"
        )
    # The record's count may lie: count the headers zipfile would parse.
    position, end, count = cd_end - cd_size, cd_end, 0
    if position < 0:
        raise zipfile.BadZipFile("Bad offset for central directory")
    while position < end:
        handle.seek(position)
        header = handle.read(CENTRAL_HEADER.size)
        if len(header) != CENTRAL_HEADER.size or not header.startswith(CENTRAL_HEADER_SIGNATURE):
            raise zipfile.BadZipFile("Bad central directory")
        fields = CENTRAL_HEADER.unpack(header)
        position += CENTRAL_HEADER.size + fields[10] + fields[11] + fields[12]
        count += 1
        if count > max_entries:
            raise Rejected(
                f"archive's central directory holds more than {max_entries} entries "
                f"(the limit, --max-entries) although its end record claims {claimed}"
            )


def safe_relative_path(name):
    """Return the entry name as a list of path parts (empty for "./"), or raise Rejected."""
    if not name:
        raise Rejected("an entry has an empty name")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise Rejected(f"entry {show(name)} has a control character in its name")
    if name.startswith(("/", "\\")) or (len(name) >= 2 and name[1] == ":"):
        raise Rejected(f"entry {show(name)} has an absolute path")
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise Rejected(f"entry {show(name)} points outside the output folder ('..')")
    try:  # the bytes the file system will be given for each part
        sizes = [len(part.encode(sys.getfilesystemencoding(), "surrogateescape")) for part in parts]
    except UnicodeEncodeError:
        raise Rejected(f"entry {show(name)} has a name this file system cannot hold") from None
    if sum(sizes) + len(sizes) > MAX_NAME_BYTES or max(sizes, default=0) > MAX_COMPONENT_BYTES:
        raise Rejected(f"entry {show(name)}: path too deep/long")
    return parts


def check_entry_type(info):
    """Reject symlinks and special files (Unix mode in the high 16 bits of external_attr)."""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise Rejected(f"entry {show(info.filename)} is a symbolic link")
    file_type = stat.S_IFMT(mode)
    if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
        raise Rejected(f"entry {show(info.filename)} is a special file (mode {mode:o})")
    if info.flag_bits & 0x1:
        raise Rejected(f"entry {show(info.filename)} is encrypted")


def check_total(size, limits, claimed):
    """Raise Rejected if size bytes (claimed by headers, or written so far) is over a limit."""
    lead = f"archive would unpack to {size} bytes" if claimed else f"archive unpacks to at least {size} bytes"
    if size > limits.max_bytes:
        raise Rejected(f"{lead}, more than the limit of {limits.max_bytes} (--max-bytes)")
    if size > limits.max_ratio * limits.zip_size:
        raise Rejected(
            f"{lead}, more than {limits.max_ratio} times its own {limits.zip_size} bytes (--max-ratio)"
        )


def plan(archive, limits):
    """Check every entry before writing anything; return [(info, parts, is_dir)]."""
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise Rejected(
            f"archive has {len(entries)} entries, more than the limit of {limits.max_entries} (--max-entries)"
        )
    check_total(sum(info.file_size for info in entries), limits, claimed=True)
    planned, files, dirs = [], set(), set()
    for info in entries:
        parts = safe_relative_path(info.filename)
        check_entry_type(info)
        key = "/".join(parts)
        is_dir = info.is_dir() or stat.S_ISDIR(info.external_attr >> 16)
        if not parts:
            if is_dir:
                continue  # "./": the output folder itself
            raise Rejected(f"entry {show(info.filename)} has an empty path")
        if key in files or (not is_dir and key in dirs):
            raise Rejected(f"entry {show(info.filename)} appears more than once")
        if not is_dir and key == MANIFEST:
            raise Rejected(f"entry {show(info.filename)} would clash with the {MANIFEST} this script writes")
        (dirs if is_dir else files).add(key)
        planned.append((info, parts, is_dir))
    for key in files:
        parents = key.split("/")[:-1]
        for depth in range(1, len(parents) + 1):
            if "/".join(parents[:depth]) in files:
                raise Rejected(f"entry {show(key)} lies inside {show('/'.join(parents[:depth]))}, which is a file")
    return planned


def check_free_space(outdir, needed):
    """Raise Rejected unless OUTDIR's file system has needed bytes plus the margin free."""
    existing = outdir
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    free = shutil.disk_usage(existing).free
    if free < needed + FREE_SPACE_MARGIN:
        raise Rejected(
            f"archive would unpack to {needed} bytes but only {free} bytes are free in {existing!r} "
            f"(needs that plus a margin of {FREE_SPACE_MARGIN} bytes)"
        )


def count_csv_rows(path):
    """Data rows of a CSV file (header and blank lines excluded), or None if unreadable."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            records = sum(1 for record in csv.reader(handle) if record)
    except (UnicodeDecodeError, csv.Error):
        return None
    return max(records - 1, 0)


def unpack(archive, planned, root, limits):
    """Stream every entry into root, counting the bytes really written."""
    real_root = os.path.realpath(root)
    written = 0
    files = []
    for info, parts, is_dir in planned:
        target = os.path.join(root, *parts)
        rel = "/".join(parts)
        try:
            if not os.path.realpath(target).startswith(real_root + os.sep):
                raise Rejected(f"entry {show(info.filename)} resolves outside the output folder")
            if is_dir:
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            size = 0
            # zipfile stops reading an entry at the size its header gives, and checks the CRC
            # there (which a forged header may match). Asked for one byte more and without the
            # CRC, it reads on, so an entry holding more than its header claims is told as
            # such; the CRC is checked here once the entry is read.
            probe = copy.copy(info)
            probe.file_size = info.file_size + 1
            del probe.CRC
            crc = 0
            with archive.open(probe) as source, open(target, "xb") as sink:
                while True:
                    chunk = source.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    written += len(chunk)
                    if size > info.file_size:
                        raise Rejected(f"entry {show(info.filename)} holds more data than its header claims")
                    check_total(written, limits, claimed=False)
                    crc = zlib.crc32(chunk, crc)
                    sink.write(chunk)
            if crc != info.CRC:
                raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
            rows = count_csv_rows(target) if rel.lower().endswith(".csv") else None
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:
                raise Rejected(f"entry {show(info.filename)}: path too deep/long") from error
            raise WriteFailed(f"entry {show(info.filename)}: {error.strerror or error}") from error
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


def open_archive(zip_path):
    """zipfile.ZipFile(zip_path), with a clear message for a name flagged UTF-8 that is not."""
    try:
        return zipfile.ZipFile(zip_path)
    except UnicodeDecodeError as error:
        raise Rejected(f"an entry name is marked UTF-8 but is not valid UTF-8 ({error.reason})") from None


def extract(zip_path, outdir, max_bytes, max_entries, max_ratio=DEFAULT_MAX_RATIO):
    """Extract zip_path into outdir; return (manifest, reused)."""
    zip_path = os.path.abspath(zip_path)
    outdir = os.path.abspath(outdir)
    digest = sha256_of(zip_path)
    manifest = existing_manifest_matches(outdir, digest)
    if manifest is not None:
        return manifest, True

    limits = Limits(max_bytes, max_entries, max_ratio, os.path.getsize(zip_path))
    with open(zip_path, "rb") as handle:
        check_entry_count(handle, max_entries)
    # Every check on the headers passes before the first folder is created.
    with open_archive(zip_path) as archive:
        planned = plan(archive, limits)
        check_free_space(outdir, sum(info.file_size for info, _, _ in planned))
        parent = os.path.dirname(outdir)
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(outdir)}.tmp-", dir=parent)
        try:
            files = unpack(archive, planned, staging, limits)
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


def fail(message):
    """Print message on stderr as one line and return exit status 1."""
    print("extract.py: " + " ".join(str(message).splitlines()), file=sys.stderr)
    return 1


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    refusal = folder_refusal("OUTDIR", args.outdir, args.within)
    if refusal:
        return fail(refusal)
    try:
        manifest, reused = extract(args.zip, args.outdir, args.max_bytes, args.max_entries, args.max_ratio)
    except Rejected as error:
        return fail(f"rejected {args.zip}: {error}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, UnicodeDecodeError,
            struct.error) as error:
        return fail(f"{args.zip} is broken or not a zip archive: {error}")
    except (WriteFailed, OSError) as error:
        return fail(f"could not extract {args.zip} into {args.outdir}: {error}")
    except Exception as error:  # anything unforeseen still ends as one line, not a traceback
        return fail(f"error: {type(error).__name__}: {error}")
    verb = "already extracted" if reused else "extracted"
    print(
        f"{verb} {len(manifest['files'])} files ({manifest['total_bytes']} bytes) "
        f"from {args.zip} into {args.outdir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
