"""Report building, apart from the notebook runner: the run's index page."""

from dalnb.report.index import (
    PAPER_TABLES,
    headline_rows,
    latest_by,
    speed_rows,
    table4_rows,
    write_index,
)

__all__ = ["PAPER_TABLES", "headline_rows", "latest_by", "speed_rows", "table4_rows", "write_index"]
