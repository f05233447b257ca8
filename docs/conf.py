"""Sphinx configuration of the offline documentation site (`make docs`: `_docs/index.html`).

Build: `sphinx-build -b html -c docs SRC OUT` where SRC is an empty or earlier staging folder (`make docs` uses
`_proc/docs`, git-ignored). This file syncs copies of the sources into SRC at every build (docs/index.md, README.md,
nbs/*.ipynb, results/, figures/), so nothing is added to git and relative links between them keep working. Only the
pages named in `include_patterns` are documents: the library notebooks nbs/*.ipynb, the executed experiment notebooks
results/notebooks/e*.ipynb, results/REPORT.md where it exists, and the README.

Notebooks are rendered with myst-nb WITHOUT executing them (the pages show the outputs stored in the files). Math is
typeset by MathJax 2.7 shipped in the `jupyter-server-mathjax` PyPI package and copied into `_static/mathjax`:
the built site loads nothing from the network.
"""
import json
import re
import shutil
import sys
from configparser import ConfigParser
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))  # nbdev_cells (the notebook reader)

_ini = ConfigParser(delimiters=["="])
_ini.read(ROOT / "settings.ini")
_cfg = _ini["DEFAULT"]

project = _cfg.get("title", "memeclust")
author = _cfg.get("author", "")
copyright = _cfg.get("copyright", "")
release = version = _cfg.get("version", "")

extensions = ["myst_nb", "sphinx.ext.mathjax"]
root_doc = "index"
include_patterns = ["index.md", "README.md", "docs/guide.md", "nbs/*.ipynb", "results/notebooks/e*.ipynb", "results/REPORT.md"]
exclude_patterns = ["**.ipynb_checkpoints", "**/__pycache__"]
# Missing relative links in the README/report are warnings, never errors (the build is not run with -W).

# --- notebooks: myst-nb, no execution ---------------------------------------------------------------------------
nb_execution_mode = "off"
nb_custom_formats = {".ipynb": ["nbdev_cells.read_nbdev", {}, False]}  # apply nbdev's `#| hide/export` directives
nb_ipywidgets_js = {}  # no require.js / widget manager from a CDN
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# --- math: local MathJax 2.7 (jupyter-server-mathjax), HTML-CSS output with the STIX-Web fonts it ships ------------
import jupyter_server_mathjax  # noqa: E402

MATHJAX_SRC = Path(jupyter_server_mathjax.__file__).parent / "static"
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True,
                "processClass": "math|output_area", "ignoreClass": "document"},
    "messageStyle": "none",
    "menuSettings": {"assistiveMML": False},
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
}

# --- HTML -----------------------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"{project} {release}"
html_static_path = ["_static"]  # docs/_static: custom.css
html_css_files = ["custom.css"]
html_theme_options = {"navigation_with_keys": True}
html_show_sourcelink = False
html_copy_source = False

_MARK = ".memeclust-docs-staging"


def _staged_files():
    "Staging path -> repository file: the pages, and the files the README/report may link to (results/, figures/)."
    files = {Path("index.md"): DOCS / "index.md", Path("README.md"): ROOT / "README.md",
             Path("docs", "guide.md"): DOCS / "guide.md"}
    files |= {Path("nbs", p.name): p for p in sorted((ROOT / "nbs").glob("*.ipynb"))}
    for folder in ("results", "figures"):
        files |= {p.relative_to(ROOT): p for p in sorted((ROOT / folder).rglob("*"))
                  if p.is_file() and ".ipynb_checkpoints" not in p.parts}
    return files


def _stage(app):
    """Sync copies of the sources into the source folder (Sphinx resolves symlinks to their targets, which breaks
    links between pages, so these are copies; only into a folder that is empty or was staged here before).
    Unchanged files are not copied again and keep their times, so rebuilds are incremental."""
    src = Path(app.srcdir).resolve()
    if src in (ROOT, DOCS) or ROOT.is_relative_to(src):
        raise RuntimeError("build from a staging folder, e.g. `sphinx-build -c docs _proc/docs _docs` (make docs)")
    if any(src.iterdir()) and not (src / _MARK).exists():
        raise RuntimeError(f"{src} is not empty and was not staged by docs/conf.py: refusing to write into it")
    (src / _MARK).write_text("staging folder of docs/conf.py: copies of repository files, synced every build\n")
    files = _staged_files()
    for p in sorted(src.rglob("*"), reverse=True):  # files first, then the folders they leave empty
        rel = p.relative_to(src)
        if p.is_file() and rel not in files and p.name != _MARK:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    for rel, orig in files.items():
        dest, st = src / rel, orig.stat()
        if dest.exists() and (dest.stat().st_size, dest.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(orig, dest)


_REPORT_TOCTREE = re.compile(r"```\{toctree\}\n:caption: Report\n.*?```\n?", re.S)


def _report_toctree(app, docname, source):
    "Drop docs/index.md's Report toctree while results/REPORT.md does not exist (it is being written)."
    if docname == root_doc and not (Path(app.srcdir) / "results" / "REPORT.md").exists():
        source[0] = _REPORT_TOCTREE.sub("", source[0])


def _number_title(app, docname, source):
    "Library notebooks are titled by module (`# dmw`): show their number too (`08 · dmw`), as the sidebar's order."
    if not re.fullmatch(r"nbs/[^/]+", docname):
        return
    nb = json.loads(source[0])
    num = docname.split("/")[1].split("_")[0]
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if text.startswith("# ") and not text.startswith(f"# {num}"):
                cell["source"] = f"# {num} · {text[2:]}"
                source[0] = json.dumps(nb)
            return


def _index_outdated(app, env, added, changed, removed):
    "Re-read the index on every build: whether it has a Report toctree depends on a file it does not include."
    return [root_doc]


def _nb_output_folder(app):
    "myst-nb writes output files next to the output folder (../jupyter_execute): keep them inside the build instead."
    cfg = getattr(app.env, "mystnb_config", None)
    if cfg is not None:
        app.env.mystnb_config = cfg.copy(output_folder=str(Path(app.doctreedir) / "jupyter_execute"))


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        dest = Path(app.outdir) / "_static" / "mathjax"
        if not (dest / "MathJax.js").exists() or (dest / "MathJax.js").stat().st_mtime < (MATHJAX_SRC / "MathJax.js").stat().st_mtime:
            shutil.copytree(MATHJAX_SRC, dest, dirs_exist_ok=True)


def setup(app):
    _stage(app)
    app.connect("builder-inited", _nb_output_folder, priority=900)
    app.connect("source-read", _report_toctree)
    app.connect("source-read", _number_title)
    app.connect("env-get-outdated", _index_outdated)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True}
