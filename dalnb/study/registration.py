"""Registration's accuracy (notebook 03, the paper's Table 1 setting): a fit's errors against the
truth, and the recorded ``registration`` benchmark as tables."""

from __future__ import annotations

__all__ = ["evaluate_fits", "accuracy_tables"]


def evaluate_fits(body, fits, samples) -> dict:
    """``metrics.evaluate`` of fits against their samples' truth, without the per-pixel error."""
    from dalnb.metrics import evaluate

    return {k: v for k, v in evaluate(body, fits, samples).items() if k != "pixel_err"}


def accuracy_tables(records):
    """The newest recorded accuracy run: PA-MPJPE and PVE per setting (rows) and iterations
    (columns); the newest speed record per setting and machine. Pandas frames (empty when none was recorded)."""
    import pandas as pd

    from dalnb.records import newest_rows

    acc = records[records["kind"] == "accuracy"].drop_duplicates(["setting", "iterations"], keep="last")
    pivot = lambda v, name: acc.pivot_table(index="setting", columns="iterations", values=v).round(1).add_prefix(name)  # noqa: E731
    cols = [
        "date",
        "machine",
        "device",
        "compiled",
        "batch",
        "silhouette",
        "iterations",
        "fits_per_s",
        "seconds_per_batch",
    ]
    setting = ["device", "compiled", "batch", "silhouette", "iterations"]
    speed = newest_rows(records[records["kind"] == "speed"], setting).reindex(columns=cols)
    return (
        (pivot("pa_mpjpe_mm", "PA-MPJPE mm @ "), pivot("pve_mm", "PVE mm @ "), speed)
        if len(acc)
        else (pd.DataFrame(),) * 2 + (speed,)
    )
