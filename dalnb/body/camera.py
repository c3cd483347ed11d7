"""Cameras. Camera frame: x right, y down, z forward (pixels: u right, v down).

Weak perspective (s, tx, ty): u = s * X + tx, v = s * Y + ty, with s in pixels per metre.
Perspective: u = fx X / Z + cx, v = fy Y / Z + cy.
The body model's own frame is y up, facing +z: a fit's global rotation maps it into the camera
frame (a person facing the camera has rotation diag(1, -1, -1)).
"""
from __future__ import annotations

import torch

from dalnb.checks import check_shape

__all__ = ["weak_perspective", "perspective", "FACING_CAMERA"]

#: rotation taking an upright body facing +z to one facing a camera looking down +z
FACING_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def weak_perspective(points: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) points, (B, 3) camera (s, tx, ty) -> (B, N, 2) pixels."""
    dims = check_shape("points", points, ("B", "N", 3))
    check_shape("camera", camera, ("B", 3), dims)
    return camera[:, None, :1] * points[..., :2] + camera[:, None, 1:]


def perspective(points: torch.Tensor, focal: torch.Tensor, center: torch.Tensor, min_depth: float = 1e-3) -> torch.Tensor:
    """(B, N, 3) camera-frame points, (B, 2) focal (fx, fy) px, (B, 2) principal point -> (B, N, 2)."""
    dims = check_shape("points", points, ("B", "N", 3))
    check_shape("focal", focal, ("B", 2), dims)
    check_shape("center", center, ("B", 2), dims)
    z = points[..., 2:].clamp_min(min_depth)
    return focal[:, None] * points[..., :2] / z + center[:, None]
