"""Tests of scripts/aggregate.py against untrusted data: --within, bounded memory for
malformed rows and huge records, the group cap, and one-line errors."""

import contextlib
import io
import os
import unittest
from unittest import mock

from support import TempDirTestCase, load_script, read_json, run_script, run_script_measured


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class AggregateHardeningTests(TempDirTestCase):
    def aggregate(self, indir, out, *options, **kwargs):
        return run_script("aggregate.py", indir, out, "--group-by", "region", "--value", "amount", *options, **kwargs)

    # --within and the output folder's name

    def test_out_resolving_outside_within_is_refused_and_nothing_is_written(self):
        work = self.tmp / "work"
        files = work / "data" / "files"
        write(files / "a.csv", "region,amount\nnorth,1\n")
        before = sorted(os.listdir(self.tmp))
        out = f"{work}/../report"
        result = self.aggregate(files, out, "--within", work)
        self.assert_one_line_error(
            result, f"refusing OUT '{out}'", f"resolves to '{self.tmp / 'report'}'", "outside --within"
        )
        self.assertEqual(sorted(os.listdir(self.tmp)), before, "WORK's parent must be untouched")
        self.assertEqual(sorted(os.listdir(work / "data")), ["files"])

    def test_out_ending_in_dotdot_is_refused_even_without_within(self):
        work = self.tmp / "work"
        files = work / "data" / "files"
        write(files / "a.csv", "region,amount\nnorth,1\n")
        before = sorted(os.listdir(self.tmp))
        for out, what in ((f"{work}/..", "'..'"), (f"{work}/.", "'.'"), (f"{work}/", "empty")):
            with self.subTest(out=out):
                self.assert_one_line_error(self.aggregate(files, out), f"last component is {what}")
                self.assertEqual(sorted(os.listdir(self.tmp)), before)
                self.assertEqual(sorted(os.listdir(work)), ["data"])

    def test_indir_outside_within_and_within_itself_are_refused(self):
        work = self.tmp / "work"
        outside = self.tmp / "outside"
        write(outside / "a.csv", "region,amount\nnorth,1\n")
        result = self.aggregate(outside, work / "data", "--within", work)
        self.assert_one_line_error(result, "refusing INDIR", "outside --within")
        result = self.aggregate(outside, work, "--within", work)
        self.assert_one_line_error(result, f"refusing OUT '{work}'", "itself")
        self.assertFalse(work.exists())

    def test_folders_inside_within_are_accepted(self):
        work = self.tmp / "work"
        write(work / "data" / "files" / "a.csv", "region,amount\nnorth,1\n")
        result = self.aggregate(work / "data" / "files", work / "data", "--within", work)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(read_json(work / "data" / "report.json")["groups"]["north"]["sum"], 1)

    # Bounded memory

    def test_6_mb_of_malformed_rows_aggregates_in_bounded_memory(self):
        # Before the fix every malformed row was kept: this file took 556 MB.
        rows = 3_000_000
        write(self.tmp / "files" / "bad.csv", "region,amount\n" + "x\n" * rows)  # 1 field, header has 2
        self.assertGreater((self.tmp / "files" / "bad.csv").stat().st_size, 6_000_000)
        result = run_script_measured(
            "aggregate.py", self.tmp / "files", self.tmp / "out", "--group-by", "region", "--value", "amount"
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertLess(result.peak_kib, 100_000, "peak RSS in KiB")
        report = read_json(self.tmp / "out" / "report.json")
        self.assertEqual((report["rows"], report["malformed_rows"]), (rows, rows))
        self.assertEqual(len(report["malformed_examples"]), 10)
        first = {"path": "bad.csv", "line": 2, "reason": "1 fields, header has 2"}
        self.assertEqual(report["malformed_examples"][0], first)
        self.assertEqual(len(result.stderr.splitlines()), 11)  # 10 examples and "... N more"
        self.assertIn(f"{rows - 10} more malformed rows", result.stderr)

    def test_examples_are_capped_across_files_and_skipped_files_do_not_count(self):
        write(self.tmp / "files" / "a.csv", "region,amount\n" + "x\n" * 7)
        write(self.tmp / "files" / "b.csv", "region,amount\n" + "y\n" * 7)
        # c.csv has malformed rows, then bytes that are not UTF-8 (past the first block the
        # decoder reads): it is skipped and its malformed rows do not count.
        (self.tmp / "files" / "c.csv").write_bytes(b"region,amount\n" + b"z\n" * 10_000 + b"\xff\n")
        result = self.aggregate(self.tmp / "files", self.tmp / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = read_json(self.tmp / "out" / "report.json")
        self.assertEqual(report["malformed_rows"], 14)
        self.assertEqual([e["path"] for e in report["malformed_examples"]], ["a.csv"] * 7 + ["b.csv"] * 3)
        self.assertEqual([s["path"] for s in report["skipped_files"]], ["c.csv"])

    def test_a_huge_record_skips_its_file(self):
        write(self.tmp / "files" / "wide.csv", "region,amount\nnorth,1\n" + "," * 1_500_000 + "\n")
        # Quoted fields under the csv module's 128 KiB limit, with line breaks: one record, many lines.
        field = '"' + "a\n" * 50_000 + '"'
        write(self.tmp / "files" / "quoted.csv", "region,amount\nnorth,1\n" + ",".join([field] * 12) + "\n")
        write(self.tmp / "files" / "ok.csv", "region,amount\nnorth,2\n")
        result = run_script_measured(
            "aggregate.py", self.tmp / "files", self.tmp / "out", "--group-by", "region", "--value", "amount"
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertLess(result.peak_kib, 100_000, "peak RSS in KiB")
        report = read_json(self.tmp / "out" / "report.json")
        reasons = {s["path"]: s["reason"] for s in report["skipped_files"]}
        self.assertEqual(sorted(reasons), ["quoted.csv", "wide.csv"])
        self.assertIn("a record is longer than 1048576 characters", reasons["wide.csv"])
        self.assertIn("a record is longer than 1048576 characters", reasons["quoted.csv"])
        self.assertEqual(report["groups"]["north"]["sum"], 2)  # none of the skipped files' rows

    def test_overlong_group_name_is_a_malformed_row(self):
        write(self.tmp / "files" / "a.csv", "region,amount\n" + "r" * 1001 + ",1\nnorth,2\n")
        result = self.aggregate(self.tmp / "files", self.tmp / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = read_json(self.tmp / "out" / "report.json")
        self.assertEqual(report["malformed_rows"], 1)
        self.assertEqual(list(report["groups"]), ["north"])
        self.assertIn("longer than 1000 characters", report["malformed_examples"][0]["reason"])

    # The group cap

    def test_too_many_groups_is_refused(self):
        files = self.tmp / "files"
        write(files / "a.csv", "region,amount\ng1,1\ng2,1\ng3,1\n")
        write(files / "b.csv", "region,amount\ng3,1\ng4,1\ng5,1\ng1,1\n")  # 5 distinct in all
        fine = self.aggregate(files, self.tmp / "out", "--max-groups", "5")
        self.assertEqual(fine.returncode, 0, fine.stderr)
        self.assertEqual(len(read_json(self.tmp / "out" / "report.json")["groups"]), 5)

        write(files / "c.csv", "region,amount\ng1,1\ng6,1\n")
        result = self.aggregate(files, self.tmp / "out2", "--max-groups", "5")
        self.assert_one_line_error(result, "c.csv:3", "more than 5 distinct 'region' groups", "--max-groups")
        self.assertFalse((self.tmp / "out2").exists(), "no report when refused")

    def test_default_group_cap_applies(self):
        rows = "".join(f"g{i},1\n" for i in range(100_001))
        write(self.tmp / "files" / "a.csv", "region,amount\n" + rows)
        result = self.aggregate(self.tmp / "files", self.tmp / "out")
        self.assert_one_line_error(result, "more than 100000 distinct", "a.csv:100002")

    # The unexpected

    def test_unexpected_exception_is_a_one_line_error(self):
        aggregate = load_script("aggregate")
        (self.tmp / "files").mkdir()
        argv = [str(self.tmp / "files"), str(self.tmp / "out"), "--group-by", "r", "--value", "v"]
        stderr = io.StringIO()
        with mock.patch.object(aggregate, "csv_files", side_effect=RuntimeError("boom")):
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                status = aggregate.main(argv)
        self.assertEqual((status, stderr.getvalue()), (1, "aggregate.py: error: RuntimeError: boom\n"))
        self.assertFalse((self.tmp / "out").exists())


if __name__ == "__main__":
    unittest.main()
