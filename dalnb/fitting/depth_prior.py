"""The lifter's depths as a soft prior: the two kinds of annotation it meets, the measured check of
whether it helps each, and attaching the depths to the samples where it does.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """One regime's registration of the same held-out bodies without and with the lifted depths."""

    pa_mpjpe_2d_only: float
    pa_mpjpe_lifted: float

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
        """One row per regime: PA-MPJPE 2D only and with the lifted depths, and the decision."""
        return [
            {
                "annotation": REGIME_NAMES[r],
                "PA-MPJPE 2D only (mm)": c.pa_mpjpe_2d_only,
                "PA-MPJPE with lifted depths (mm)": c.pa_mpjpe_lifted,
                "the chain uses them": c.use_lifted,
            }
            for r, c in self.regimes.items()
        ]

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "regimes": {
                r: {
                    "pa_mpjpe_2d_only_mm": c.pa_mpjpe_2d_only,
                    "pa_mpjpe_lifted_mm": c.pa_mpjpe_lifted,
                    "use_lifted": c.use_lifted,
                }
                for r, c in self.regimes.items()
            },
        }


DEPTH_PRIOR_FILE = "depth_prior.json"


def check_depth_prior(
    body,
    samples: list[dict],
    depths_file: str | Path,
    cfg: RegistrationConfig | None = None,
    save_to: str | Path | None = None,
) -> DepthPriorCheck:
    """Register held-out ``samples`` (ground truth ``joints3d`` needed; never shown to the fit)
    2D-only and with the lifter's depths from ``depths_file``, once as they are and once with
    keypoints only (:func:`without_dense`); ``save_to``: a folder that gets ``depth_prior.json``
    (read back by :func:`use_lifted_depths`)."""
    from dalnb.data.store import attach_depths
    from dalnb.io import atomic_write_json
    from dalnb.metrics import evaluate

    if not samples or any("joints3d" not in s for s in samples):
        raise ValueError("check_depth_prior needs held-out samples with ground-truth 'joints3d'")
    plain = [{k: v for k, v in s.items() if k not in ("keypoints_depth", "keypoints_depth_mask")} for s in samples]
    regimes = {}
    for regime, ss in (("dense", plain), ("keypoints_only", [without_dense(s) for s in plain])):
        r2d = evaluate(body, register(body, ss, cfg), ss)["pa_mpjpe_mm"]
        rl = evaluate(body, register(body, attach_depths(ss, depths_file), cfg), ss)["pa_mpjpe_mm"]
        regimes[regime] = RegimeCheck(r2d, rl)
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
