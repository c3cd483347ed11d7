"""Executed notebooks as HTML pages that stand alone offline: formulas pre-rendered as MathML
(no MathJax from a CDN), no script fetched from the network (require.js and the widget manager
are left out with the widget state: batch runs draw no widgets), each page titled after its
notebook with a link back to the run's index."""

from __future__ import annotations

import html
import re
from pathlib import Path

from dalnb.io import atomic_write_text

__all__ = ["export_html", "math_to_mathml", "notebook_title", "strip_widgets"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "(an interactive widget: it draws in JupyterLab, not in this page)"
_MATH = re.compile(r"(?<!\\)\$\$(.+?)\$\$|(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\w)", re.S)
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


def math_to_mathml(markdown: str) -> str:
    """Markdown with ``$...$`` and ``$$...$$`` turned into MathML (code spans left alone)."""
    from latex2mathml.converter import convert

    def one(m: re.Match) -> str:
        display, inline = m.group(1), m.group(2)
        return convert(display, display="block") if display is not None else convert(inline)

    parts = _CODE.split(markdown)
    return "".join(p if i % 2 else _MATH.sub(one, p) for i, p in enumerate(parts))


def strip_widgets(nb) -> int:
    """Drop widget views and the saved widget state from an executed notebook (in place): in a
    page without a kernel they draw nothing. A view with no other output says what it was.
    Returns how many views were dropped."""
    nb.metadata.pop("widgets", None)
    dropped = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                data["text/plain"] = WIDGET_NOTE
                dropped += 1
    return dropped


def notebook_title(nb, fallback: str) -> str:
    """The first markdown heading of a notebook (``# 01 · Data preparation: ...``), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return fallback


_DROP = [
    re.compile(r'<script src="https?://[^"]*require(\.min)?\.js"></script>'),
    re.compile(r"<script>\s*\(function\(\) \{\s*function addWidgetsRenderer.*?</script>", re.S),
    re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S),
]


def export_html(ipynb: Path, index_href: str = "index.html") -> Path:
    """``ipynb`` -> ``ipynb.with_suffix('.html')``, standing alone offline."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    strip_widgets(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = math_to_mathml(cell.source)
    title = notebook_title(nb, ipynb.stem)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": title}})
    for pattern in _DROP:
        body = pattern.sub("", body)
    back = f'<nav class="dalnb-nav"><a href="{html.escape(index_href)}">&larr; the run\'s index</a></nav>'
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + back, body, count=1)
    return atomic_write_text(ipynb.with_suffix(".html"), body)
