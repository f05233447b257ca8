"""myst-nb notebook reader that applies nbdev's `#|` cell directives, as nbdev's own docs would.

Registered in conf.py through `nb_custom_formats` for `.ipynb`. Drops the cells nbdev keeps out of its docs
(`#| hide`, `#| exporti`, `#| default_exp`, `#| include: false`), removes the source of `#| echo: false` cells and the
outputs of `#| output: false` cells, and strips every `#|` line from what is shown. The notebook files are only read.
"""
import re

import nbformat

_DIRECTIVE = re.compile(r"^\s*#\|\s?(.*)$")
_DROP = {"hide", "exporti", "default_exp", "include: false"}


def _directives(source: str) -> tuple[list[str], str]:
    "The `#|` directives at the top of a cell's source (normalised), and the source without them."
    lines = source.splitlines()
    found, i = [], 0
    while i < len(lines) and (_DIRECTIVE.match(lines[i]) or not lines[i].strip()):
        m = _DIRECTIVE.match(lines[i])
        if m:
            found.append(" ".join(m.group(1).split()))
        i += 1
    return found, "\n".join(lines[i:])


def read_nbdev(text: str) -> nbformat.NotebookNode:
    "Parse a notebook (JSON text) and apply the nbdev cell directives for display."
    nb = nbformat.reads(text, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            found, source = _directives(cell.source)
            names = {d.split(":")[0].split()[0] if d else "" for d in found}
            if names & _DROP or set(found) & _DROP:
                continue
            if "echo: false" in found:
                tags = cell.metadata.setdefault("tags", [])
                tags.append("remove-input")
            if "output: false" in found:
                cell.outputs = []
            cell.source = source
        cells.append(cell)
    nb.cells = cells
    return nb
