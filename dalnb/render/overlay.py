"""A fitted mesh drawn over its image (photos' overlays, notebooks' figures)."""

from __future__ import annotations

import numpy as np
import torch

from dalnb.render.raster import rasterize
from dalnb.render.shade import shade, vertex_normals

__all__ = ["overlay_mesh"]


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def overlay_mesh(image: np.ndarray, vertices, faces, camera, alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) uint8: a fitted mesh, shaded and z-buffered, over the image, drawn with its
    weak-perspective camera (s, tx, ty) (vertices in the fit's camera-aligned model frame)."""
    h, w = image.shape[:2]
    V = torch.as_tensor(_np(vertices), dtype=torch.float32)
    cam = _np(camera)
    xy = float(cam[0]) * V[:, :2] + torch.as_tensor(cam[1:], dtype=torch.float32)
    F = torch.as_tensor(np.asarray(_np(faces), dtype=np.int64))
    fr = rasterize(xy, V[:, 2], F, h, w)
    col = shade(
        fr.face,
        fr.bary,
        F,
        vertex_normals(V, F),
        torch.full((len(V), 3), 0.75),
        torch.tensor([0.0, 0.3, 1.0]) / (1.09**0.5),
    ).numpy()
    out = np.asarray(image, np.float32) / 255
    m = fr.face.numpy() >= 0
    out[m] = (1 - alpha) * out[m] + alpha * col[m]
    return (out * 255).astype(np.uint8)
