"""Rotation conversions, all named ``a_to_b``.

Convention: rotation matrices act on column vectors on the left (``x' = R @ x``).
Axis-angle is a 3-vector ``axis * angle`` (radians). Quaternions are unit quaternions in
roma's **XYZW** order (scalar last). Conversions are delegated to ``roma`` (a dependency of
anny), which handles angles near zero with series expansions; this module only fixes names,
shapes and the two conversions roma has no name for (Gram-Schmidt of 9 numbers, and the
determinant used by the registration's handedness loss).

Shapes: ``(..., 3)`` axis-angle, ``(..., 4)`` quaternion, ``(..., 3, 3)`` matrix, ``(..., 9)``
raw global rotation.
"""

from __future__ import annotations

import roma
import torch

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "axis_angle_to_quaternion",
    "quaternion_to_axis_angle",
    "nine_to_matrix",
]


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrix (Rodrigues)."""
    return roma.rotvec_to_rotmat(axis_angle)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrix -> (..., 3) axis-angle with angle in [0, pi]."""
    return roma.rotmat_to_rotvec(matrix)


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """(..., 4) XYZW quaternion, normalised first (the regressor outputs raw 4-vectors)."""
    q = quaternion / quaternion.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return roma.unitquat_to_rotmat(q)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) XYZW unit quaternion."""
    return roma.rotmat_to_unitquat(matrix)


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 4) XYZW."""
    return roma.rotvec_to_unitquat(axis_angle)


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """(..., 4) XYZW -> (..., 3)."""
    q = quaternion / quaternion.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return roma.unitquat_to_rotvec(q)


def nine_to_matrix(nine: torch.Tensor) -> torch.Tensor:
    """(..., 9) or (..., 3, 3) raw numbers -> (..., 3, 3) orthonormal matrix by Gram-Schmidt.

    As in the paper, the three *columns* are orthonormalised in turn
    (c1 = a1/|a1|; c2 = a2 - (a2.c1)c1, normalised; c3 = a3 minus its projections on c1, c2,
    normalised). The third column comes from the input, not from c1 x c2, so the result may be
    a reflection (det = -1) when the input is left-handed: the registration's determinant loss
    (``losses.determinant_loss``) keeps det = +1. ``roma.special_gramschmidt`` is the
    cross-product variant that is always proper.
    """
    m = nine.reshape(*nine.shape[:-1], 3, 3) if nine.shape[-1] == 9 else nine
    if m.shape[-2:] != (3, 3):
        raise ValueError(f"nine_to_matrix: expected (..., 9) or (..., 3, 3), got {tuple(nine.shape)}")
    a1, a2, a3 = m[..., :, 0], m[..., :, 1], m[..., :, 2]
    c1 = _normalize(a1)
    c2 = _normalize(a2 - (a2 * c1).sum(-1, keepdim=True) * c1)
    c3 = a3 - (a3 * c1).sum(-1, keepdim=True) * c1 - (a3 * c2).sum(-1, keepdim=True) * c2
    c3 = _normalize(c3)
    return torch.stack([c1, c2, c3], dim=-1)


def _normalize(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)
