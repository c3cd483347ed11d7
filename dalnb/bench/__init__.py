"""Benchmarks: ``python -m dalnb.bench NAME`` prints one JSON object per line (``--record``
also appends it to benchmarks/NAME.jsonl; ``dalnb.records`` writes and reads them). Every record
carries the benchmark name, the machine (CPU model, cores, GPU if any), the date, the commit and
the torch version."""

from dalnb.bench.registry import REGISTRY, register_bench
from dalnb.records import emit, timeit

__all__ = ["REGISTRY", "register_bench", "timeit", "emit"]
