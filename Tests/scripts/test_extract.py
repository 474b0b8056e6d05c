"""Tests of scripts/extract.py: normal use, zip-slip, symlinks, zip bombs, limits, reruns."""

import os
import struct
import zlib
import unittest
import zipfile

from support import TempDirTestCase, load_script, make_zip, read_json, run_script

CSV = "region,amount\nnorth,1\nsouth,2\n\nnorth,3\n"


class ExtractTests(TempDirTestCase):
    def extract(self, zip_path, outdir, *options):
        return run_script("extract.py", *options, zip_path, outdir)

    def assert_rejected(self, result, outdir, *fragments):
        self.assertEqual(result.returncode, 1, result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertFalse(outdir.exists(), "a rejected archive must leave no output folder")
        self.assertEqual(self.leftovers(outdir.parent), [], "temporary folders must be removed")

    def test_normal_extract_writes_files_and_manifest(self):
        archive = make_zip(
            self.tmp / "data.zip",
            {"a.csv": CSV, "sub/": b"", "sub/b.csv": "x,y\n", "sub/notes.txt": "hello"},
        )
        outdir = self.tmp / "work" / "data" / "files"  # parents are created
        result = self.extract(archive, outdir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), 1)
        self.assertIn("extracted 3 files", result.stdout)
        self.assertEqual((outdir / "a.csv").read_text(), CSV)
        self.assertEqual((outdir / "sub" / "notes.txt").read_text(), "hello")
        manifest = read_json(outdir / "manifest.json")
        self.assertEqual(manifest["zip"], str(archive))
        self.assertEqual(
            manifest["files"],
            [
                {"path": "a.csv", "size": len(CSV), "rows": 3},
                {"path": "sub/b.csv", "size": 4, "rows": 0},
                {"path": "sub/notes.txt", "size": 5, "rows": None},
            ],
        )
        self.assertEqual(manifest["total_bytes"], len(CSV) + 4 + 5)
        self.assertEqual(self.leftovers(outdir.parent), [])

    def test_zip_slip_parent_directory_is_rejected(self):
        for name in ("../x", "a/../../x", "a/../x", "..\\x"):
            with self.subTest(name=name):
                archive = make_zip(self.tmp / "slip.zip", {"ok.txt": "ok", name: "evil"})
                outdir = self.tmp / "out"
                self.assert_rejected(self.extract(archive, outdir), outdir, "'..'")
                self.assertFalse((self.tmp / "x").exists())

    def test_absolute_paths_are_rejected(self):
        for name in ("/abs", "/tmp/hypha-evil", "\\abs", "C:/abs"):
            with self.subTest(name=name):
                archive = make_zip(self.tmp / "abs.zip", {"ok.txt": "ok", name: "evil"})
                outdir = self.tmp / "out"
                self.assert_rejected(self.extract(archive, outdir), outdir, "absolute path")
        self.assertFalse(os.path.exists("/tmp/hypha-evil"))

    def test_symlink_entry_is_rejected(self):
        link = zipfile.ZipInfo("link")
        link.create_system = 3  # Unix
        link.external_attr = (0o120777 << 16)
        archive = make_zip(self.tmp / "link.zip", [("a.txt", "a"), (link, "/etc/passwd")])
        outdir = self.tmp / "out"
        self.assert_rejected(self.extract(archive, outdir), outdir, "symbolic link")

    def test_special_file_entry_is_rejected(self):
        fifo = zipfile.ZipInfo("fifo")
        fifo.external_attr = (0o010644 << 16)
        archive = make_zip(self.tmp / "fifo.zip", [(fifo, "")])
        outdir = self.tmp / "out"
        self.assert_rejected(self.extract(archive, outdir), outdir, "special file")

    def test_zip_bomb_over_the_limit_is_rejected(self):
        archive = make_zip(self.tmp / "bomb.zip", {"zeros.bin": bytes(2_000_000)})
        self.assertLess(archive.stat().st_size, 10_000)  # it really is a bomb
        outdir = self.tmp / "out"
        result = self.extract(archive, outdir, "--max-bytes", "1000000")
        self.assert_rejected(result, outdir, "limit of 1000000", "--max-bytes")
        # The same archive is fine under higher limits (its ratio is about 1000, over the
        # default --max-ratio of 100).
        ok = self.extract(archive, outdir, "--max-bytes", "2000000", "--max-ratio", "10000")
        self.assertEqual(ok.returncode, 0, ok.stderr)

    def understating_zip(self, name, crc=None):
        """A zip of 100,000 zeros whose local and central headers claim 10 bytes (and, with
        `crc`, give that CRC)."""
        archive = make_zip(self.tmp / name, {"zeros.bin": bytes(100_000)})
        raw = bytearray(archive.read_bytes())
        real = struct.pack("<I", 100_000)
        for signature, crc_at, size_at in ((b"PK\x03\x04", 14, 22), (b"PK\x01\x02", 16, 24)):
            at = raw.index(signature)
            self.assertEqual(raw[at + size_at : at + size_at + 4], real)
            raw[at + size_at : at + size_at + 4] = struct.pack("<I", 10)
            if crc is not None:
                raw[at + crc_at : at + crc_at + 4] = struct.pack("<I", crc)
        archive.write_bytes(bytes(raw))
        return archive

    def assert_refused_as_holding_more(self, archive, *options):
        outdir = self.tmp / "out"
        result = self.extract(archive, outdir, *options)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("holds more data than its header claims", result.stderr)
        self.assertFalse(outdir.exists())

    def test_archive_whose_header_understates_its_size_is_rejected(self):
        self.assert_refused_as_holding_more(self.understating_zip("liar.zip"), "--max-bytes", "1000")
        self.assertEqual(self.leftovers(), [])

    def test_entry_with_a_forged_size_and_crc_is_rejected(self):
        # The header claims 10 bytes and gives the CRC of 10 zeros: zipfile alone would
        # extract 10 bytes without complaint.
        forged = self.understating_zip("forged.zip", crc=zlib.crc32(bytes(10)))
        self.assert_refused_as_holding_more(forged, "--max-ratio", "1000000")

    def test_streaming_check_counts_bytes_actually_written(self):
        extract = load_script("extract")
        archive = make_zip(self.tmp / "two.zip", {"a.bin": bytes(3000), "b.bin": bytes(3000)})
        staging = self.tmp / "staging"
        staging.mkdir()
        size = archive.stat().st_size
        with zipfile.ZipFile(archive) as zf:
            planned = extract.plan(zf, extract.Limits(max_bytes=10_000, max_entries=10, max_ratio=1000, zip_size=size))
            # Pretend the headers passed the check, then limit what may be written.
            with self.assertRaisesRegex(extract.Rejected, "more than the limit of 5000"):
                extract.unpack(zf, planned, str(staging), extract.Limits(5000, 10, 1000, size))

    def test_too_many_entries_is_rejected(self):
        archive = make_zip(self.tmp / "many.zip", {f"f{i}.txt": "x" for i in range(5)})
        outdir = self.tmp / "out"
        self.assert_rejected(self.extract(archive, outdir, "--max-entries", "4"), outdir, "5 entries")

    def test_duplicate_and_manifest_clashing_entries_are_rejected(self):
        with self.assertWarns(UserWarning):  # zipfile warns about the duplicate name
            dup = make_zip(self.tmp / "dup.zip", [("a.txt", "1"), ("a.txt", "2")])
        outdir = self.tmp / "out"
        self.assert_rejected(self.extract(dup, outdir), outdir, "more than once")
        clash = make_zip(self.tmp / "clash.zip", {"manifest.json": "{}"})
        self.assert_rejected(self.extract(clash, outdir), outdir, "manifest.json")

    def test_dot_components_are_normalised(self):
        archive = make_zip(self.tmp / "dots.zip", {"./": b"", "./a/./b.txt": "x"})
        outdir = self.tmp / "out"
        result = self.extract(archive, outdir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(read_json(outdir / "manifest.json")["files"], [{"path": "a/b.txt", "size": 1, "rows": None}])
        clash = make_zip(self.tmp / "clash.zip", {"a/b.txt": "1", "a/./b.txt": "2"})
        self.assert_rejected(self.extract(clash, self.tmp / "out2"), self.tmp / "out2", "more than once")

    def test_broken_archive_exits_1(self):
        broken = self.tmp / "broken.zip"
        broken.write_bytes(b"this is not a zip file")
        outdir = self.tmp / "out"
        self.assert_rejected(self.extract(broken, outdir), outdir, "not a zip archive")

    def test_bad_usage_exits_2(self):
        self.assertEqual(run_script("extract.py").returncode, 2)
        missing = self.extract(self.tmp / "missing.zip", self.tmp / "out")
        self.assertEqual(missing.returncode, 2)
        self.assertIn("is not a file", missing.stderr)
        archive = make_zip(self.tmp / "a.zip", {"a": "a"})
        self.assertEqual(self.extract(archive, self.tmp / "out", "--max-bytes", "lots").returncode, 2)

    def test_rerun_is_idempotent(self):
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        outdir = self.tmp / "out"
        first = self.extract(archive, outdir)
        self.assertEqual(first.returncode, 0, first.stderr)
        manifest = (outdir / "manifest.json").read_bytes()
        sentinel = outdir / "sentinel"  # survives only if the rerun did nothing
        sentinel.write_text("still here")

        second = self.extract(archive, outdir)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn("already extracted", second.stdout)
        self.assertTrue(sentinel.exists())
        self.assertEqual((outdir / "manifest.json").read_bytes(), manifest)

        # An incomplete output folder is redone from scratch.
        (outdir / "a.csv").unlink()
        third = self.extract(archive, outdir)
        self.assertEqual(third.returncode, 0, third.stderr)
        self.assertNotIn("already", third.stdout)
        self.assertEqual((outdir / "a.csv").read_text(), CSV)
        self.assertFalse(sentinel.exists())

        # A different archive replaces the folder.
        sentinel.write_text("again")
        other = make_zip(self.tmp / "data.zip", {"b.csv": "k,v\n1,2\n"})
        fourth = self.extract(other, outdir)
        self.assertEqual(fourth.returncode, 0, fourth.stderr)
        self.assertEqual(sorted(os.listdir(outdir)), ["b.csv", "manifest.json"])
        self.assertEqual(self.leftovers(), [])

    def test_rejected_rerun_keeps_previous_output(self):
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        outdir = self.tmp / "out"
        self.assertEqual(self.extract(archive, outdir).returncode, 0)
        make_zip(archive, {"../evil": "x"})
        self.assertEqual(self.extract(archive, outdir).returncode, 1)
        self.assertEqual((outdir / "a.csv").read_text(), CSV)

    def test_unicode_space_and_quote_names(self):
        name = "données \"q\" l'été.zip"
        inner = "dir with space/naïve \"quoted\" 'x' 日本.csv"
        archive = make_zip(self.tmp / name, {inner: CSV})
        outdir = self.tmp / "wörk dir" / "données \"q\" l'été" / "files"
        result = self.extract(archive, outdir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual((outdir / inner).read_text(), CSV)
        manifest = read_json(outdir / "manifest.json")
        self.assertEqual(manifest["zip"], str(archive))
        self.assertEqual(manifest["files"], [{"path": inner, "size": len(CSV.encode()), "rows": 3}])


if __name__ == "__main__":
    unittest.main()
