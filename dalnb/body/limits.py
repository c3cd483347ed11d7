"""Per-joint anatomical limits, in a joint-local frame (explained in notebook 01).

Each joint s has a frame F_s with columns (x_s, y_s, z_s): y_s its segment's long axis, z_s the
body's front where possible (up for segments pointing forward, like the feet), x_s = y_s x z_s.
A joint rotation's axis-angle in that frame, a_local = F_s^T a, reads as
  x: flexion (positive brings the limb forward; knees flex with negative x), from the rest pose,
  y: twist about the bone,
  z: abduction for the body's left side (positive moves the limb away from the midline).
Limits are given for the left side; the right side mirrors y and z. The pose sampler draws
inside these limits; the registration's limit loss penalises leaving them.
"""

from __future__ import annotations

import numpy as np
import torch

from dalnb.body import skeleton as sk

__all__ = ["LEFT_LIMITS", "joint_frames", "limit_bounds", "local_to_world_aa", "world_to_local_aa"]

# (x, y, z) lower and upper bounds in radians, left side and midline joints, relative to the
# template's rest pose (anny's rest has the elbows bent ~0.75 rad forward, so a straight arm is
# elbow x = -0.75). Anatomical ranges widened to hold 98 % of the retargeted CMU frames
# (1st-99th percentiles, both sides mirrored); see notebook 01.
LEFT_LIMITS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "pelvis": ((-np.pi,) * 3, (np.pi,) * 3),
    "spine1": ((-0.30, -0.40, -0.30), (0.60, 0.40, 0.30)),
    "spine2": ((-0.30, -0.40, -0.30), (0.64, 0.40, 0.30)),
    "spine3": ((-0.53, -0.40, -0.30), (0.50, 0.40, 0.30)),
    "neck": ((-0.52, -0.60, -0.40), (0.60, 0.60, 0.40)),
    "head": ((-0.40, -0.52, -0.77), (1.50, 0.50, 0.41)),
    "left_hip": ((-0.40, -0.60, -0.35), (2.00, 0.60, 0.90)),
    "left_knee": ((-2.40, -0.20, -0.10), (0.22, 0.20, 0.10)),
    "left_ankle": ((-0.54, -0.35, -0.76), (0.77, 0.30, 0.43)),
    "left_foot": ((-0.58, -0.15, -0.10), (0.97, 0.14, 0.54)),
    "left_collar": ((-0.20, -0.20, -0.30), (0.20, 0.20, 0.68)),
    "left_shoulder": ((-1.00, -1.03, -1.47), (2.50, 1.00, 1.60)),
    "left_elbow": ((-1.38, -1.20, -0.77), (2.00, 1.20, 0.72)),
    "left_wrist": ((-1.00, -0.35, -1.01), (1.73, 0.35, 1.30)),
    "left_hand": ((-0.88, -0.15, -0.10), (1.55, 0.15, 2.37)),
}


def limit_bounds() -> tuple[np.ndarray, np.ndarray]:
    """(24, 3) lower and upper bounds in each joint's local frame."""
    lo, hi = np.zeros((24, 3)), np.zeros((24, 3))
    for s, name in enumerate(sk.JOINT_NAMES):
        key = name.replace("right_", "left_")
        l, h = (np.array(v, float) for v in LEFT_LIMITS[key])
        if name.startswith("right_"):
            l, h = l.copy(), h.copy()
            l[1:], h[1:] = -h[1:], -l[1:].copy()
        lo[s], hi[s] = l, h
    return lo, hi


def joint_frames(segment_axes: np.ndarray) -> np.ndarray:
    """(24, 3) segment axes -> (24, 3, 3) frames F_s (columns x_s, y_s, z_s)."""
    F = np.zeros((len(segment_axes), 3, 3))
    front, up = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])
    for s, y in enumerate(segment_axes):
        ref = front if abs(y @ front) < 0.8 else up
        x = np.cross(y, ref)
        x /= np.linalg.norm(x)
        z = np.cross(x, y)
        F[s] = np.stack([x, y, z], axis=1)
    return F


def local_to_world_aa(local: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """(..., 24, 3) local axis-angle -> world-aligned axis-angle (a = F a_local)."""
    return torch.einsum("sij,...sj->...si", frames.to(local.dtype), local)


def world_to_local_aa(aa: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    return torch.einsum("sji,...sj->...si", frames.to(aa.dtype), aa)
