"""The lifter's depths as a soft prior: the two kinds of annotation it meets, the measured check of
whether it helps each, and attaching the depths to the samples where it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dalnb.fitting.config import RegistrationConfig
from dalnb.fitting.register import register

#: The two kinds of annotation a depth prior meets: images with dense correspondences (DensePose-COCO, our
#: renders) and images with 2D keypoints only (MPII, LSP, COCO keypoints, MediaPipe on a photo).
REGIMES = ("dense", "keypoints_only")


REGIME_NAMES = {"dense": "dense points + keypoints", "keypoints_only": "keypoints (+ mask) only"}
_DENSE_KEYS = ("dense_xy", "dense_iuv", "dense_vertex", "dense_uv_space", "dense_outlier", "dense_swapped")


def depth_regime(sample: dict) -> str:
    """'dense' when the sample has dense correspondences, else 'keypoints_only'."""
    return "dense" if len(sample.get("dense_xy", [])) else "keypoints_only"


def without_dense(sample: dict) -> dict:
    """The sample as a keypoint-only annotation: its dense correspondences removed (keypoints, a
    person mask if it has one, and everything else kept)."""
    return {k: v for k, v in sample.items() if k not in _DENSE_KEYS}


@dataclass(frozen=True)
class RegimeCheck:
    """One regime's registration of the same held-out bodies without and with the lifted depths (PA-MPJPE and
    MPJPE, mm): in the depths' own frame (``frame``: the file's, ``fitting.batch.DEPTH_FRAMES``), and, for
    comparison, taken in the other frame (``other``: its name, PA-MPJPE and MPJPE; empty when not measured)."""

    pa_mpjpe_2d_only: float
    pa_mpjpe_lifted: float
    mpjpe_2d_only: float = float("nan")
    mpjpe_lifted: float = float("nan")
    frame: str = "camera"
    other: dict = field(default_factory=dict)

    @property
    def use_lifted(self) -> bool:
        return self.pa_mpjpe_lifted < self.pa_mpjpe_2d_only


@dataclass(frozen=True)
class DepthPriorCheck:
    """Whether a lifter's depths make registration better, measured on held-out samples with
    ground truth in each regime (:data:`REGIMES`): the samples as they are (dense correspondences
    and keypoints) and the same samples with keypoints only (PA-MPJPE, mm)."""

    regimes: dict[str, RegimeCheck]
    n: int

    def use_lifted(self, regime: str) -> bool:
        return self.regimes[regime].use_lifted

    @property
    def helped(self) -> tuple[str, ...]:
        """The regimes where the lifted depths made registration more accurate."""
        return tuple(r for r, c in self.regimes.items() if c.use_lifted)

    def rows(self) -> list[dict]:
        """One row per regime: PA-MPJPE and MPJPE 2D only, with the lifted depths in their own frame and (where
        measured) in the other frame, and the decision."""
        rows = []
        for r, c in self.regimes.items():
            row = {
                "annotation": REGIME_NAMES[r],
                "PA-MPJPE 2D only (mm)": c.pa_mpjpe_2d_only,
                f"PA-MPJPE lifted, {c.frame} (mm)": c.pa_mpjpe_lifted,
            }
            if c.other:
                row[f"PA-MPJPE lifted, {c.other['frame']} (mm)"] = c.other["pa_mpjpe_mm"]
            row |= {"MPJPE 2D only (mm)": c.mpjpe_2d_only, f"MPJPE lifted, {c.frame} (mm)": c.mpjpe_lifted}
            if c.other:
                row[f"MPJPE lifted, {c.other['frame']} (mm)"] = c.other["mpjpe_mm"]
            rows.append(row | {"the chain uses them": c.use_lifted})
        return rows

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "regimes": {
                r: {
                    "pa_mpjpe_2d_only_mm": c.pa_mpjpe_2d_only,
                    "pa_mpjpe_lifted_mm": c.pa_mpjpe_lifted,
                    "mpjpe_2d_only_mm": c.mpjpe_2d_only,
                    "mpjpe_lifted_mm": c.mpjpe_lifted,
                    "frame": c.frame,
                    "other_frame": c.other,
                    "use_lifted": c.use_lifted,
                }
                for r, c in self.regimes.items()
            },
        }


DEPTH_PRIOR_FILE = "depth_prior.json"


def _regime_check(body, samples: list[dict], depths_file, cfg, other_frame: bool) -> RegimeCheck:
    """Register ``samples`` 2D only, with the depths of ``depths_file`` in their frame and (``other_frame``) in
    the other one."""
    from dalnb.data.store import attach_depths
    from dalnb.fitting.batch import DEPTH_FRAMES
    from dalnb.metrics import evaluate

    def err(ss):
        e = evaluate(body, register(body, ss, cfg), samples)
        return e["pa_mpjpe_mm"], e["mpjpe_mm"]

    lifted = attach_depths(samples, depths_file)
    frame = lifted[0]["keypoints_depth_frame"]
    (pa2, m2), (pal, ml) = err(samples), err(lifted)
    other = {}
    if other_frame:
        name = next(f for f in DEPTH_FRAMES if f != frame)
        pa, m = err([dict(s, keypoints_depth_frame=name) for s in lifted])
        other = {"frame": name, "pa_mpjpe_mm": pa, "mpjpe_mm": m}
    return RegimeCheck(pa2, pal, m2, ml, frame, other)


def check_depth_prior(
    body,
    samples: list[dict],
    depths_file: str | Path,
    cfg: RegistrationConfig | None = None,
    save_to: str | Path | None = None,
    other_frame: bool = True,
) -> DepthPriorCheck:
    """Register held-out ``samples`` (ground truth ``joints3d`` needed; never shown to the fit)
    2D-only and with the lifter's depths from ``depths_file`` (in their own frame, and with ``other_frame`` in
    the other one for comparison), once as they are and once with keypoints only (:func:`without_dense`);
    ``save_to``: a folder that gets ``depth_prior.json`` (read back by :func:`use_lifted_depths`)."""
    from dalnb.io import atomic_write_json

    if not samples or any("joints3d" not in s for s in samples):
        raise ValueError("check_depth_prior needs held-out samples with ground-truth 'joints3d'")
    drop = ("keypoints_depth", "keypoints_depth_mask", "keypoints_depth_frame")
    plain = [{k: v for k, v in s.items() if k not in drop} for s in samples]
    regimes = {
        regime: _regime_check(body, ss, depths_file, cfg, other_frame)
        for regime, ss in (("dense", plain), ("keypoints_only", [without_dense(s) for s in plain]))
    }
    check = DepthPriorCheck(regimes, len(samples))
    if save_to is not None:
        atomic_write_json(Path(save_to) / DEPTH_PRIOR_FILE, check.to_dict())
    return check


def _saved_regimes(folder: str | Path) -> dict | None:
    """The per-regime decisions saved by :func:`check_depth_prior` in ``folder`` (None when none was saved)."""
    import json

    path = Path(folder) / DEPTH_PRIOR_FILE
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())["regimes"]
        return {r: bool(saved[r]["use_lifted"]) for r in REGIMES}
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a depth-prior check ({type(e).__name__}: {e})") from e


def use_lifted_depths(folder: str | Path, regime: str = "dense") -> bool:
    """The decision saved by :func:`check_depth_prior` in ``folder`` for ``regime``; True (the
    paper's setting) when no check was saved."""
    if regime not in REGIMES:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    saved = _saved_regimes(folder)
    return True if saved is None else saved[regime]


def lifted_depth_regimes(folder: str | Path) -> tuple[str, ...]:
    """The regimes whose samples get the lifted depths, by the check saved in ``folder`` (all when none was saved)."""
    saved = _saved_regimes(folder)
    return REGIMES if saved is None else tuple(r for r in REGIMES if saved[r])


def attach_lifted_depths(
    samples: list[dict], depths_file: str | Path, regimes: tuple[str, ...] = REGIMES
) -> list[dict]:
    """``keypoints_depth`` from ``depths_file`` (by sample_id) on the samples whose
    :func:`depth_regime` is in ``regimes``; the others are returned unchanged."""
    from dalnb.data.store import attach_depths

    bad = set(regimes) - set(REGIMES)
    if bad:
        raise ValueError(f"regimes: expected a subset of {REGIMES}, got {sorted(bad)}")
    idx = [i for i, s in enumerate(samples) if depth_regime(s) in regimes]
    out = list(samples)
    for i, s in zip(idx, attach_depths([samples[i] for i in idx], depths_file)):
        out[i] = s
    return out
