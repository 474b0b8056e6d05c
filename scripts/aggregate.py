#!/usr/bin/env python3
"""Summarise a numeric column of every CSV file under a folder, grouped by another column.

Usage: aggregate.py INDIR OUT --group-by COLUMN --value COLUMN

Every ``*.csv`` file under INDIR (recursively, in sorted order) is read as UTF-8 with a
header row. Hidden files and folders (names starting with ``.``, which also covers
macOS ``._`` resource forks), ``__MACOSX`` folders, and the reports this script writes
are left out. Rows are grouped by the ``--group-by`` column, and for each group the
``--value`` column gives ``count``, ``sum``, ``min``, ``max`` and ``mean``.

Nothing in the data is fatal:

* a row with a different number of fields than the header, or whose value is not a
  finite number, is a *malformed row*: counted, left out of the groups, and the first
  few are shown on stderr;
* a file that lacks either column, has no header, or cannot be read as UTF-8 CSV is a
  *skipped file*, listed with its reason; none of its rows count.

Blank lines are ignored. Integers stay integers in ``sum``, ``min`` and ``max``.

Output, written atomically (temporary file, then rename) into OUT, created if needed
(OUT may be INDIR itself):

* ``OUT/report.json``::

      {"files": 2, "rows": 10, "malformed_rows": 1,
       "skipped_files": [{"path": "x.csv", "reason": "..."}],
       "groups": {"a": {"count": 4, "sum": 10, "min": 1, "max": 4, "mean": 2.5}}}

  ``files`` counts the CSV files read, ``rows`` their data rows (malformed included),
  ``groups`` is sorted by name; paths are relative to INDIR.
* ``OUT/report.csv``: ``group,count,sum,min,max,mean``, one line per group.

Exit status: 0 on success (one summary line on stdout), 1 if the report cannot be
written, 2 for bad usage.
"""

import argparse
import csv
import json
import math
import os
import sys
import tempfile

REPORT_JSON = "report.json"
REPORT_CSV = "report.csv"
EXAMPLES_SHOWN = 5


class SkippedFile(Exception):
    """The file as a whole cannot be used; the message says why."""


class Group:
    """Running statistics of one group."""

    def __init__(self):
        self.count = 0
        self.sum = 0
        self.min = None
        self.max = None

    def add(self, value):
        self.count += 1
        self.sum += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)

    def merge(self, other):
        self.count += other.count
        self.sum += other.sum
        for value in (other.min, other.max):
            if value is not None:
                self.min = value if self.min is None else min(self.min, value)
                self.max = value if self.max is None else max(self.max, value)

    def as_dict(self):
        return {
            "count": self.count,
            "sum": self.sum,
            "min": self.min,
            "max": self.max,
            "mean": self.sum / self.count if self.count else None,
        }


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="aggregate.py",
        description="Group the rows of every CSV file under INDIR and summarise a numeric column.",
    )
    parser.add_argument("indir", metavar="INDIR", help="folder searched recursively for *.csv files")
    parser.add_argument("out", metavar="OUT", help="folder for report.json and report.csv (created if missing)")
    parser.add_argument("--group-by", required=True, metavar="COLUMN", help="column whose values name the groups")
    parser.add_argument("--value", required=True, metavar="COLUMN", help="numeric column to summarise")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.indir):
        parser.error(f"INDIR {args.indir!r} is not a folder")
    return args


