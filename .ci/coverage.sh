#!/usr/bin/env bash
# Line coverage of memeclust/ over both suites (notebooks under nbdev_test, then pytest), per module.
# Subprocesses (the CLI in tests, torchrun ranks, nbdev_test's workers) are measured too: a .pth file in
# the venv starts coverage in every Python process that sees COVERAGE_PROCESS_START.
# Usage: bash .ci/coverage.sh [OUT.csv]   (default runs/coverage.csv); prints coverage's report.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=${1:-runs/coverage.csv}
mkdir -p runs
SITE=$($BIN/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "import coverage; coverage.process_startup()" > "$SITE/memeclust_coverage.pth"
trap 'rm -f "$SITE/memeclust_coverage.pth"' EXIT
cat > runs/coveragerc <<RC
[run]
source = $PWD/memeclust
parallel = True
concurrency = thread,multiprocessing
data_file = $PWD/runs/.coverage
sigterm = True
RC
export COVERAGE_PROCESS_START=$PWD/runs/coveragerc
rm -f runs/.coverage*
OMP_NUM_THREADS=1 MEMECLUST_TRAIN_PROCS=1 $BIN/nbdev_test --n_workers 2 --timing
OMP_NUM_THREADS=1 MEMECLUST_TRAIN_PROCS=1 $BIN/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests
$BIN/coverage combine --rcfile=runs/coveragerc -q
$BIN/coverage report --rcfile=runs/coveragerc
$BIN/coverage report --rcfile=runs/coveragerc --format=total
$BIN/coverage json --rcfile=runs/coveragerc -q -o runs/coverage.json
$BIN/python - "$OUT" <<'PY'
import json, sys, csv
from pathlib import Path
d = json.load(open("runs/coverage.json"))["files"]
rows = [(Path(f).name, v["summary"]["num_statements"], v["summary"]["covered_lines"]) for f, v in d.items()]
with open(sys.argv[1], "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["module", "statements", "covered", "percent"])
    for m, n, c in sorted(rows): w.writerow([m, n, c, f"{100 * c / max(n, 1):.1f}"])
print("wrote", sys.argv[1])
PY
