"""What a run's notebooks read from its folder (``Run`` gives the paths): the splits' samples with
the lifter's depths where notebook 03 found they help, and the real sources' held-out people."""

from __future__ import annotations

from dalnb.data.sources import KINDS
from dalnb.data.store import load_samples
from dalnb.fitting.depth_prior import attach_lifted_depths, lifted_depth_regimes
from dalnb.run import Run

__all__ = ["load_split", "load_real_tests", "depth_regimes", "real_kinds"]


def depth_regimes(run: Run) -> tuple[str, ...]:
    """The kinds of annotation that get the lifted depths (notebook 03's measured choice)."""
    return lifted_depth_regimes(run.fits_dir)


def load_split(run: Run, split: str, lifted: bool = True) -> list[dict]:
    """A split's samples; with ``lifted``, the lifter's depths attached where notebook 03's check
    found that they help (all samples when no check was saved; none without depths)."""
    samples = load_samples(run.data(split))
    if lifted and run.depths(split).exists():
        samples = attach_lifted_depths(samples, run.depths(split), depth_regimes(run))
    return samples


def real_kinds(run: Run) -> list[str]:
    """The real sources notebook 01 wrote, in the order of ``dalnb.data.sources.KINDS``."""
    return [k for k in KINDS if run.source_report(k).exists()]


def load_real_tests(run: Run) -> dict[str, list[dict]]:
    """Each real source's held-out samples (kinds with none left out)."""
    out = {k: load_samples(run.real_test(k)) for k in real_kinds(run) if run.real_test(k).exists()}
    return {k: v for k, v in out.items() if v}
