"""Evaluation metrics (explained in notebook 05), numpy, batched over the first axis.

* MPJPE: mean joint distance after aligning the roots; with the protocol's rescaling, the
  prediction is first scaled so that its sum of bone lengths matches the ground truth's.
* PA-MPJPE: after a similarity Procrustes alignment (rotation, translation, scale).
* PVE: per-vertex error after Procrustes alignment.
* per-pixel error: distance between each annotated image point and the projection of its
  predicted surface point.
Checked against scipy.spatial.procrustes and hand-made cases in tests/test_metrics.py.
"""
from __future__ import annotations

import numpy as np

__all__ = ["procrustes_align", "pa_error", "mpjpe", "pa_mpjpe", "pve", "pixel_error", "bone_length_sum"]

H36M_BONES = ((0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10), (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16))


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(B, N, 3) pred aligned to gt by the similarity (s R x + t) minimising squared error."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"procrustes_align: expected two (B, N, 3) arrays of one shape, got {pred.shape} and {gt.shape}")
    mp, mg = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mp, gt - mg
    U, S, Vt = np.linalg.svd(np.einsum("bni,bnj->bij", p, g))  # p^T g
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones_like(S)
    D[:, -1] = d
    R = np.einsum("bij,bj,bjk->bik", U, D, Vt)  # maps p (row vectors) onto g: p @ R
    s = (S * D).sum(1) / (p**2).sum((1, 2)).clip(1e-18)
    return s[:, None, None] * p @ R + mg


def pa_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(B,) mean point distance after Procrustes alignment (metres)."""
    return np.linalg.norm(procrustes_align(pred, gt) - np.asarray(gt, np.float64), axis=-1).mean(-1)


pa_mpjpe = pa_error


def pve(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> np.ndarray:
    """(B,) per-vertex error after Procrustes alignment (metres)."""
    return pa_error(pred_vertices, gt_vertices)


def bone_length_sum(joints: np.ndarray, bones=H36M_BONES) -> np.ndarray:
    j = np.asarray(joints, np.float64)
    return sum(np.linalg.norm(j[:, a] - j[:, b], axis=-1) for a, b in bones)


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: int = 0, rescale: bool = True, bones=H36M_BONES) -> np.ndarray:
    """(B,) mean joint distance after root alignment; with ``rescale`` the prediction's skeleton
    is scaled to the ground truth's sum of bone lengths first (the protocol for methods that
    predict shape only up to scale)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"mpjpe: shapes differ: {pred.shape} vs {gt.shape}")
    p = pred - pred[:, root : root + 1]
    g = gt - gt[:, root : root + 1]
    if rescale:
        p = p * (bone_length_sum(g, bones) / bone_length_sum(p, bones).clip(1e-9))[:, None, None]
    return np.linalg.norm(p - g, axis=-1).mean(-1)


def pixel_error(points_px: np.ndarray, annotated_px: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """(B,) mean distance (pixels) between projected predicted points (B, P, 2) and annotated
    image points (B, P, 2); ``weight`` (B, P) masks padding."""
    d = np.linalg.norm(np.asarray(points_px, np.float64) - np.asarray(annotated_px, np.float64), axis=-1)
    w = np.ones_like(d) if weight is None else np.asarray(weight, np.float64)
    return (d * w).sum(-1) / w.sum(-1).clip(1e-9)
