"""Surface charts: our template's 24 DensePose-numbered parts with (u, v) per part.

Lookups both ways:
* vertex -> (part, u, v): a table (``Charts.vertex_iuv``);
* (part, u, v) -> surface point (face, barycentrics): the face of that part whose (u, v)
  triangle contains the query (the nearest one, clamped, when none does).

DensePose's own (u, v) live on SMPL's surface: part numbers transfer to our template
directly; (u, v) do not (see notebook 01 and ``dalnb.data`` for the chart map).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Charts", "SurfacePoints", "interpolate_surface"]


@dataclass(frozen=True)
class SurfacePoints:
    face: np.ndarray  # (P,) int64 face index
    bary: np.ndarray  # (P, 3) float64 barycentric weights, rows sum to 1
    inside: np.ndarray  # (P,) bool: the query fell inside a chart triangle (not clamped)


class Charts:
    def __init__(self, faces: np.ndarray, parts: np.ndarray, uv: np.ndarray):
        self.faces = np.asarray(faces)
        self.parts = np.asarray(parts)
        self.uv = np.asarray(uv)
        fp = self.parts[self.faces]
        same = (fp == fp[:, :1]).all(1)
        span = np.ptp(self.uv[self.faces], axis=1).max(1)
        # faces inside one part and not wrapping a chart seam
        self._part_faces = {p: np.flatnonzero(same & (fp[:, 0] == p) & (span < 0.5)) for p in range(1, 25)}

    def vertex_iuv(self, vertex_ids: np.ndarray) -> np.ndarray:
        """(P,) vertex ids -> (P, 3) [part, u, v] (part as float, like DensePose's I)."""
        ids = np.asarray(vertex_ids)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.parts)):
            raise ValueError(f"vertex ids must lie in [0, {len(self.parts)}), got range [{ids.min()}, {ids.max()}]")
        return np.concatenate([self.parts[ids, None].astype(np.float64), self.uv[ids]], axis=1)

    def iuv_to_surface(self, iuv: np.ndarray) -> SurfacePoints:
        """(P, 3) [part 1..24, u, v] -> surface points on our template."""
        iuv = np.asarray(iuv, dtype=np.float64)
        if iuv.ndim != 2 or iuv.shape[1] != 3:
            raise ValueError(f"iuv: expected shape (P, 3), got {iuv.shape}")
        part = iuv[:, 0]
        if not np.all((part >= 1) & (part <= 24) & (part == np.round(part))):
            bad = part[~((part >= 1) & (part <= 24) & (part == np.round(part)))]
            raise ValueError(f"iuv: part must be an integer in 1..24, got {bad[:5].tolist()}")
        if not np.all((iuv[:, 1:] >= 0) & (iuv[:, 1:] <= 1)):
            raise ValueError("iuv: u and v must lie in [0, 1]")
        P = len(iuv)
        face = np.zeros(P, np.int64)
        bary = np.zeros((P, 3))
        inside = np.zeros(P, bool)
        for p in np.unique(part.astype(int)):
            q = np.flatnonzero(part == p)
            fids = self._part_faces[p]
            tri = self.uv[self.faces[fids]]  # (Fp, 3, 2)
            lam = barycentric_2d(iuv[q, 1:], tri)  # (Q, Fp, 3)
            score = lam.min(-1)
            best = score.argmax(1)
            lb = lam[np.arange(len(q)), best]
            inside[q] = score[np.arange(len(q)), best] >= -1e-9
            lb = np.clip(lb, 0, None)
            lb /= lb.sum(1, keepdims=True).clip(1e-12)
            face[q] = fids[best]
            bary[q] = lb
        return SurfacePoints(face=face, bary=bary, inside=inside)


def barycentric_2d(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(Q, 2) points, (F, 3, 2) triangles -> (Q, F, 3) barycentric coordinates."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1 = b - a, c - a
    d = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    d = np.where(np.abs(d) < 1e-14, 1e-14, d)
    r = points[:, None, :] - a[None]
    l1 = (r[..., 0] * v1[:, 1] - v1[:, 0] * r[..., 1]) / d
    l2 = (v0[:, 0] * r[..., 1] - r[..., 0] * v0[:, 1]) / d
    return np.stack([1 - l1 - l2, l1, l2], -1)


def interpolate_surface(
    vertices: torch.Tensor, faces: torch.Tensor, face: torch.Tensor, bary: torch.Tensor
) -> torch.Tensor:
    """(B, V, 3) vertices, (F, 3) faces, (P,) face ids, (P, 3) barycentrics -> (B, P, 3)."""
    tri = vertices[:, faces[face]]  # (B, P, 3, 3)
    return (tri * bary[None, :, :, None].to(vertices.dtype)).sum(2)
