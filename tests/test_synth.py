"""synth: what the notebook can't show: a generation killed half-way never leaves a manifest (or a cache entry) that
points at missing images, and the next call recovers."""
import os, subprocess, sys, time
from pathlib import Path

import pandas as pd

from memeclust.synth import generator_version, minikym


def _start_and_kill(code: str, watch: Path, n_images: int = 40):
    "Run `code` in a fresh interpreter and kill it once `n_images` JPEGs exist under `watch`."
    p = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None and len(list(watch.rglob("*.jpg"))) < n_images: time.sleep(.05)
    assert p.poll() is None, "generation finished (or crashed) before it could be killed"
    p.kill(); p.wait()
    assert len(list(watch.rglob("*.jpg"))) >= n_images


def test_killed_make_minikym_leaves_no_manifest(tmp_path):
    out = tmp_path / "mk"
    _start_and_kill(f"from memeclust.synth import make_minikym; make_minikym({str(out)!r}, 'smoke', 0, workers=1)", out)
    assert not (out / "manifest.csv").exists()


def test_killed_minikym_leaves_no_cache_entry_and_recovers():
    data = Path(os.environ["MEMECLUST_RUNS"]) / "data"
    final = data / f"minikym-smoke-s0-{generator_version()}"
    _start_and_kill("from memeclust.synth import minikym; minikym('smoke', 0, workers=1)", data)
    assert not final.exists()
    m = minikym("smoke", 0)
    assert m == final / "manifest.csv"
    df = pd.read_csv(m, keep_default_na=False)
    assert all((final / p).exists() for p in df.image)
    assert [p.name for p in data.iterdir()] == [final.name]  # the killed run's temporary folder was cleaned up


def test_full_scale_is_your_own_data_not_minikym(tmp_path):
    "MiniKYM exists at smoke and demo only: full asks for the user's manifest, before anything is written."
    import pytest
    from memeclust.synth import make_minikym
    with pytest.raises(ValueError, match="scale 'full' means your own KYM data: pass a manifest with --data"):
        make_minikym(tmp_path / "full", scale="full")
    assert not (tmp_path / "full").exists()
