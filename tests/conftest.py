import os
from pathlib import Path

import numpy as np, pandas as pd, pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root():
    return ROOT


@pytest.fixture
def edited_code(tmp_path, monkeypatch):
    """A copy of the package sources that code fingerprints read from; `edit(name)` appends a statement to one module
    (a comment would not do: fingerprints hash code, not comments)."""
    import shutil
    import memeclust.core as core
    copy = tmp_path / "pkg"; shutil.copytree(core.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(core, "PACKAGE_DIR", copy)          # same content, same fingerprints, until an edit
    def edit(module):
        (copy / f"{module}.py").write_text((copy / f"{module}.py").read_text() + "\n_an_edit = 1\n")
    return edit


@pytest.fixture
def experiment_notebook():
    "`write(path, *sources)`: an experiment notebook with the runner's parameters cell, then one code cell per source."
    import nbformat
    def write(path, *sources):
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell('scale = "smoke"\ndata = None\nout_dir = None\nseed = 0\nworkers = 2\ndevice = "auto"')
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params] + [nbformat.v4.new_code_cell(s) for s in sources]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
        nbformat.write(nb, path)
    return write


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    "Caches and corpora a test makes go to its own temp folder, never the developer's runs/."
    if "MEMECLUST_RUNS_KEEP" not in os.environ:
        monkeypatch.setenv("MEMECLUST_RUNS", str(tmp_path / "runs"))


N_CLASSES, PER_CLASS = 8, 8
COLOURS = [(220, 40, 40), (40, 160, 40), (40, 40, 220), (230, 200, 30), (150, 40, 160), (30, 170, 170), (250, 130, 20), (90, 90, 90)]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    "A hand-made manifest: 8 classes x 8 memes (a coloured shape + a class phrase), one singleton class, one empty text."
    root = tmp_path_factory.mktemp("tiny")
    (root / "img").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for c in range(N_CLASSES + 1):
        for j in range(PER_CLASS if c < N_CLASSES else 1):        # class 8 has a single meme
            im = Image.new("RGB", (96, 96), tuple(int(v) for v in rng.integers(0, 255, 3)))
            d = ImageDraw.Draw(im); x, y = rng.integers(5, 40, 2)
            (d.ellipse if c % 2 else d.rectangle)([x, y, x + 45, y + 45], fill=COLOURS[c % len(COLOURS)])
            mid = f"c{c}-{j}"; im.save(root / "img" / f"{mid}.png")
            text = "" if (c, j) == (0, 0) else f"caption of class {c} number {j} {rng.choice(['lol', 'when', 'me'])}"
            rows.append(dict(meme_id=mid, image=f"img/{mid}.png", text=text, label=f"class-{c}", status="confirmed", source="kym"))
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"
