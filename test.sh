#!/usr/bin/env bash
# The test suite: the job scripts' Python tests, the workflow tests (`hypha test`), then every
# Swift test (unit, plugin, Arrow cross-checks with pyarrow, end-to-end runs of the built hypha binary).
set -euo pipefail
cd "$(dirname "$0")"
PY="${HYPHA_PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
"$PY" -m unittest discover -s Tests/scripts -q
swift build --product hypha
.build/debug/hypha test              # the workflow tests: workflows/**/*.test.yml (docs/TESTING.md)
swift build --product bacalhau-emulator
# Every skipped test is named with its reason; the last line counts them.
swift test --disable-xctest 2>&1 | tee .build/swift-test.log
echo "swift test: $(grep -c '^.* Test .* skipped' .build/swift-test.log || true) skipped"
