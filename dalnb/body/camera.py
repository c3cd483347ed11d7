"""Cameras: the one place where 3D points become pixels.

Camera frame: x right, y down, z forward (pixels: u right, v down). The body model's own frame
is y up, facing +z: a fit's global rotation maps it into the camera frame (a person facing the
camera has rotation diag(1, -1, -1)).

- ``project``: the fit's camera, weak perspective s (x, y) + t with an optional perspective
  strength kappa (1 / the camera's distance) about the principal point c:
  pi(x) = (s (x, y) + t - c) / (1 + kappa z) + c. At kappa = 0 it is the paper's weak
  perspective; with kappa free a fit can follow a real camera's foreshortening.
- ``pinhole``: a calibrated camera, u = f (x, y) / z + c, with optional radial (k) and
  tangential (p) distortion (Human3.6M's model); ``weak_pinhole`` the same camera seen as weak
  perspective at depth d, u = (f / d) (x, y) + c.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["project", "pinhole", "weak_pinhole", "render_camera", "FACING_CAMERA"]

#: rotation taking an upright body facing +z to one facing a camera looking down +z
FACING_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def project(
    points: torch.Tensor,
    camera: torch.Tensor,
    kappa: torch.Tensor | None = None,
    centre: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, N, 3) model-frame points, (B, 3) camera (s, tx, ty), (B,) kappa, (B, 2) principal
    point -> (B, N, 2): (s (x, y) + t - c) / (1 + kappa z) + c; weak perspective when kappa is
    None."""
    s, t = camera[:, None, :1], camera[:, None, 1:]
    if kappa is None:
        return s * points[..., :2] + t
    c = centre[:, None, :]
    return (s * points[..., :2] + t - c) / (1 + kappa[:, None, None] * points[..., 2:]) + c


def pinhole(
    points: np.ndarray,
    focal: float | np.ndarray,
    centre: np.ndarray,
    k: np.ndarray | None = None,
    p: np.ndarray | None = None,
) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) pixels: f (x, y) / z + c, after radial (k1..k3) and
    tangential (p1, p2) distortion of the normalised coordinates when given."""
    f, c = np.ravel(focal), np.ravel(centre)
    if k is None:
        return f * points[:, :2] / points[:, 2:] + c
    k, p = np.ravel(k), np.ravel(p if p is not None else np.zeros(2))
    xy = points[:, :2] / points[:, 2:]
    r2 = (xy**2).sum(1)
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p[0] * xy[:, 1] + p[1] * xy[:, 0]
    xy_d = xy * (radial + tan)[:, None] + np.outer(r2, p[::-1])
    return xy_d * f + c


def weak_pinhole(points: np.ndarray, focal: float, depth: float, centre: np.ndarray) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) pixels, weak perspective at depth d: (f / d) (x, y) + c."""
    return (focal / depth) * points[:, :2] + np.ravel(centre)


def render_camera(points: np.ndarray, focal, depth: float, centre, perspective: bool = True) -> np.ndarray:
    """The synthetic renders' camera: ``pinhole``, or ``weak_pinhole`` at the body's depth."""
    return pinhole(points, focal, centre) if perspective else weak_pinhole(points, focal, depth, centre)
