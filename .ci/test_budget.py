"""Print the test budget after `make test`: the ten slowest notebooks and tests, and the total time.

Usage: python .ci/test_budget.py NBDEV_LOG PYTEST_LOG START_EPOCH_SECONDS
Reads `nbdev_test --timing` lines ("e04_unconfirmed.ipynb: 312 secs") and pytest `--durations` lines
("12.34s call tests/test_cli.py::test_x"); ends with pytest's own closing line, so it stays the last one."""
import re, sys, time
from pathlib import Path

nb_log, py_log, start = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
items = []
for line in (nb_log.read_text(errors="replace").splitlines() if nb_log.exists() else []):
    m = re.match(r"^(\S+\.ipynb): (\d+) secs$", line.strip())
    if m: items.append((float(m[2]), f"notebook {m[1]}"))
closing = ""
for line in (py_log.read_text(errors="replace").splitlines() if py_log.exists() else []):
    m = re.match(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)$", line.strip())
    if m: items.append((float(m[1]), f"pytest {m[2]} {m[3]}"))
    if re.search(r"\b(passed|failed|error|no tests ran)\b", line) and line.strip().startswith("="):
        closing = line.strip()
    elif re.match(r"^\d+ (passed|failed)", line.strip()): closing = line.strip()
print("\nTest budget: the ten slowest items")
for secs, name in sorted(items, reverse=True)[:10]: print(f"  {secs:8.1f} s  {name}")
total = time.time() - start
print(f"notebooks and pytest took {total / 60:.1f} minutes (after the install; budget for make test on a fresh clone, install included: 20 minutes; CI's hard limit is 90)")
if closing: print(closing)
