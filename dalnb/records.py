"""Benchmark records (``benchmarks/<name>.jsonl``): one JSON object per line, with its context,
written by the runners of ``dalnb.bench`` and read here by the study and the reports.

Every record carries the benchmark name, the machine (CPU model, cores, GPU if any), the date,
the commit and the torch version, so that notebooks and reports can show it with its context.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable

import torch

from dalnb.paths import ROOT

__all__ = [
    "machine",
    "machine_label",
    "emit",
    "load_records",
    "records_frame",
    "newest_rows",
    "RECORD_DIR",
    "RECORD_TO",
    "timeit",
]


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "threads": torch.get_num_threads(), "cores": os.cpu_count()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


RECORD_DIR = str(ROOT / "benchmarks")
RECORD_TO: list[str] = []  # the files ``emit`` appends to (``python -m dalnb.bench NAME --record``)


def commit() -> str | None:
    """The checkout's commit (short hash, ``+`` when the tree has changes), None outside git."""
    import subprocess

    root = os.path.dirname(RECORD_DIR)
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except OSError:
        return None
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "") if head.returncode == 0 else None


def emit(bench: str, record: dict, out=None) -> dict:
    """Print one record (and append it to the recorded files): the benchmark's name and fields,
    the machine, the date, the commit and the torch version."""
    rec = {
        "bench": bench,
        **record,
        "machine": machine(),
        "date": _dt.date.today().isoformat(),
        "commit": commit(),
        "torch": torch.__version__,
    }
    line = json.dumps(rec)
    print(line, file=out or sys.stdout, flush=True)
    for path in RECORD_TO:
        with open(path, "a") as f:
            f.write(line + "\n")
    return rec


def load_records(name: str, directory: str | None = None) -> list[dict]:
    """Recorded JSON lines of a benchmark (``benchmarks/<name>.jsonl``), oldest first."""
    path = os.path.join(directory or RECORD_DIR, f"{name}.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def machine_label(m: dict) -> str:
    """A record's machine in a few words: CPU (cores, GPU)."""
    return f"{m['cpu']} ({m['cores']} cores{', ' + m['gpu'] if 'gpu' in m else ''})"


def records_frame(name: str, newest: tuple[str, ...] | None = None):
    """A benchmark's records as a pandas table, the machine in words (empty when none); with
    ``newest``, only the newest record per setting (those fields) and machine: what a notebook
    shows, the full history staying in benchmarks/."""
    import pandas as pd

    rec = pd.DataFrame(load_records(name))
    if len(rec):
        rec["machine"] = rec["machine"].map(machine_label)
    return newest_rows(rec, newest) if len(rec) and newest else rec


def newest_rows(rec, keys: tuple[str, ...] | list[str]):
    """The last (newest) row of a records table per setting (``keys``, those it has) and machine."""
    cols = list(dict.fromkeys([k for k in keys if k in rec] + ["machine"]))
    return rec.loc[~rec[cols].astype(str).duplicated(keep="last")].reset_index(drop=True)


def timeit(fn: Callable[[], object], min_time: float = 0.5, min_reps: int = 3, sync: bool = False) -> float:
    """Seconds per call: warm up once, then repeat until ``min_time`` and ``min_reps``."""
    fn()
    if sync:
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        if sync:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        if n >= min_reps and dt >= min_time:
            return dt / n
