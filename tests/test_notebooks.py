"""Notebook hygiene the compendium relies on: papermill parameters survive nbdev_clean; experiments take the same parameters."""
import shutil, subprocess, sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "nbs" / "experiments").glob("e*.ipynb"))
PARAMETERS = ["scale", "data", "out_dir", "seed", "workers", "device"]


def parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return cells[0] if cells else None


def test_nbdev_clean_keeps_the_parameters_tag(tmp_path):
    src = EXPERIMENTS[0]
    nb = nbformat.read(src, as_version=4)
    nb.cells[0].metadata["scrolled"] = True  # editor noise nbdev_clean must remove
    target = tmp_path / src.name
    nbformat.write(nb, target)
    shutil.copy(ROOT / "settings.ini", tmp_path / "settings.ini")
    subprocess.run([str(Path(sys.executable).parent / "nbdev_clean"), "--fname", str(target)], check=True, cwd=tmp_path)
    cleaned = nbformat.read(target, as_version=4)
    assert "scrolled" not in cleaned.cells[0].metadata
    assert parameters_cell(cleaned) is not None


@pytest.mark.parametrize("nb_path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiments_take_the_runner_parameters(nb_path):
    cell = parameters_cell(nbformat.read(nb_path, as_version=4))
    assert cell is not None, f"{nb_path.name} has no cell tagged 'parameters'"
    from papermill.translators import PythonTranslator
    names = [p.name for p in PythonTranslator.inspect(cell)]                 # papermill itself can read every parameter
    assert names[:len(PARAMETERS)] == PARAMETERS                             # the runner's, in order; a notebook may add its own after
    assert all(p.default is not None for p in PythonTranslator.inspect(cell))
    assert 'scale = "smoke"' in cell.source, "experiments default to smoke scale so nbdev_test stays fast"
