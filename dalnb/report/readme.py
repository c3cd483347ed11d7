"""The README's results block, written by the pipeline from a run's report (``--readme``), so
that it cannot drift from the run: the count of the paper's claims per verdict and the headline
numbers, each with the data it was measured on."""

from __future__ import annotations

import html
import json
from pathlib import Path

from dalnb.io import atomic_write_text

__all__ = ["BEGIN", "END", "results_block", "write_results"]

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _cell(s: str) -> str:
    return html.unescape(s).replace("|", "/").replace("\n", " ")


def results_block(report_dir: str | Path) -> str:
    """Markdown from ``report_dir/claims.json`` and ``headline.json`` (written with the index)."""
    from dalnb.claims import Claim, count_verdicts

    report_dir = Path(report_dir)
    claims = [
        Claim(**{k: v for k, v in r.items() if k != "notebook"})
        for r in json.loads((report_dir / "claims.json").read_text())
    ]
    rows = json.loads((report_dir / "headline.json").read_text())
    lines = [
        f"The paper's claims in this run: {len(claims)}, of which {count_verdicts(claims)} "
        f"(`{report_dir.name}/index.html` lists each with its figure).",
        "",
        "| quantity | this study | paper |",
        "|---|---|---|",
        *(f"| {_cell(r['quantity'])} | {_cell(r['ours'])} | {_cell(r['paper'])} |" for r in rows),
    ]
    return "\n".join(lines)


def write_results(readme: str | Path, report_dir: str | Path) -> Path:
    """Replace what stands between ``BEGIN`` and ``END`` in ``readme`` with ``results_block``."""
    readme = Path(readme)
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{readme}: expected the markers {BEGIN} and {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return atomic_write_text(readme, f"{head}{BEGIN}\n{results_block(report_dir)}\n{END}{tail}")
