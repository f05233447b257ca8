# Two commands for users: `make reproduce` (regenerate results/ and figures/) and `make test`.
# Both create .venv on first use; `make install` alone does that shared set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= demo

.PHONY: install test test-nbs test-py check-export coverage reproduce clean-runs docs

install: $(VENV)/.installed

$(VENV)/.installed: settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "is ignored: it is neither a file" || true
	$(BIN)/python -c "import memeclust, torch, faiss, nbdev, papermill"
	$(BIN)/python -m ipykernel install --sys-prefix --name memeclust --display-name "memeclust (.venv)" >/dev/null
	@bash .ci/install_system.sh || echo "WARNING: tesseract-ocr or chromium could not be installed: OCR will say so, and the tests that need them skip."
	touch $@

# nbdev_export on a committed tree must change nothing: notebooks are the source of memeclust/.
check-export: install
	$(BIN)/nbdev_export
	@if [ -n "$$(git status --porcelain -- memeclust)" ]; then \
	  echo "ERROR: nbdev_export changed memeclust/ (edit the notebooks, export, commit):"; git status --porcelain -- memeclust; exit 1; fi

# Two notebooks at a time on 2 cores: one BLAS/OpenMP thread and one training process each (more would oversubscribe the cores).
test-nbs: install
	OMP_NUM_THREADS=1 MEMECLUST_TRAIN_PROCS=1 $(BIN)/nbdev_test --n_workers 2 --timing

# pytest-xdist: two processes, a test file's tests together (its shared fixtures are made once): 258 s vs 453 s
# serial here (fc43acc). One OpenMP thread per process, as for the notebooks.
test-py: install
	OMP_NUM_THREADS=1 MEMECLUST_TRAIN_PROCS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=10 tests

# Both suites, then the ten slowest items and the total (pytest's closing line stays last).
test: check-export
	@mkdir -p runs; start=$$(date +%s); \
	set -o pipefail; \
	$(MAKE) --no-print-directory test-nbs 2>&1 | tee runs/test-nbs.log && \
	$(MAKE) --no-print-directory test-py 2>&1 | tee runs/test-py.log; rc=$$?; \
	$(BIN)/python .ci/test_budget.py runs/test-nbs.log runs/test-py.log $$start; exit $$rc

# Line coverage of memeclust/ per module over both suites (subprocesses included): runs/coverage.csv.
coverage: install
	bash .ci/coverage.sh

reproduce: install
	$(BIN)/memeclust reproduce --scale $(SCALE)

# Offline documentation site in _docs/ (open _docs/index.html): notebooks rendered with their stored outputs, nothing
# executed; docs/conf.py syncs copies of the sources into _proc/docs. A fresh build every time (~15 s): no stale pages.
docs: install
	rm -rf _docs && mkdir -p _proc/docs
	$(BIN)/sphinx-build -q -b html -c docs _proc/docs _docs
	@echo "docs: file://$(CURDIR)/_docs/index.html"

clean-runs:
	rm -rf runs
