#!/usr/bin/env bash
# The test suite: the job scripts' Python tests, then every Swift test (unit, plugin,
# Arrow cross-checks with pyarrow, end-to-end runs of the built hypha binary).
set -euo pipefail
cd "$(dirname "$0")"
PY="${HYPHA_PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
"$PY" -m unittest discover -s Tests/scripts -q
swift build --product hypha
swift build --product bacalhau-emulator
swift test --disable-xctest
