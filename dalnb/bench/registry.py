"""The benchmark runners' registry (``python -m dalnb.bench NAME``)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["REGISTRY", "register_bench"]

REGISTRY: dict[str, Callable[..., None]] = {}


def register_bench(name: str):
    def deco(f):
        REGISTRY[name] = f
        return f

    return deco
