"""How the library notebooks read (issue 22): short cells, one definition per export cell, every public name of the
method notebooks shown in an example. Counts only; the notebooks' behaviour is tested by running them."""
import ast, importlib, json, re, statistics
from pathlib import Path

NBS = Path(__file__).resolve().parents[1] / "nbs"
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def code_cells(nb: Path) -> list[str]:
    cells = json.loads(nb.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def is_export(src: str) -> bool:
    return any(line.strip() in ("#| export", "#|export") for line in src.splitlines())


def code_lines(src: str) -> list[str]:
    return [l for l in src.splitlines() if l.strip() and not l.startswith("#|")]


def public_definitions(src: str) -> int:
    "Top-level functions, classes and public assignments in a cell."
    n = 0
    for node in ast.parse("\n".join(code_lines(src))).body:
        if isinstance(node, DEFINITIONS):
            n += 1
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            n += any(not x.startswith("_") and x != "__all__" for x in names)
    return n


def library_notebooks() -> list[Path]:
    return sorted(NBS.glob("[0-9]*.ipynb"))


def test_counting_helpers():
    assert public_definitions("#| export\nX = 1\n_y = 2\ndef f(): pass\nclass A: pass") == 3
    assert code_lines("#| export\n\nx = 1\n") == ["x = 1"]


def test_median_code_cell_is_short():
    sizes = [len(code_lines(s)) for nb in library_notebooks() for s in code_cells(nb)]
    sizes = [n for n in sizes if n]
    assert statistics.median(sizes) <= 6, f"median library code cell: {statistics.median(sizes)} lines"


def test_export_cells_hold_one_definition():
    export = [s for nb in library_notebooks() for s in code_cells(nb) if is_export(s)]
    one = [s for s in export if public_definitions(s) <= 1]
    assert len(one) / len(export) >= 0.8, f"{len(one)} of {len(export)} export cells hold one definition"


def test_method_notebooks_show_every_public_name():
    for stem, module in [("05_protomemes", "protomemes"), ("06_train", "train"), ("08_dmw", "dmw"),
                         ("11_pipeline", "pipeline")]:
        examples = "\n".join(s for s in code_cells(NBS / f"{stem}.ipynb") if not is_export(s))
        names = importlib.import_module(f"memeclust.{module}").__all__
        missing = [n for n in names if not re.search(rf"\b{re.escape(n)}\b", examples)]
        assert not missing, f"{stem}: no example uses {missing}"
