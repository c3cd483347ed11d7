"""Fig. 7 and the registration ablations (notebook 06): registration without one ingredient at a time, the
shape model, the number of dense points and annotation noise against each robust kernel, on the same held-out
bodies."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from dalnb.claims import Claim, lower
from dalnb.data.synth import DENSEPOSE_NOISE
from dalnb.fitting import RegistrationConfig, ablation_configs, register
from dalnb.metrics import evaluate

__all__ = [
    "FIG7",
    "fig7_claims",
    "registration_row",
    "fig7_table",
    "shape_model_table",
    "shape_claim",
    "lift_samples",
    "dense_count_table",
    "robust_kernels",
    "noise_table",
]


METRICS = ("pa_mpjpe_mm", "pve_mm", "mpjpe_mm", "pixel_err")


def registration_row(body, samples: list[dict], cfg: RegistrationConfig, **info) -> dict:
    """Register ``samples`` with ``cfg``: ``info`` plus the metrics against their truth and the seconds."""
    t0 = time.perf_counter()
    e = evaluate(body, register(body, samples, cfg), samples)
    return {**info, **{k: e.get(k) for k in METRICS}, "seconds": time.perf_counter() - t0}


def fig7_table(body, samples: list[dict], reg: RegistrationConfig) -> pd.DataFrame:
    """The paper's Fig. 7: registration without one ingredient at a time."""
    rows = [registration_row(body, samples, c, registration=n) for n, c in ablation_configs(reg).items()]
    return pd.DataFrame(rows)


def shape_model_table(body, samples: list[dict], reg: RegistrationConfig) -> pd.DataFrame:
    """Segment scales free against the template's proportions (scales held at 1)."""
    frozen = replace(reg, stages=[replace(st, free=tuple(f for f in st.free if f != "scales")) for st in reg.stages])
    return pd.DataFrame(
        [
            registration_row(body, samples, reg, shape_model="24 segment scales (length, girth)"),
            registration_row(body, samples, frozen, shape_model="none (template proportions)"),
        ]
    )


def shape_claim(shape: pd.DataFrame) -> Claim:
    pve = shape["pve_mm"]
    return Claim(
        "A rigged template with per-segment scales fits body shape without a statistical body model",
        "the method's shape model: segment scales with smoothness, no learned shape space",
        f"{pve.iloc[0]:.0f} mm PVE with segment scales against {pve.iloc[1]:.0f} mm with the template's proportions",
        lower(pve.iloc[0], pve.iloc[1]),
    )


def lift_samples(samples: list[dict], lifter) -> list[dict]:
    """The samples with the lifter's depths of their keypoints (unchanged when ``lifter`` is None)."""
    if lifter is None:
        return samples
    from dalnb.lifter import lift_depths, with_lifted_depths

    dz = lift_depths(lifter, np.stack([s["keypoints2d"] for s in samples]))
    return with_lifted_depths(samples, dz)


def _renders(n: int, seed: int, size: int, **synth) -> list[dict]:
    from dalnb.data.synth import SynthConfig, make_samples

    return make_samples(n, (seed, 606), SynthConfig(image_size=size, anny_fraction=1.0, truncation=0.0, **synth))


def dense_count_table(
    body, n: int, seed: int, size: int, counts: list[int], reg: RegistrationConfig, lifter=None
) -> pd.DataFrame:
    """How many dense points: ``n`` renders with 200 points each, registered with a random subset
    of ``counts[i]`` points."""
    dense200 = lift_samples(_renders(n, seed, size, n_dense=200), lifter)
    rng = np.random.default_rng(seed)
    rows = []
    for k in counts:
        sub = []
        for s in dense200:
            keep = np.sort(rng.choice(len(s["dense_xy"]), min(k, len(s["dense_xy"])), replace=False))
            sub.append(dict(s, dense_xy=s["dense_xy"][keep], dense_vertex=s["dense_vertex"][keep]))
        rows.append(registration_row(body, sub, reg, dense_points=k))
    return pd.DataFrame(rows)


def robust_kernels(reg: RegistrationConfig) -> dict[str, RegistrationConfig]:
    """Squared residuals, a fixed Geman-McClure scale and one narrowing over the fit."""
    sig0 = reg.robust_sigma or RegistrationConfig.robust_sigma  # the default scale where the config squares
    sig1 = reg.robust_sigma_end or RegistrationConfig.robust_sigma_end
    return {
        "squared": replace(reg, robust_sigma=None),
        f"Geman-McClure σ={sig0}": replace(reg, robust_sigma=sig0, robust_sigma_end=None),
        f"Geman-McClure σ={sig0} -> {sig1}": replace(reg, robust_sigma=sig0, robust_sigma_end=sig1),
    }


def noise_table(
    body, n: int, seed: int, size: int, noise_px: list[float], reg: RegistrationConfig, lifter=None
) -> pd.DataFrame:
    """Annotation noise (pixels; from ``DENSEPOSE_NOISE``'s noise up also its outliers and left-right
    swaps) against each robust kernel."""
    rows = []
    for px in noise_px:
        big = px >= DENSEPOSE_NOISE["noise_px"]
        rates = {k: DENSEPOSE_NOISE[k] if big else 0.0 for k in ("outlier_rate", "swap_rate")}
        ns = lift_samples(_renders(n, seed, size, n_dense=120, noise_px=float(px), **rates), lifter)
        pct = {
            k: f"{rates[r] * 100:.0f} %" if big else "0"
            for k, r in (("outliers", "outlier_rate"), ("swaps", "swap_rate"))
        }
        info = dict(noise_px=px, **pct)
        for kern, cfg_k in robust_kernels(reg).items():
            rows.append(registration_row(body, ns, cfg_k, **info, kernel=kern))
    return pd.DataFrame(rows)


FIG7 = {  # ablation name (fitting.ablation_configs) -> what the paper says it is needed for
    "without dense correspondences": "Dense correspondences are needed: registration without them is worse",
    "without smoothness and limit terms": "Scale smoothness and joint limits are needed: registration "
    "without them is worse",
    "without the stiff stage": "The stiff first stage (global rotation first) is needed: registration "
    "without it is worse",
}


def fig7_claims(pa_mpjpe_mm: Mapping[str, float], setting: str) -> list[Claim]:
    """The paper's Fig. 7 claims from a PA-MPJPE per ablation (keys of ``fitting.ablation_configs``,
    ``"full"`` among them); ``setting`` says on what they were measured."""
    if "full" not in pa_mpjpe_mm:
        raise ValueError(f"fig7_claims: expected a 'full' entry, got {sorted(pa_mpjpe_mm)}")
    full = pa_mpjpe_mm["full"]
    return [
        Claim(
            text,
            "Fig. 7: registration with one term removed at a time",
            f"{pa_mpjpe_mm[k]:.0f} mm PA-MPJPE {k} against {full:.0f} mm with all terms ({setting})",
            lower(full, pa_mpjpe_mm[k]),
        )
        for k, text in FIG7.items()
        if k in pa_mpjpe_mm
    ]
