"""Tests of scripts/aggregate.py: numbers against a hand computation, malformed input, outputs."""

import csv
import os
import unittest

from unittest import mock

from support import TempDirTestCase, load_script, make_zip, read_json, run_script


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


class AggregateTests(TempDirTestCase):
    def aggregate(self, indir, out, group_by="region", value="amount"):
        return run_script("aggregate.py", indir, out, "--group-by", group_by, "--value", value)

    def test_numbers_match_a_hand_computation(self):
        data = self.tmp / "files"
        write(data / "a.csv", "region,amount,note\nnorth,10,x\nsouth,2.5,y\nnorth,-4,z\n")
        write(data / "deeper" / "b.csv", "amount,region\n7,north\n1.5,south\n3,east\n\n")
        write(data / "manifest.json", '{"not": "csv"}')
        write(data / "readme.txt", "region,amount\nnorth,1000\n")
        result = self.aggregate(data, self.tmp / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), 1)

        report = read_json(self.tmp / "out" / "report.json")
        # By hand: north = 10, -4, 7; south = 2.5, 1.5; east = 3.
        self.assertEqual(report["files"], 2)
        self.assertEqual(report["rows"], 6)
        self.assertEqual(report["malformed_rows"], 0)
        self.assertEqual(report["skipped_files"], [])
        self.assertEqual(list(report["groups"]), ["east", "north", "south"])
        self.assertEqual(report["groups"]["north"], {"count": 3, "sum": 13, "min": -4, "max": 10, "mean": 13 / 3})
        self.assertEqual(report["groups"]["south"], {"count": 2, "sum": 4.0, "min": 1.5, "max": 2.5, "mean": 2.0})
        self.assertEqual(report["groups"]["east"], {"count": 1, "sum": 3, "min": 3, "max": 3, "mean": 3.0})
        self.assertIsInstance(report["groups"]["north"]["sum"], int)

        with open(self.tmp / "out" / "report.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        self.assertEqual(rows[0], ["group", "count", "sum", "min", "max", "mean"])
        self.assertEqual([r[0] for r in rows[1:]], ["east", "north", "south"])
        self.assertEqual(rows[2][:5], ["north", "3", "13", "-4", "10"])
        self.assertAlmostEqual(float(rows[2][5]), 13 / 3)
        self.assertEqual(self.leftovers(self.tmp / "out"), [])

    def test_report_json_is_written_last(self):
        # Whoever waits for report.json (a watcher, a test) must find report.csv there too.
        aggregate = load_script("aggregate")
        written = []
        real = aggregate.write_atomically

        def recording(path, write):
            real(path, write)
            written.append(os.path.basename(path))

        with mock.patch.object(aggregate, "write_atomically", side_effect=recording):
            aggregate.write_reports({"groups": {"a": {"count": 1, "sum": 1, "min": 1, "max": 1, "mean": 1.0}}}, str(self.tmp / "out"))
        self.assertEqual(written, ["report.csv", "report.json"])

    def test_malformed_rows_are_counted_not_fatal(self):
        data = self.tmp / "files"
        write(
            data / "messy.csv",
            "region,amount\n"
            "north,1\n"
            "south\n"  # missing column
            "north,abc\n"  # not a number
            "north,\n"  # empty value
            "south,nan\n"  # not finite
            "south,2,extra\n"  # too many fields
            "south, 4 \n",  # spaces around a number are fine
        )
        write(data / "other.csv", "name,score\nx,1\n")  # lacks both columns
        write(data / "empty.csv", "")
        write(data / "latin1.csv", "region,amount\nzürich,1\n", encoding="latin-1")
        result = self.aggregate(data, self.tmp / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = read_json(self.tmp / "out" / "report.json")
        self.assertEqual(report["files"], 1)
        self.assertEqual(report["rows"], 7)
        self.assertEqual(report["malformed_rows"], 5)
        self.assertEqual(
            [(e["path"], e["line"]) for e in report["malformed_examples"]],
            [("messy.csv", 3), ("messy.csv", 4), ("messy.csv", 5), ("messy.csv", 6), ("messy.csv", 7)],
        )
        self.assertEqual(report["malformed_examples"][1]["reason"], "amount is not a number: 'abc'")
        self.assertEqual(report["groups"], {
            "north": {"count": 1, "sum": 1, "min": 1, "max": 1, "mean": 1.0},
            "south": {"count": 1, "sum": 4, "min": 4, "max": 4, "mean": 4.0},
        })
        skipped = {entry["path"]: entry["reason"] for entry in report["skipped_files"]}
        self.assertEqual(sorted(skipped), ["empty.csv", "latin1.csv", "other.csv"])
        self.assertIn("'region'", skipped["other.csv"])
        self.assertIn("'amount'", skipped["other.csv"])
        self.assertIn("UTF-8", skipped["latin1.csv"])
        self.assertIn("messy.csv:3", result.stderr)  # examples name file and line
        self.assertIn("'abc'", result.stderr)
        self.assertIn("skipped other.csv", result.stderr)

    def test_output_may_be_the_input_folder_and_reruns_are_stable(self):
        data = self.tmp / "files"
        write(data / "a.csv", "region,amount\nnorth,1\nsouth,2\n")
        first = self.aggregate(data, data)
        self.assertEqual(first.returncode, 0, first.stderr)
        report = (data / "report.json").read_text()
        second = self.aggregate(data, data)  # report.csv must not be read as data
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual((data / "report.json").read_text(), report)
        self.assertEqual(read_json(data / "report.json")["files"], 1)
        self.assertEqual(sorted(os.listdir(data)), ["a.csv", "report.csv", "report.json"])

    def test_hidden_and_macos_metadata_files_are_ignored(self):
        data = self.tmp / "files"
        write(data / "a.csv", "region,amount\nnorth,1\n")
        write(data / "__MACOSX" / "._a.csv", "garbage")
        write(data / "._b.csv", "garbage")
        write(data / ".hidden" / "c.csv", "region,amount\nnorth,100\n")
        result = self.aggregate(data, self.tmp / "out")
        report = read_json(self.tmp / "out" / "report.json")
        self.assertEqual((report["files"], report["skipped_files"]), (1, []))
        self.assertEqual(report["groups"]["north"]["sum"], 1, result.stderr)

    def test_no_csv_files_gives_an_empty_report(self):
        data = self.tmp / "files"
        data.mkdir()
        result = self.aggregate(data, self.tmp / "a" / "b")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = read_json(self.tmp / "a" / "b" / "report.json")
        self.assertEqual(
            report,
            {"files": 0, "rows": 0, "malformed_rows": 0, "malformed_examples": [], "skipped_files": [], "groups": {}},
        )

    def test_bad_usage_exits_2(self):
        data = self.tmp / "files"
        data.mkdir()
        self.assertEqual(run_script("aggregate.py", data, self.tmp / "out").returncode, 2)  # no --group-by
        missing = self.aggregate(self.tmp / "missing", self.tmp / "out")
        self.assertEqual(missing.returncode, 2)
        self.assertIn("is not a folder", missing.stderr)

    def test_unicode_space_and_quote_names_end_to_end(self):
        """extract.py then aggregate.py, as the two jobs run them, on awkward names."""
        stem = "données \"q\" l'été, 日本"
        (self.tmp / "inbox").mkdir()
        archive = make_zip(
            self.tmp / "inbox" / f"{stem}.zip",
            {
                "sub dir/naïve \"quoted\" 'x'.csv": "ville,montant\nMünchen,1\n\"a, \"\"b\"\"\",2\n",
                "ünïcode.csv": "montant,ville\n3,München\n",
            },
        )
        work = self.tmp / "wörk"
        files = work / stem / "files"
        extracted = run_script("extract.py", archive, files)
        self.assertEqual(extracted.returncode, 0, extracted.stderr)
        result = self.aggregate(files, work / stem, group_by="ville", value="montant")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = read_json(work / stem / "report.json")
        self.assertEqual(report["files"], 2)
        self.assertEqual(report["skipped_files"], [])
        self.assertEqual(report["groups"], {
            'a, "b"': {"count": 1, "sum": 2, "min": 2, "max": 2, "mean": 2.0},
            "München": {"count": 2, "sum": 4, "min": 1, "max": 3, "mean": 2.0},
        })
        with open(work / stem / "report.csv", newline="", encoding="utf-8") as handle:
            self.assertEqual([row[0] for row in csv.reader(handle)], ["group", "München", 'a, "b"'])  # by code point


if __name__ == "__main__":
    unittest.main()
