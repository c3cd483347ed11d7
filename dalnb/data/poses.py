"""Pose and shape sources for synthetic data (explained in notebook 01).

Poses: (a) motion capture retargeted to our skeleton (a bank of CMU frames ships with dalnb,
``assets/cmu_poses.npz``; any BVH or ASF/AMC clip can be added), (b) a sampler inside the
per-joint limits of ``body.limits``. Shapes: random segment scales (adult and child-like
proportions), or bodies from anny's own phenotype model (ground truth from another shape space).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dalnb.body import limits as lim
from dalnb.body import skeleton as sk

__all__ = [
    "load_pose_bank",
    "build_pose_bank",
    "sample_limit_poses",
    "sample_poses",
    "sample_segment_scales",
    "sample_phenotypes",
]

ASSETS = Path(__file__).resolve().parents[1] / "assets"
POSE_BANK = ASSETS / "cmu_poses.npz"


def build_pose_bank(paths, body, every: int = 4) -> dict[str, np.ndarray]:
    """Retarget clips (BVH / AMC paths) to (N, 24, 3) poses, one frame in ``every``."""
    from dalnb.data.mocap import load_motion, retarget

    poses, clip = [], []
    for p in paths:
        m = load_motion(p)
        aa = retarget(m, body.data.joints, body.data.segment_axes, frames=slice(0, None, every))
        poses.append(aa)
        clip += [Path(p).name] * len(aa)
    return {"poses": np.concatenate(poses).astype(np.float32), "clip": np.array(clip)}


def load_pose_bank(path: Path = POSE_BANK) -> np.ndarray:
    """(N, 24, 3) retargeted CMU poses shipped with dalnb."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: pose bank missing; rebuild it with dalnb.data.poses.build_pose_bank")
    with np.load(path) as z:
        return z["poses"]


def sample_limit_poses(n: int, rng: np.random.Generator, frames: np.ndarray, spread: float = 0.2) -> np.ndarray:
    """(n, 24, 3) poses drawn inside the joint limits: a normal around the middle of each range
    with std ``spread`` x range, clipped to the limits. The root stays upright (zero)."""
    lo, hi = lim.limit_bounds()
    centre = np.clip(0.0, lo, hi)
    local = centre + rng.standard_normal((n, 24, 3)) * spread * (hi - lo)
    local = np.clip(local, lo, hi)
    local[:, 0] = 0.0
    return np.einsum("sij,nsj->nsi", frames, local).astype(np.float32)


def sample_poses(
    n: int, rng: np.random.Generator, frames: np.ndarray, mocap_fraction: float = 0.7, bank: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mix of mocap frames and limit-sampled poses; returns poses (n, 24, 3) and source (n,)
    with 'mocap' or 'limits'. Mocap roots keep their pitch and roll but lose their heading."""
    from scipy.spatial.transform import Rotation

    bank = load_pose_bank() if bank is None else bank
    use_mocap = rng.random(n) < mocap_fraction
    poses = sample_limit_poses(n, rng, frames)
    k = int(use_mocap.sum())
    if k:
        pick = bank[rng.integers(0, len(bank), k)].copy()
        root = Rotation.from_rotvec(pick[:, 0])
        yaw = root.as_euler("YXZ")[:, 0]  # heading about the vertical axis
        pick[:, 0] = (Rotation.from_euler("Y", -yaw[:, None]) * root).as_rotvec()
        poses[use_mocap] = pick
    return poses, np.where(use_mocap, "mocap", "limits")


def sample_segment_scales(n: int, rng: np.random.Generator, child_fraction: float = 0.1) -> np.ndarray:
    """(n, 24, 2) [length, girth] scales: a body-wide size times per-segment variation, left and
    right equal; child-like bodies have shorter limbs relative to the head and trunk."""
    S = len(sk.JOINT_NAMES)
    size = rng.normal(1.0, 0.06, (n, 1, 1))
    girth_all = rng.normal(1.0, 0.1, (n, 1))
    per = rng.normal(0.0, 0.05, (n, S, 2))
    for s, name in enumerate(sk.JOINT_NAMES):  # symmetric bodies
        if name.startswith("right_"):
            per[:, s] = per[:, sk.JOINT_NAMES.index("left_" + name[6:])]
    sc = size * (1 + per)
    sc[..., 1] *= girth_all
    child = rng.random(n) < child_fraction
    if child.any():
        limbs = [i for i, nm in enumerate(sk.JOINT_NAMES) if any(k in nm for k in ("hip", "knee", "shoulder", "elbow"))]
        f = rng.uniform(0.6, 0.8, (int(child.sum()), 1))
        sc[np.ix_(child, limbs, [0])] *= f[:, :, None]
        sc[child] *= rng.uniform(0.75, 0.9, (int(child.sum()), 1, 1))
    return np.clip(sc, 0.4, 1.8).astype(np.float32)


def sample_phenotypes(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """anny phenotype values in [0, 1] (gender, age, muscle, weight, height, proportions)."""
    return {
        "gender": rng.uniform(0, 1, n),
        "age": rng.uniform(0.35, 1.0, n),
        "muscle": rng.uniform(0.1, 0.9, n),
        "weight": rng.uniform(0.1, 0.9, n),
        "height": rng.uniform(0.1, 0.9, n),
        "proportions": rng.uniform(0.2, 0.8, n),
    }


def phenotype_bodies(anny_model, body, pose: torch.Tensor, phenotypes: dict[str, np.ndarray]) -> torch.Tensor:
    """(B, V, 3) vertices of anny phenotype bodies posed with our pose (our topology)."""
    from dalnb.body.oracle import anny_vertices_for

    with torch.no_grad():
        Rw = body(pose.float()).world_rotations.double()
    kw = {k: torch.as_tensor(v, dtype=anny_model.dtype) for k, v in phenotypes.items()}
    v = anny_vertices_for(anny_model, body, Rw, phenotype_kwargs=kw)
    return v[:, torch.as_tensor(body.source_vertex_ids)].float()
