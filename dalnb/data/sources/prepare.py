"""Notebook 01's real sources: each named source written into the run folder, and the table
and examples the notebook shows of them."""

from __future__ import annotations

from pathlib import Path

from dalnb.data.sources.spec import KINDS, Source, check_source, parse_source
from dalnb.data.sources.write import write_source

__all__ = ["prepare_sources", "source_rows", "parse_sources"]


def parse_sources(sources: dict[str, str], base: Path | None = None) -> list[Source]:
    """``{kind: "PATH[:EXTRA]"}`` (``data.sources``) as checked ``Source`` s, in ``KINDS`` order;
    a missing or misnamed source fails here, before anything is read."""
    unknown = sorted(set(sources) - set(KINDS))
    if unknown:
        raise ValueError(f"data.sources: unknown kind(s) {unknown}; expected some of {list(KINDS)}")
    return [check_source(parse_source(f"{k}={sources[k]}", base)) for k in KINDS if k in sources]


def prepare_sources(run, cfg, base: Path | None = None, progress: bool = True) -> list[dict]:
    """Write every source of ``cfg.data.sources`` into ``run`` (``Run``); returns their reports.
    Sources no longer named lose their crops, so the training set is what the config says."""
    import shutil

    srcs = parse_sources(cfg.data.sources, base)
    named = {s.kind for s in srcs}
    for kind in KINDS:
        if kind not in named and run.source_report(kind).exists():
            for d in (run.real_train(kind), run.real_test(kind)):
                shutil.rmtree(d, ignore_errors=True)
            run.source_report(kind).unlink()
    return [
        write_source(
            s,
            run.real_train(s.kind),
            run.real_test(s.kind),
            run.source_report(s.kind),
            cfg.data.source_plan(s.kind),
            progress,
        )
        for s in srcs
    ]


def source_rows(reports: list[dict]) -> list[dict]:
    """One row per source for notebook 01's table."""
    return [
        {
            "source": r["kind"],
            "path": r["config"]["source"].split("=", 1)[1].split(":")[0],
            "records read": r["read"],
            "train": r["train"],
            "test": r["test"],
            "bad records": r["bad"],
            "not used": sum(r["unused"].values()),
            "why not used": "; ".join(f"{k}: {v}" for k, v in r["unused"].items()),
            "seconds": round(r["seconds"], 1),
        }
        for r in reports
    ]
