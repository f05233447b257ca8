import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root():
    return ROOT


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    "Caches and corpora a test makes go to its own temp folder, never the developer's runs/."
    if "MEMECLUST_RUNS_KEEP" not in os.environ:
        monkeypatch.setenv("MEMECLUST_RUNS", str(tmp_path / "runs"))