def parse_number(text):
    """An int or a finite float, or None if text is not a number."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def csv_files(indir, excluded):
    """Paths of the CSV files under indir, sorted, without hidden ones or excluded paths."""
    found = []
    for folder, subfolders, names in os.walk(indir):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d != "__MACOSX")
        for name in names:
            path = os.path.join(folder, name)
            if name.startswith(".") or not name.lower().endswith(".csv"):
                continue
            if os.path.realpath(path) in excluded:
                continue
            found.append(path)
    return sorted(found, key=lambda p: os.path.relpath(p, indir))


def read_file(path, group_by, value_column, malformed):
    """Return (groups, rows) of one file; append (line, reason) to malformed.

    Raises SkippedFile if the file cannot be used at all.
    """
    groups, rows = {}, 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next((record for record in reader if record), None)
            if header is None:
                raise SkippedFile("empty file (no header row)")
            header = [column.strip() for column in header]
            missing = [c for c in (group_by, value_column) if c not in header]
            if missing:
                raise SkippedFile("no column " + ", ".join(repr(c) for c in missing))
            group_index, value_index = header.index(group_by), header.index(value_column)
            for record in reader:
                if not record:
                    continue
                rows += 1
                if len(record) != len(header):
                    malformed.append((reader.line_num, f"{len(record)} fields, header has {len(header)}"))
                    continue
                value = parse_number(record[value_index])
                if value is None:
                    malformed.append((reader.line_num, f"{value_column} is not a number: {record[value_index]!r}"))
                    continue
                groups.setdefault(record[group_index], Group()).add(value)
    except UnicodeDecodeError as error:
        raise SkippedFile(f"not UTF-8 text: {error}") from error
    except csv.Error as error:
        raise SkippedFile(f"not valid CSV: {error}") from error
    return groups, rows


def aggregate(indir, out, group_by, value_column):
    """Build the report dictionary and print malformed-row examples on stderr."""
    excluded = {os.path.realpath(os.path.join(out, name)) for name in (REPORT_JSON, REPORT_CSV)}
    groups, rows, files, skipped, malformed_rows, shown = {}, 0, 0, [], 0, 0
    for path in csv_files(indir, excluded):
        rel = os.path.relpath(path, indir).replace(os.sep, "/")
        malformed = []
        try:
            file_groups, file_rows = read_file(path, group_by, value_column, malformed)
        except (SkippedFile, OSError) as error:
            skipped.append({"path": rel, "reason": str(error)})
            print(f"aggregate.py: skipped {rel}: {error}", file=sys.stderr)
            continue
        files += 1
        rows += file_rows
        malformed_rows += len(malformed)
        for line, reason in malformed:
            if shown < EXAMPLES_SHOWN:
                print(f"aggregate.py: malformed row {rel}:{line}: {reason}", file=sys.stderr)
                shown += 1
        for name, group in file_groups.items():
            groups.setdefault(name, Group()).merge(group)
    if malformed_rows > shown:
        print(f"aggregate.py: ... {malformed_rows - shown} more malformed rows", file=sys.stderr)
    return {
        "files": files,
        "rows": rows,
        "malformed_rows": malformed_rows,
        "skipped_files": skipped,
        "groups": {name: groups[name].as_dict() for name in sorted(groups)},
    }


def write_atomically(path, write):
    """Call write(handle) on a temporary file beside path, then rename it onto path."""
    folder, name = os.path.split(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_reports(report, out):
    os.makedirs(out, exist_ok=True)

    def write_json(handle):
        json.dump(report, handle, indent=2, ensure_ascii=False)
        handle.write("\n")

    def write_csv(handle):
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["group", "count", "sum", "min", "max", "mean"])
        for name, stats in report["groups"].items():
            writer.writerow([name, stats["count"], stats["sum"], stats["min"], stats["max"], stats["mean"]])

    write_atomically(os.path.join(out, REPORT_JSON), write_json)
    write_atomically(os.path.join(out, REPORT_CSV), write_csv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    report = aggregate(args.indir, args.out, args.group_by, args.value)
    try:
        write_reports(report, args.out)
    except OSError as error:
        print(f"aggregate.py: could not write the report into {args.out}: {error}", file=sys.stderr)
        return 1
    print(
        f"aggregated {report['rows']} rows from {report['files']} files into {len(report['groups'])} groups "
        f"({report['malformed_rows']} malformed rows, {len(report['skipped_files'])} skipped files) "
        f"-> {os.path.join(args.out, REPORT_JSON)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
