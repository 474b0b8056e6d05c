"""Smoke tests of the benchmark peers in bench/peers/ (each skips when its tool is missing)."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

from support import PEERS, TempDirTestCase, run

HAVE_INOTIFYWAIT = shutil.which("inotifywait") is not None
HAVE_WATCHDOG = importlib.util.find_spec("watchdog") is not None

# Appends its last argument to the file named by its first: a command the watchers can start.
RECORD = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')"]


class WatcherTestCase(TempDirTestCase):
    def start(self, args, ready_text):
        """Start a watcher in its own process group and wait for its readiness line on stderr."""
        process = subprocess.Popen(
            [str(a) for a in args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.addCleanup(self.stop, process)
        line = ""
        while ready_text not in line:
            line = process.stderr.readline()
            if not line:
                self.fail(f"{args[0]} ended before it was ready")
        return process

    def stop(self, process):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()

    def wait_for_lines(self, path, count, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and len(path.read_text().splitlines()) >= count:
                return path.read_text().splitlines()
            time.sleep(0.05)
        self.fail(f"{path} did not get {count} lines in {timeout}s")

    def drop_files(self, inbox):
        """Write one file in place and move another one in; return their paths."""
        written = inbox / "written in place.zip"
        written.write_bytes(b"data")
        moved = self.tmp / "moved 'q'.zip"
        moved.write_bytes(b"data")
        os.rename(moved, inbox / moved.name)
        return {str(written), str(inbox / moved.name)}


@unittest.skipUnless(HAVE_INOTIFYWAIT, "inotifywait is not installed (apt-get install -y inotify-tools)")
class InotifyLoopTests(WatcherTestCase):
    def test_runs_the_command_once_per_new_file_and_stops_on_sigterm(self):
        inbox = self.tmp / "inbox"
        inbox.mkdir()
        log = self.tmp / "log"
        process = self.start(["bash", PEERS / "inotify_loop.sh", inbox, *RECORD, log], "Watches established")
        expected = self.drop_files(inbox)
        self.assertEqual(set(self.wait_for_lines(log, 2)), expected)
        process.terminate()  # only the script: it must take inotifywait down with it
        self.assertEqual(process.wait(timeout=10), 143)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            self.fail("inotifywait outlived the script")

    def test_bad_usage_exits_2(self):
        self.assertEqual(run(["bash", PEERS / "inotify_loop.sh", self.tmp]).returncode, 2)


@unittest.skipUnless(HAVE_WATCHDOG, "the watchdog package is not installed")
class WatchdogRunnerTests(WatcherTestCase):
    def test_runs_the_command_once_per_new_file(self):
        inbox = self.tmp / "inbox"
        inbox.mkdir()
        log = self.tmp / "log"
        process = self.start([sys.executable, PEERS / "watchdog_runner.py", inbox, *RECORD, log], "watching")
        expected = self.drop_files(inbox)
        self.assertEqual(set(self.wait_for_lines(log, 2)), expected)
        process.terminate()
        self.assertEqual(process.wait(timeout=10), 0)


class BashSequentialTests(TempDirTestCase):
    def test_runs_every_command_in_order_and_reports_failures(self):
        log = self.tmp / "log"
        lines = [
            "\t".join([*RECORD, str(log), "first arg with spaces"]),
            "# a comment",
            "",
            "false",
            "\t".join([*RECORD, str(log), "third 'quoted' $HOME"]),
        ]
        commands = self.tmp / "commands"
        commands.write_text("\n".join(lines))  # no final newline: the last line still runs
        result = run(["bash", PEERS / "bash_sequential.sh", commands])
        self.assertEqual(result.returncode, 1)
        self.assertIn("ran 3 commands, 1 failed", result.stderr)
        self.assertEqual(log.read_text().splitlines(), ["first arg with spaces", "third 'quoted' $HOME"])

    def test_space_separated_lines_and_success(self):
        commands = self.tmp / "commands"
        commands.write_text("true\necho one two\n" * 100)
        result = run(["bash", PEERS / "bash_sequential.sh", commands])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "one two\n" * 100)
        self.assertIn("ran 200 commands, 0 failed", result.stderr)

    def test_bad_usage_exits_2(self):
        self.assertEqual(run(["bash", PEERS / "bash_sequential.sh"]).returncode, 2)
        self.assertEqual(run(["bash", PEERS / "bash_sequential.sh", self.tmp / "missing"]).returncode, 2)


if __name__ == "__main__":
    unittest.main()
