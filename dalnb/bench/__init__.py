"""Benchmarks: ``python -m dalnb.bench NAME`` prints one JSON object per line (``--record``
also appends it to benchmarks/NAME.jsonl). Every record carries the benchmark name, the machine
(CPU model, cores, GPU if any), the date and the torch version."""

from dalnb.bench.records import (
    RECORD_DIR,
    REGISTRY,
    _record_to,
    emit,
    load_records,
    machine,
    machine_label,
    records_frame,
    register_bench,
    timeit,
)

__all__ = [
    "machine",
    "machine_label",
    "timeit",
    "emit",
    "load_records",
    "records_frame",
    "register_bench",
    "REGISTRY",
    "RECORD_DIR",
    "_record_to",
]
