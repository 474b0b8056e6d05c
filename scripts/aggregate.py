#!/usr/bin/env python3
"""Summarise a numeric column of every CSV file under a folder, grouped by another column.

Usage: aggregate.py INDIR OUT --group-by COLUMN --value COLUMN [--within DIR] [--max-groups N]

Every ``*.csv`` file under INDIR (recursively, in sorted order) is read as UTF-8 with a
header row. Hidden files and folders (names starting with ``.``, which also covers
macOS ``._`` resource forks), ``__MACOSX`` folders, and the reports this script writes
are left out. Rows are grouped by the ``--group-by`` column, and for each group the
``--value`` column gives ``count``, ``sum``, ``min``, ``max`` and ``mean``.

The data may come from untrusted senders, so the folders are checked first and memory
stays bounded whatever the files hold:

* OUT's last component may not be empty, ``.`` or ``..`` (``work/``, ``work/..``); with
  ``--within DIR``, both OUT and INDIR must resolve (symbolic links of existing parents
  followed) to folders strictly inside DIR, never DIR itself. Without ``--within`` they
  may be anywhere. A refused folder is one line on stderr, exit 1, nothing written.
* files are streamed row by row, never read whole; a record (one CSV row, including
  quoted line breaks) longer than 1 MiB characters makes its file a skipped file, as
  does a field over the csv module's limit (128 KiB);
* malformed rows are counted, and only the first 10 are kept as examples;
* at most ``--max-groups`` distinct groups (default 100000): one more stops the run
  with a one-line error (exit 1) and no report.

Nothing else in the data is fatal:

* a row with a different number of fields than the header, whose value is not a
  finite number, or whose group name is longer than 1000 characters, is a *malformed
  row*: counted, left out of the groups, and the first 10 are shown on stderr and in
  the report;
* a file that lacks either column, has no header, or cannot be read as UTF-8 CSV is a
  *skipped file*, listed with its reason; none of its rows count.

Blank lines are ignored. Integers stay integers in ``sum``, ``min`` and ``max``.

Output, written atomically (temporary file, then rename) into OUT, created if needed
(OUT may be INDIR itself); report.json last, so that once it is there both are:

* ``OUT/report.json``::

      {"files": 2, "rows": 10, "malformed_rows": 1,
       "malformed_examples": [{"path": "x.csv", "line": 3, "reason": "..."}],
       "skipped_files": [{"path": "x.csv", "reason": "..."}],
       "groups": {"a": {"count": 4, "sum": 10, "min": 1, "max": 4, "mean": 2.5}}}

  ``files`` counts the CSV files read, ``rows`` their data rows (malformed included),
  ``malformed_rows`` all malformed rows and ``malformed_examples`` the first 10 of
  them, ``groups`` is sorted by name; paths are relative to INDIR.
* ``OUT/report.csv``: ``group,count,sum,min,max,mean``, one line per group.

Exit status: 0 on success (one summary line on stdout), 1 if a folder is refused, there
are too many groups, or the report cannot be written (one line on stderr, never a
traceback), 2 for bad usage.
"""

import argparse
import csv
import json
import math
import os
import sys
import tempfile

from folder_rules import folder_refusal

REPORT_JSON = "report.json"
REPORT_CSV = "report.csv"
EXAMPLES_KEPT = 10  # malformed rows shown on stderr and kept in the report
DEFAULT_MAX_GROUPS = 100_000
MAX_RECORD_CHARS = 1 << 20  # one CSV record, quoted line breaks included
MAX_GROUP_NAME = 1000  # characters; longer group names are malformed rows


class SkippedFile(Exception):
    """The file as a whole cannot be used; the message says why."""


class TooManyGroups(Exception):
    """The data holds more distinct groups than --max-groups; the message says where."""


class Group:
    """Running statistics of one group."""

    __slots__ = ("count", "sum", "min", "max")

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


class Malformed:
    """A count of malformed rows and the first few of them, never more."""

    def __init__(self, keep):
        self.count = 0
        self.keep = keep
        self.examples = []  # {"path", "line", "reason"}

    def add(self, path, line, reason):
        self.count += 1
        if len(self.examples) < self.keep:
            self.examples.append({"path": path, "line": line, "reason": reason})


