"""Tests of scripts/extract.py against untrusted zips: --within, zip bombs by ratio, free
space, entry counts read from the end records, odd names, and one-line errors."""

import contextlib
import errno
import io
import os
import re
import struct
import unittest
import zipfile
from collections import namedtuple
from unittest import mock

from support import TempDirTestCase, load_script, make_zip, run_script, run_script_measured

CSV = "region,amount\nnorth,1\n"
GIB = 1 << 30


def claim_entries(path, count):
    """Rewrite a small zip's end so its ZIP64 end record claims `count` entries.

    The central directory is left as it is; only the end records change: a ZIP64 end of
    central directory record and its locator go in, and the classic record's fields say
    "see ZIP64" (0xFFFF, 0xFFFFFFFF), as a real zip with that many entries would have.
    """
    raw = path.read_bytes()
    assert raw[-22:-18] == b"PK\x05\x06", "expects a zip without a comment"
    cd_size, cd_offset = struct.unpack("<2L", raw[-10:-2])
    body = raw[:-22]
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(body), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(body + zip64 + locator + end)
    return path


def patch_name(path, old, new):
    """Replace an entry's name bytes (same length) in its local and central headers."""
    assert len(old) == len(new)
    raw = path.read_bytes()
    assert raw.count(old) == 2, "the name appears once in each header"
    path.write_bytes(raw.replace(old, new))
    return path


