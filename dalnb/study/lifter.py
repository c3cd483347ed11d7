"""The cGAN lifter (notebook 02): 3D accuracy of keypoints lifted from 2D alone, on held-out
synthetic bodies and on the real Human3.6M frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dalnb.claims import Claim, lower

__all__ = ["evaluate_lift", "pa_by_pose_source", "lift_table", "h36m_lift_table", "lifter_claim"]


def evaluate_lift(pred3d: np.ndarray, gt3d: np.ndarray, mask: np.ndarray) -> dict:
    """Lifted (N, 17, 3) against true COCO-17 keypoints on the poses whose ``mask`` (N, 17) has
    every keypoint: PA-MPJPE and scale-aligned MPJPE (mm), and how many poses."""
    from dalnb import metrics as M

    ok = mask.min(1) > 0  # poses with every keypoint present
    p, g = pred3d[ok], gt3d[ok]
    pa = M.pa_mpjpe(p, g)
    # scale-aligned MPJPE: hip-midpoint aligned, best scale, no rotation
    pc, gc = p - p[:, [11, 12]].mean(1, keepdims=True), g - g[:, [11, 12]].mean(1, keepdims=True)
    s = (pc * gc).sum((1, 2)) / (pc**2).sum((1, 2)).clip(1e-9)
    sa = np.linalg.norm(s[:, None, None] * pc - gc, axis=-1).mean(1)
    return {
        "pa_mpjpe_mm": float(pa.mean() * 1000),
        "scale_aligned_mpjpe_mm": float(sa.mean() * 1000),
        "n": int(ok.sum()),
    }


#: the test bodies' pose sources (``pose_source``) and their names in tables
POSE_SOURCES = {"mocap": "mocap poses", "limits": "joint-limit poses"}


def pa_by_pose_source(pred3d: np.ndarray, gt3d: np.ndarray, mask: np.ndarray, pose_source) -> dict[str, float]:
    """:func:`evaluate_lift`'s PA-MPJPE (mm) on the bodies of each pose source (``pose_source`` (N,)) present."""
    src = np.asarray(pose_source)
    return {
        k: evaluate_lift(pred3d[src == k], gt3d[src == k], mask[src == k])["pa_mpjpe_mm"]
        for k in POSE_SOURCES
        if (src == k).any()
    }


def lift_table(lifted: dict[str, np.ndarray], gt3d: np.ndarray, mask: np.ndarray, pose_source) -> pd.DataFrame:
    """One row per method (name -> (N, 17, 3) lifted poses): :func:`evaluate_lift` on all test bodies, and its
    PA-MPJPE on those posed from motion capture and from joint-limit samples apart (``pose_source`` (N,))."""
    rows = []
    for name, pred in lifted.items():
        by_source = pa_by_pose_source(pred, gt3d, mask, pose_source)
        rows.append(
            {
                "method": name,
                **evaluate_lift(pred, gt3d, mask),
                **{f"PA-MPJPE, {POSE_SOURCES[k]} (mm)": v for k, v in by_source.items()},
            }
        )
    return pd.DataFrame(rows)


def h36m_lift_table(lifter, frames: list[dict]):
    """The lifter on real Human3.6M frames: PA-MPJPE (mm) of the lifted keypoints that Human3.6M
    also has, against zero depth, per frame."""
    import pandas as pd

    from dalnb import metrics as M
    from dalnb.body import skeleton as sk
    from dalnb.lifter import lift_3d

    kh = np.stack([s["keypoints2d"] for s in frames])
    names = [n for n in sk.COCO17 if kh[0, sk.COCO17.index(n), 2] > 0]
    ci = [sk.COCO17.index(n) for n in names]
    hi = [sk.H36M17.index({"left_ankle": "left_foot", "right_ankle": "right_foot"}.get(n, n)) for n in names]
    ph = lift_3d(lifter, kh)[:, ci]
    gh = np.stack([s["joints3d"] for s in frames])[:, hi]
    zh = ph.copy()
    zh[..., 2] = 0
    return pd.DataFrame(
        {
            "frame": [s["sample_id"] for s in frames],
            "lifter PA-MPJPE (mm)": M.pa_mpjpe(ph, gh) * 1000,
            "zero depth PA-MPJPE (mm)": M.pa_mpjpe(zh, gh) * 1000,
        }
    )


def lifter_claim(lifter_records: pd.DataFrame) -> Claim:
    """The cGAN's geometric losses, from the recorded lifter benchmark."""
    text = (
        "The cGAN's geometric losses (bone symmetry and ratios) improve the lifted poses",
        "the lifter's ablation (Kudo et al. setting)",
    )
    L = lifter_records.set_index("setting") if len(lifter_records) else None
    if L is None or not {"full", "no_geometric_losses"} <= set(L.index):
        return Claim(*text, "no recorded lifter benchmark", None, "run python -m dalnb.bench lifter --record")
    a, b = L.loc["full", "pa_mpjpe_mm"], L.loc["no_geometric_losses", "pa_mpjpe_mm"]
    ours = f"{a:.0f} mm PA-MPJPE with them against {b:.0f} mm without (recorded bench lifter, {L.loc['full', 'date']})"
    return Claim(*text, ours, lower(a, b))
