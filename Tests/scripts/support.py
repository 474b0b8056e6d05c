"""Shared helpers for the tests of scripts/ and bench/peers/: paths, runners, zip builders."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import unittest
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
JOBSTORE = ROOT / "jobstore"
PEERS = ROOT / "bench" / "peers"


def run(args, **kwargs):
    """Run a command, capturing text output; never raises on a non-zero exit."""
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, **kwargs
    )


def run_script(name, *args, **kwargs):
    return run([sys.executable, SCRIPTS / name, *args], **kwargs)


# Runs its arguments as a command and prints, as JSON, how it ended and its peak RSS.
# A fresh parent per measurement: RUSAGE_CHILDREN keeps the largest child ever waited
# for, so measuring in the test process itself would mix in earlier tests' children.
_MEASURE = """
import json, resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
                  "peak_kib": peak // 1024 if sys.platform == "darwin" else peak}))
"""


def run_script_measured(name, *args):
    """Run scripts/NAME like run_script; the result also has peak_kib, the script's peak RSS in KiB."""
    wrapper = run([sys.executable, "-c", _MEASURE, sys.executable, SCRIPTS / name, *args])
    if wrapper.returncode != 0:
        raise AssertionError(f"the measuring wrapper failed: {wrapper.stderr}")
    return types.SimpleNamespace(**json.loads(wrapper.stdout))


def load_script(name):
    """Import scripts/NAME.py as a module (for testing one function directly)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))  # the scripts import their shared folder_rules
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_zip(path, entries, compression=zipfile.ZIP_DEFLATED):
    """Write a zip holding entries: {name: bytes|str} or [(ZipInfo|name, bytes|str)]."""
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in items:
            if isinstance(data, str):
                data = data.encode("utf-8")
            archive.writestr(name, data)
    return path


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class TempDirTestCase(unittest.TestCase):
    """A test case with a fresh temporary folder in self.tmp (a Path)."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="hypha-scripts-test-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def leftovers(self, folder=None):
        """Hidden temporary entries left in folder (default: self.tmp)."""
        return sorted(n for n in os.listdir(folder or self.tmp) if n.startswith("."))

    def assert_one_line_error(self, result, *fragments):
        """The script failed with exit status 1 and exactly one line on stderr, no traceback."""
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        self.assertEqual(result.stdout, "")
