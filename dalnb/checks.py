"""Input checks that raise ``ValueError`` saying what was expected and what came.

Kornia-style ``check_shape``: a shape pattern such as ``("B", 24, 3)`` where strings are free
dimensions (bound consistently within one call) and ints are fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["check_shape", "check_finite", "check_float"]


def check_shape(
    name: str, x: torch.Tensor, pattern: Sequence[int | str], dims: dict[str, int] | None = None
) -> dict[str, int]:
    """Check ``x.shape`` against ``pattern``; return the bound named dimensions.

    ``dims`` carries bindings from earlier checks, so ``B`` must agree across arguments.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor of shape {_fmt(pattern)}, got {type(x).__name__}")
    dims = dict(dims or {})
    if x.dim() != len(pattern):
        raise ValueError(f"{name}: expected shape {_fmt(pattern)}, got {tuple(x.shape)}")
    for size, want in zip(x.shape, pattern):
        if isinstance(want, int):
            if size != want:
                raise ValueError(f"{name}: expected shape {_fmt(pattern)}, got {tuple(x.shape)}")
        else:
            if want in dims and dims[want] != size:
                raise ValueError(
                    f"{name}: expected shape {_fmt(pattern)} with {want}={dims[want]}, got {tuple(x.shape)}"
                )
            dims[want] = size
    return dims


def check_float(name: str, x: torch.Tensor) -> None:
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")


def check_finite(name: str, x: torch.Tensor) -> None:
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        raise ValueError(f"{name}: expected finite values, got {bad} NaN/inf entries")


def _fmt(pattern: Sequence[int | str]) -> str:
    return "(" + ", ".join(str(p) for p in pattern) + ")"
