"""Report building, apart from the notebook runner: the run's index page, the HTML pages that
stand alone offline, and the README's results block."""

from dalnb.report.index import (
    PAPER_TABLES,
    headline_rows,
    latest_by,
    speed_rows,
    table4_rows,
    write_index,
)
from dalnb.report.readme import results_block, write_results

__all__ = [
    "PAPER_TABLES",
    "headline_rows",
    "latest_by",
    "speed_rows",
    "table4_rows",
    "write_index",
    "results_block",
    "write_results",
]
