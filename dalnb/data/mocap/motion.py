"""``Motion``: named joints with parents, each joint's rest bone direction (world, unit; towards
its main child, or its End Site), per-frame local rotations and root positions; what both CMU
formats become.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Motion:
    names: list[str]
    parents: list[int]
    rest_positions: np.ndarray  # (J, 3) joint positions in the rest pose (capture units)
    bone_dirs: np.ndarray  # (J, 3) unit rest bone direction (NaN where undefined)
    local_rotations: np.ndarray  # (T, J, 3, 3)
    root_positions: np.ndarray  # (T, 3)
    fps: float
    source: str = ""

    @property
    def num_frames(self) -> int:
        return self.local_rotations.shape[0]

    def world_rotations(self) -> np.ndarray:
        """(T, J, 3, 3) world rotations (rest orientations are the identity in both formats)."""
        R = self.local_rotations
        W = np.empty_like(R)
        for j, p in enumerate(self.parents):
            W[:, j] = R[:, j] if p < 0 else W[:, p] @ R[:, j]
        return W


class MocapFormatError(ValueError):
    pass


def euler_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(T, k) angles in degrees, axes order like 'ZXY' (applied as R = R_a1 R_a2 R_a3) -> (T,3,3)."""
    T = angles_deg.shape[0]
    R = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
    for k, ax in enumerate(order.upper()):
        R = R @ _axis_rot(ax, np.deg2rad(angles_deg[:, k]))
    return R


def _axis_rot(ax: str, a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    if ax == "X":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif ax == "Y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    elif ax == "Z":
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    else:
        raise MocapFormatError(f"unknown rotation axis {ax!r}")
    return np.stack([np.stack(r, -1) for r in m], -2)
