#!/usr/bin/env python3
"""Peer baseline for the file-watch benchmark: Python watchdog starting one process per file.

Usage: watchdog_runner.py DIR CMD [ARG...]

A watchdog ``Observer`` watches DIR (not recursively). For every file created in DIR,
or moved into it, it runs ``CMD ARG... FILE`` as a subprocess and waits for it, so
commands run one at a time, in event order, like the ``inotify_loop.sh`` baseline.

A created event fires when the file appears, possibly before its writer has finished
(inotifywait's ``close_write`` waits for the close). For a fair comparison, and for
commands that read the file, write each file elsewhere and rename it into DIR: both
baselines then see it once, complete. (watchdog reports a file moved in from another
folder as *created*, so reacting to close events instead would miss those.)

Needs the ``watchdog`` package (``pip install watchdog``, e.g. in a venv).
Ready once "watching DIR" appears on stderr. SIGTERM or SIGINT stops it (exit 0).
A failing CMD is reported on stderr and watching goes on.
"""

import argparse
import os
import signal
import subprocess
import sys
import threading

try:
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
except ImportError:
    sys.exit("watchdog_runner.py: the watchdog package is missing; install it with: pip install watchdog")


class RunCommand(FileSystemEventHandler):
    """Runs the command once per new file."""

    def __init__(self, command):
        super().__init__()
        self.command = command

    def run(self, path):
        try:
            status = subprocess.run([*self.command, path]).returncode
        except OSError as error:
            print(f"watchdog_runner.py: cannot run {self.command[0]}: {error}", file=sys.stderr, flush=True)
            return
        if status != 0:
            print(f"watchdog_runner.py: command exited {status} for {path}", file=sys.stderr, flush=True)

    def on_created(self, event):
        if not event.is_directory:
            self.run(event.src_path)

    def on_moved(self, event):
        if not event.is_directory:
            self.run(event.dest_path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="watchdog_runner.py",
        description="Run CMD ARG... FILE for every file created in (or moved into) DIR.",
    )
    parser.add_argument("dir", metavar="DIR")
    parser.add_argument("command", metavar="CMD", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("CMD is required")
    if not os.path.isdir(args.dir):
        parser.error(f"{args.dir} is not a folder")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    observer = Observer()
    observer.schedule(RunCommand(args.command), args.dir, recursive=False)
    observer.start()
    print(f"watching {args.dir}", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            if not observer.is_alive():
                print("watchdog_runner.py: the observer stopped", file=sys.stderr)
                return 1
    finally:
        observer.stop()
        observer.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