class Lines:
    """The lines of a text file for csv.reader, refusing a record over MAX_RECORD_CHARS.

    csv.reader pulls as many lines as one record needs (more than one inside quotes);
    the caller resets `pending` after each record, so a single huge record (a line of
    millions of fields, or endless quoted lines) is refused before it is built.
    """

    def __init__(self, handle):
        self.handle = handle
        self.pending = 0

    def __iter__(self):
        return self

    def __next__(self):
        line = self.handle.readline(MAX_RECORD_CHARS + 1)
        if not line:
            raise StopIteration
        self.pending += len(line)
        if self.pending > MAX_RECORD_CHARS:
            raise SkippedFile(f"a record is longer than {MAX_RECORD_CHARS} characters")
        return line


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="aggregate.py",
        description="Group the rows of every CSV file under INDIR and summarise a numeric column.",
    )
    parser.add_argument("indir", metavar="INDIR", help="folder searched recursively for *.csv files")
    parser.add_argument("out", metavar="OUT", help="folder for report.json and report.csv (created if missing)")
    parser.add_argument("--group-by", required=True, metavar="COLUMN", help="column whose values name the groups")
    parser.add_argument("--value", required=True, metavar="COLUMN", help="numeric column to summarise")
    parser.add_argument(
        "--within",
        metavar="DIR",
        help="refuse an INDIR or OUT that does not resolve to a folder strictly inside DIR (default: no check)",
    )
    parser.add_argument(
        "--max-groups",
        type=int,
        default=DEFAULT_MAX_GROUPS,
        metavar="N",
        help="largest number of distinct groups accepted (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.max_groups < 0:
        parser.error("--max-groups must be >= 0")
    if not os.path.isdir(args.indir):
        parser.error(f"INDIR {args.indir!r} is not a folder")
    return args


def shorten(text, limit=60):
    """repr(text), cut to about limit characters for a one-line message."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


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


def read_file(path, rel, group_by, value_column, known, max_groups, malformed):
    """Return (groups, rows) of one file, streaming it; malformed rows go to malformed.

    known holds the groups of the files read before: a new name counts towards
    max_groups, and one too many raises TooManyGroups. Raises SkippedFile if the
    file cannot be used at all.
    """
    groups, rows, new_names = {}, 0, 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = Lines(handle)
            reader = csv.reader(lines)
            header = None
            for record in reader:  # the first non-blank record
                lines.pending = 0
                if record:
                    header = record
                    break
            if header is None:
                raise SkippedFile("empty file (no header row)")
            header = [column.strip() for column in header]
            missing = [c for c in (group_by, value_column) if c not in header]
            if missing:
                raise SkippedFile("no column " + ", ".join(repr(c) for c in missing))
            group_index, value_index = header.index(group_by), header.index(value_column)
            for record in reader:
                lines.pending = 0  # this record is complete
                if not record:
                    continue
                rows += 1
                line = reader.line_num
                if len(record) != len(header):
                    malformed.add(rel, line, f"{len(record)} fields, header has {len(header)}")
                    continue
                value = parse_number(record[value_index])
                if value is None:
                    malformed.add(rel, line, f"{value_column} is not a number: {shorten(record[value_index])}")
                    continue
                name = record[group_index]
                if len(name) > MAX_GROUP_NAME:
                    malformed.add(rel, line, f"{group_by} is longer than {MAX_GROUP_NAME} characters")
                    continue
                group = groups.get(name)
                if group is None:
                    if name not in known:
                        new_names += 1
                        if len(known) + new_names > max_groups:
                            raise TooManyGroups(
                                f"{rel}:{line}: more than {max_groups} distinct {group_by!r} groups (--max-groups)"
                            )
                    group = groups[name] = Group()
                group.add(value)
    except UnicodeDecodeError as error:
        raise SkippedFile(f"not UTF-8 text: {error}") from error
    except csv.Error as error:
        raise SkippedFile(f"not valid CSV: {error}") from error
    return groups, rows


def aggregate(indir, out, group_by, value_column, max_groups=DEFAULT_MAX_GROUPS):
    """Build the report dictionary and print malformed-row examples on stderr."""
    excluded = {os.path.realpath(os.path.join(out, name)) for name in (REPORT_JSON, REPORT_CSV)}
    groups, rows, files, skipped = {}, 0, 0, []
    malformed = Malformed(EXAMPLES_KEPT)
    for path in csv_files(indir, excluded):
        rel = os.path.relpath(path, indir).replace(os.sep, "/")
        # A skipped file's malformed rows do not count: collect them apart first.
        file_malformed = Malformed(EXAMPLES_KEPT - len(malformed.examples))
        try:
            file_groups, file_rows = read_file(path, rel, group_by, value_column, groups, max_groups, file_malformed)
        except (SkippedFile, OSError) as error:
            skipped.append({"path": rel, "reason": str(error)})
            print(f"aggregate.py: skipped {rel}: {error}", file=sys.stderr)
            continue
        files += 1
        rows += file_rows
        malformed.count += file_malformed.count
        malformed.examples += file_malformed.examples
        for example in file_malformed.examples:
            where = f"{example['path']}:{example['line']}"
            print(f"aggregate.py: malformed row {where}: {example['reason']}", file=sys.stderr)
        for name, group in file_groups.items():
            groups.setdefault(name, Group()).merge(group)
    if malformed.count > len(malformed.examples):
        print(f"aggregate.py: ... {malformed.count - len(malformed.examples)} more malformed rows", file=sys.stderr)
    return {
        "files": files,
        "rows": rows,
        "malformed_rows": malformed.count,
        "malformed_examples": malformed.examples,
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

    # report.json last: whoever waits for it (a watcher, a test) finds report.csv there too.
    write_atomically(os.path.join(out, REPORT_CSV), write_csv)
    write_atomically(os.path.join(out, REPORT_JSON), write_json)


def fail(message):
    """Print message on stderr as one line and return exit status 1."""
    print("aggregate.py: " + " ".join(str(message).splitlines()), file=sys.stderr)
    return 1


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for label, path in (("OUT", args.out), ("INDIR", args.indir)):
        refusal = folder_refusal(label, path, args.within, check_last=(label == "OUT"))
        if refusal:
            return fail(refusal)
    try:
        report = aggregate(args.indir, args.out, args.group_by, args.value, args.max_groups)
    except TooManyGroups as error:
        return fail(f"refusing {args.indir}: {error}; no report written")
    except Exception as error:  # anything unforeseen still ends as one line, not a traceback
        return fail(f"error: {type(error).__name__}: {error}")
    try:
        write_reports(report, args.out)
    except OSError as error:
        return fail(f"could not write the report into {args.out}: {error}")
    except Exception as error:
        return fail(f"error: {type(error).__name__}: {error}")
    print(
        f"aggregated {report['rows']} rows from {report['files']} files into {len(report['groups'])} groups "
        f"({report['malformed_rows']} malformed rows, {len(report['skipped_files'])} skipped files) "
        f"-> {os.path.join(args.out, REPORT_JSON)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