def flag_encrypted(path):
    """Set general purpose flag bit 0 ("encrypted") of every entry, in its local header and
    in its central directory header; the data stays as zipfile wrote it."""
    raw = bytearray(path.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        found = [m.start() for m in re.finditer(re.escape(signature), bytes(raw))]
        assert found, f"no {signature!r} header"
        for start in found:
            (flags,) = struct.unpack_from("<H", raw, start + flag_offset)
            struct.pack_into("<H", raw, start + flag_offset, flags | 0x1)
    path.write_bytes(bytes(raw))
    return path


class ExtractHardeningTests(TempDirTestCase):
    def extract(self, zip_path, outdir, *options, **kwargs):
        return run_script("extract.py", *options, zip_path, outdir, **kwargs)

    def assert_nothing_left(self, outdir):
        self.assertFalse(os.path.lexists(outdir), "a refused run must leave no output folder")
        self.assertEqual(self.leftovers(outdir.parent), [], "temporary folders must be removed")

    def run_main(self, extract, *argv):
        """Run extract.main in this process; return (exit status, stderr)."""
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            status = extract.main([str(a) for a in argv])
        return status, stderr.getvalue()

    # --within and the output folder's name

    def test_outdir_resolving_outside_within_is_refused_and_nothing_is_written(self):
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        work = self.tmp / "work"
        work.mkdir()
        before = sorted(os.listdir(self.tmp))
        outdir = f"{work}/../files"  # what a zip named "...zip" would make of WORK/<stem>/files
        result = self.extract(archive, outdir, "--within", work)
        self.assert_one_line_error(
            result, f"refusing OUTDIR '{outdir}'", f"resolves to '{self.tmp / 'files'}'", "outside --within"
        )
        self.assertEqual(sorted(os.listdir(self.tmp)), before, "WORK's parent must be untouched")
        self.assertEqual(os.listdir(work), [])

    def test_outdir_through_a_symlink_leading_outside_within_is_refused(self):
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        work, elsewhere = self.tmp / "work", self.tmp / "elsewhere"
        work.mkdir()
        elsewhere.mkdir()
        (work / "link").symlink_to(elsewhere)
        result = self.extract(archive, work / "link" / "files", "--within", work)
        self.assert_one_line_error(result, "outside --within")
        self.assertEqual(os.listdir(elsewhere), [])

    def test_within_itself_is_not_an_outdir(self):
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        work = self.tmp / "work"
        work.mkdir()
        (work / "keep.txt").write_text("mine")
        result = self.extract(archive, work / "sub" / "..", "--within", work)  # ".." is refused first
        self.assert_one_line_error(result, "last component is '..'")
        result = self.extract(archive, work, "--within", work)
        self.assert_one_line_error(result, "--within", "itself")
        self.assertEqual(os.listdir(work), ["keep.txt"])

    def test_outdir_inside_within_is_accepted_even_before_within_exists(self):
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        work = self.tmp / "work"  # not created yet, as on a first run
        outdir = work / "data" / "files"
        result = self.extract(archive, outdir, "--within", work)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual((outdir / "a.csv").read_text(), CSV)
        # --within through a symbolic link to the same folder is the same folder.
        (self.tmp / "work-link").symlink_to(work)
        again = self.extract(archive, outdir, "--within", self.tmp / "work-link")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("already extracted", again.stdout)

    def test_outdir_whose_last_component_is_dot_dotdot_or_empty_is_refused_without_within(self):
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        cwd = self.tmp / "cwd"
        (cwd / "sub").mkdir(parents=True)
        for outdir, what in (("sub/..", "'..'"), ("sub/.", "'.'"), (".", "'.'"), ("sub/", "empty"), ("", "empty")):
            with self.subTest(outdir=outdir):
                result = self.extract(archive, outdir, cwd=cwd)
                self.assert_one_line_error(result, f"refusing OUTDIR '{outdir}'", f"last component is {what}")
                self.assertEqual(os.listdir(cwd), ["sub"])
                self.assertEqual(os.listdir(cwd / "sub"), [])

    # Zip bombs: the ratio limit and free space

    def test_1_gib_of_zeros_in_a_1_mb_zip_is_refused_from_its_headers(self):
        # 1 GiB of zeros through zlib, streamed, never in memory.
        archive = self.tmp / "bomb.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            with zf.open("zeros.bin", "w", force_zip64=True) as entry:
                chunk = bytes(16 << 20)
                for _ in range(GIB // len(chunk)):
                    entry.write(chunk)
        self.assertLess(archive.stat().st_size, 2_000_000)  # a ratio of about 1000

        outdir = self.tmp / "out"
        # "would unpack to" is the check on the sizes the headers declare, made before any
        # entry is read: nothing is decompressed.
        result = self.extract(archive, outdir)  # the defaults: --max-bytes 1 GiB, --max-ratio 100
        self.assert_one_line_error(result, f"would unpack to {GIB} bytes", "100 times its own", "--max-ratio")
        self.assert_nothing_left(outdir)

    def test_ratio_is_also_checked_on_the_bytes_written(self):
        extract = load_script("extract")
        archive = make_zip(self.tmp / "zeros.zip", {"a.bin": bytes(50_000), "b.bin": bytes(50_000)})
        size = archive.stat().st_size
        staging = self.tmp / "staging"
        staging.mkdir()
        with zipfile.ZipFile(archive) as zf:
            # Pretend the headers passed the check (as if the zip were much bigger),
            # then apply the real ratio while writing.
            planned = extract.plan(zf, extract.Limits(GIB, 10, 100, zip_size=GIB))
            with self.assertRaisesRegex(extract.Rejected, r"unpacks to at least \d+ bytes, more than 100 times"):
                extract.unpack(zf, planned, str(staging), extract.Limits(GIB, 10, 100, zip_size=size))

    def test_not_enough_free_space_is_refused_before_writing(self):
        extract = load_script("extract")
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        outdir = self.tmp / "new" / "out"
        usage = namedtuple("usage", "total used free")(GIB, GIB - (10 << 20), 10 << 20)  # 10 MiB free
        with mock.patch.object(extract.shutil, "disk_usage", return_value=usage) as disk_usage:
            status, stderr = self.run_main(extract, archive, outdir)
        self.assertEqual(status, 1)
        disk_usage.assert_called_once_with(str(self.tmp))  # the nearest existing parent
        self.assertIn(f"only {10 << 20} bytes are free", stderr)
        self.assertIn("margin", stderr)
        self.assertEqual(len(stderr.splitlines()), 1)
        self.assertFalse((self.tmp / "new").exists(), "nothing is created before the checks pass")

    # Entry counts read from the end records

    def test_end_record_claiming_1_5_million_entries_is_refused_in_little_memory(self):
        archive = claim_entries(make_zip(self.tmp / "many.zip", {"a.csv": CSV}), 1_500_000)
        with zipfile.ZipFile(archive) as zf:  # still a valid zip: zipfile ignores the count
            self.assertEqual(len(zf.infolist()), 1)
        outdir = self.tmp / "out"
        result = run_script_measured("extract.py", archive, outdir)
        self.assert_one_line_error(result, "1500000 entries", "limit of 100000", "--max-entries")
        self.assertLess(result.peak_kib, 60_000, "peak RSS in KiB")
        self.assert_nothing_left(outdir)

    def test_central_directory_is_counted_even_if_the_end_record_understates_it(self):
        archive = make_zip(self.tmp / "five.zip", {f"f{i}.txt": "x" for i in range(5)})
        raw = bytearray(archive.read_bytes())
        raw[-14:-10] = struct.pack("<2H", 1, 1)  # the end record now claims 1 entry
        archive.write_bytes(bytes(raw))
        outdir = self.tmp / "out"
        result = self.extract(archive, outdir, "--max-entries", "4")
        self.assert_one_line_error(result, "central directory holds more than 4 entries", "claims 1")
        self.assert_nothing_left(outdir)

    # Entry names

    def test_name_flagged_utf8_that_is_not_utf8_is_a_one_line_error(self):
        archive = make_zip(self.tmp / "bad.zip", {"café.txt": "x"})  # zipfile sets the UTF-8 flag
        patch_name(archive, "café".encode(), b"caf\xff\xfe")
        outdir = self.tmp / "out"
        self.assert_one_line_error(self.extract(archive, outdir), "not valid UTF-8")
        self.assert_nothing_left(outdir)

    def test_legacy_names_are_cp437_and_control_characters_are_rejected(self):
        # Without the UTF-8 flag a name is cp437: byte 0x82 is "é".
        archive = patch_name(make_zip(self.tmp / "legacy.zip", {"cafX.txt": "x"}), b"cafX", b"caf\x82")
        outdir = self.tmp / "out"
        result = self.extract(archive, outdir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(os.listdir(outdir)), ["café.txt", "manifest.json"])
        for name in ("a\x01b.txt", "tab\there.txt", "new\nline.txt", "del\x7f.txt"):
            with self.subTest(name=name):
                archive = make_zip(self.tmp / "control.zip", {"ok.txt": "ok", name: "x"})
                self.assert_one_line_error(self.extract(archive, self.tmp / "out2"), "control character")
                self.assert_nothing_left(self.tmp / "out2")

    def test_an_encrypted_entry_is_refused_in_one_line(self):
        archive = flag_encrypted(make_zip(self.tmp / "secret.zip", {"a.csv": CSV}))
        with zipfile.ZipFile(archive) as z:
            self.assertTrue(z.infolist()[0].flag_bits & 0x1, "the patch made an encrypted entry")
        outdir = self.tmp / "out"
        self.assert_one_line_error(self.extract(archive, outdir), "entry 'a.csv' is encrypted")
        self.assert_nothing_left(outdir)

    def test_5000_deep_path_is_a_one_line_error(self):
        name = "d/" * 5000 + "x.txt"
        archive = make_zip(self.tmp / "deep.zip", {name: "x"})
        outdir = self.tmp / "out"
        result = self.extract(archive, outdir)
        self.assert_one_line_error(result, "path too deep/long", "(10005 characters)")
        self.assertLess(len(result.stderr), 400, "the name is cut in the message")
        self.assert_nothing_left(outdir)

    def test_path_the_os_cannot_create_is_a_one_line_error(self):
        # 16 components of 255 bytes pass the name checks (4095 bytes with the slashes)
        # but not PATH_MAX once the output folder is in front of them: ENAMETOOLONG.
        name = "/".join(f"{i:02d}" + "n" * 253 for i in range(15)) + "/" + "x" * 251 + ".txt"
        self.assertEqual(len(name), 4095)
        archive = make_zip(self.tmp / "long.zip", {name: "x"})
        outdir = self.tmp / "out"
        self.assert_one_line_error(self.extract(archive, outdir), "path too deep/long")
        self.assert_nothing_left(outdir)

    # Errors while writing, and the unexpected

    def test_os_error_while_writing_is_a_one_line_error(self):
        extract = load_script("extract")
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        outdir = self.tmp / "out"
        full = OSError(errno.ENOSPC, "No space left on device")
        with mock.patch.object(extract, "count_csv_rows", side_effect=full):
            status, stderr = self.run_main(extract, archive, outdir)
        self.assertEqual(status, 1)
        self.assertEqual(len(stderr.splitlines()), 1, stderr)
        self.assertIn("could not extract", stderr)
        self.assertIn("entry 'a.csv': No space left on device", stderr)
        self.assert_nothing_left(outdir)

    def test_unexpected_exception_is_a_one_line_error(self):
        extract = load_script("extract")
        archive = make_zip(self.tmp / "data.zip", {"a.csv": CSV})
        outdir = self.tmp / "out"
        with mock.patch.object(extract, "plan", side_effect=RuntimeError("boom\nsecond line")):
            status, stderr = self.run_main(extract, archive, outdir)
        self.assertEqual((status, stderr), (1, "extract.py: error: RuntimeError: boom second line\n"))
        self.assert_nothing_left(outdir)


if __name__ == "__main__":
    unittest.main()
