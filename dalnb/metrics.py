"""Evaluation metrics (explained in notebook 05), numpy, batched over the first axis.

* MPJPE: mean joint distance after aligning the roots; with the protocol's rescaling, the
  prediction is first scaled so that its sum of bone lengths matches the ground truth's.
* PA-MPJPE: after a similarity Procrustes alignment (rotation, translation, scale).
* PVE: per-vertex error after Procrustes alignment.
* per-pixel error: distance between each annotated image point and the projection of its
  predicted surface point.
* torso rotation error: the angle between the predicted and true torso frames (hips and thorax),
  the body's heading seen from the camera, which PA-MPJPE aligns away and MPJPE pays for.
Checked against scipy.spatial.procrustes and hand-made cases in tests/test_metrics.py.
"""

from __future__ import annotations

import numpy as np

from dalnb.body.skeleton import COCO_LIMBS, H36M17, H36M_BONES

__all__ = [
    "procrustes_align",
    "pa_error",
    "mpjpe",
    "pa_mpjpe",
    "pve",
    "pixel_error",
    "bone_length_sum",
    "surface_pixel_error",
    "evaluate",
    "COCO_LIMBS",
    "limb_depth_sign_accuracy",
    "torso_frame",
    "torso_rotation_error_deg",
    "depth_split",
]


def limb_depth_sign_accuracy(
    depth: np.ndarray, gt_depth: np.ndarray, limbs: dict[str, tuple[int, int]] = COCO_LIMBS, min_delta: float = 0.05
) -> dict[str, float]:
    """Which way each limb points in depth, right or wrong: (N, K) predicted and true keypoint
    depths (metres, any common origin per sample) -> limb -> the fraction of samples whose
    sign(z_child - z_parent) is right, over the samples where the true limb leaves the image
    plane by more than ``min_delta`` (NaN where none does; NaN predictions count as wrong)."""
    depth, gt_depth = np.asarray(depth, np.float64), np.asarray(gt_depth, np.float64)
    if depth.shape != gt_depth.shape or depth.ndim != 2:
        raise ValueError(f"expected two (N, K) arrays of the same shape, got {depth.shape} and {gt_depth.shape}")
    out = {}
    for name, (a, b) in limbs.items():
        g, p = gt_depth[:, b] - gt_depth[:, a], depth[:, b] - depth[:, a]
        m = np.abs(g) > min_delta
        out[name] = float((np.sign(p[m]) == np.sign(g[m])).mean()) if m.any() else float("nan")
    return out


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(B, N, 3) pred aligned to gt by the similarity (s R x + t) minimising squared error."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(
            f"procrustes_align: expected two (B, N, 3) arrays of one shape, got {pred.shape} and {gt.shape}"
        )
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


def torso_frame(joints: np.ndarray, names: tuple[str, ...] = H36M17) -> np.ndarray:
    """(B, J, 3) joints named by ``names`` -> (B, 3, 3) rotation whose columns are the torso's axes in
    the joints' frame: x from the right hip to the left, y towards the thorax (made orthogonal to x),
    z = x cross y, out of the chest."""
    j = np.asarray(joints, np.float64)
    if j.ndim != 3 or j.shape[1:] != (len(names), 3):
        raise ValueError(f"torso_frame: expected (B, {len(names)}, 3) joints, got {j.shape}")
    x = j[:, names.index("left_hip")] - j[:, names.index("right_hip")]
    x = x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)
    up = j[:, names.index("thorax")] - j[:, names.index("root")]
    y = up - (up * x).sum(-1, keepdims=True) * x
    y = y / np.linalg.norm(y, axis=-1, keepdims=True).clip(1e-12)
    return np.stack([x, y, np.cross(x, y)], -1)


def torso_rotation_error_deg(pred: np.ndarray, gt: np.ndarray, names: tuple[str, ...] = H36M17) -> np.ndarray:
    """(B,) angle in degrees of the rotation between the predicted and the true torso frames
    (:func:`torso_frame`), both in the camera frame: 180 is a body seen from the wrong side."""
    P, G = torso_frame(pred, names), torso_frame(gt, names)
    c = (np.einsum("bij,bij->b", P, G) - 1) / 2  # trace(P G^T) = 1 + 2 cos(angle)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def depth_split(pred: np.ndarray, gt: np.ndarray, root: int = 0) -> dict[str, np.ndarray]:
    """Where a 3D prediction's error lies: in the image plane or in depth. (B, N, 3) joints in the camera
    frame (x, y in the image plane, z along the view) -> (B,) in metres:

    * ``"whole"``: PA-MPJPE;
    * ``"plane"`` and ``"depth"``: after the Procrustes alignment, the mean over joints of the residual's
      x, y length and of its z size (per joint, the two legs of the error);
    * ``"true_plane"``: PA-MPJPE of the true x, y with the predicted depths (what is left when the image
      plane is perfect);
    * ``"flat"``: PA-MPJPE of the true x, y with every joint at the root's depth (what the image plane
      alone gives, knowing nothing of depth).

    For the mixed skeletons both are centred on ``root`` and the prediction is scaled so that its x, y
    spread as far from the root as the truth's (the image plane fixes a body's scale; depths do not)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"depth_split: expected two (B, N, 3) arrays of one shape, got {pred.shape} and {gt.shape}")
    r = procrustes_align(pred, gt) - gt
    g = gt - gt[:, root : root + 1]
    p = pred - pred[:, root : root + 1]
    scale = np.sqrt((g[..., :2] ** 2).sum((1, 2)) / (p[..., :2] ** 2).sum((1, 2)).clip(1e-18))
    flat = g.copy()
    flat[..., 2] = 0.0
    return {
        "whole": np.linalg.norm(r, axis=-1).mean(-1),
        "plane": np.linalg.norm(r[..., :2], axis=-1).mean(-1),
        "depth": np.abs(r[..., 2]).mean(-1),
        "true_plane": pa_error(np.concatenate([g[..., :2], scale[:, None, None] * p[..., 2:]], -1), g),
        "flat": pa_error(flat, g),
    }


def pixel_error(points_px: np.ndarray, annotated_px: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """(B,) mean distance (pixels) between projected predicted points (B, P, 2) and annotated
    image points (B, P, 2); ``weight`` (B, P) masks padding."""
    d = np.linalg.norm(np.asarray(points_px, np.float64) - np.asarray(annotated_px, np.float64), axis=-1)
    w = np.ones_like(d) if weight is None else np.asarray(weight, np.float64)
    return (d * w).sum(-1) / w.sum(-1).clip(1e-9)


def surface_pixel_error(
    vertices: np.ndarray,
    camera: np.ndarray,
    samples: list[dict],
    parts: np.ndarray | None = None,
    perspective: np.ndarray | None = None,
) -> np.ndarray:
    """(B,) per-pixel error of fits or predictions: each annotated image point (``dense_xy``)
    against the weak-perspective projection (s, tx, ty pixels) of its surface point
    (``dense_vertex``) on the predicted mesh (B, V, 3). Points given as DensePose (part, u, v)
    on DensePose's own charts (``dense_iuv``, no exact chart map) use the part-level variant
    when ``parts`` (V,) is given: the distance to the nearest projected vertex of the same
    part (a lower bound of the exact error). NaN for samples without dense points.
    ``perspective`` (B, 3) kappa, cx, cy: the registration's perspective projection
    (``dalnb.body.camera.project``) instead of weak perspective."""
    import torch

    from dalnb.body.camera import project

    def t(a):  # one sample's array as a float64 batch of one
        return torch.as_tensor(np.asarray(a, np.float64))[None]

    out = np.full(len(samples), np.nan)
    for i, s in enumerate(samples):
        if not len(s.get("dense_xy", [])):
            continue
        xy = np.asarray(s["dense_xy"], np.float64)
        if perspective is None:
            proj = project(t(vertices[i]), t(camera[i]))[0].numpy()
        else:
            k = np.asarray(perspective[i], np.float64)
            proj = project(t(vertices[i]), t(camera[i]), t(k[0]), t(k[1:]))[0].numpy()
        if "dense_vertex" in s:
            out[i] = pixel_error(proj[np.asarray(s["dense_vertex"], np.int64)][None], xy[None])[0]
        elif "dense_iuv" in s and parts is not None:
            part = np.asarray(s["dense_iuv"])[:, 0].astype(int)
            d = np.full(len(xy), np.nan)
            for p in np.unique(part):
                sel = part == p
                cand = proj[np.asarray(parts) == p]
                if len(cand):
                    d[sel] = np.sqrt(((xy[sel, None] - cand[None]) ** 2).sum(-1)).min(1)
            out[i] = float(np.nanmean(d))
    return out


def keypoint_error(points_px: np.ndarray, keypoints2d: np.ndarray) -> np.ndarray:
    """(B,) mean distance (pixels) between projected keypoints (B, K, 2) and annotated ones
    (B, K, 3: x, y, visibility or confidence) over those with visibility > 0; NaN where none."""
    p, k = np.asarray(points_px, np.float64), np.asarray(keypoints2d, np.float64)
    if p.shape[:-1] != k.shape[:-1] or p.shape[-1] != 2 or k.shape[-1] != 3:
        raise ValueError(f"keypoint_error: expected (B, K, 2) and (B, K, 3), got {p.shape} and {k.shape}")
    vis = k[..., 2] > 0
    d = np.linalg.norm(p - k[..., :2], axis=-1)
    n = vis.sum(-1)
    return np.where(n > 0, (d * vis).sum(-1) / np.maximum(n, 1), np.nan)


def evaluate(body, fits, samples: list[dict], mask=None) -> dict:
    """Mean metrics of fits or predictions (a ``FitResult``) against samples with ground truth:
    PA-MPJPE and MPJPE (Human3.6M-17 regressed from the mesh, protocol rescaling) in mm, the torso
    rotation error's median (degrees) and share over 90 degrees (%), PVE in mm when ``vertices3d``
    is known, per-pixel error in pixels when dense points are, keypoint reprojection error in
    pixels when keypoints are (``keypoint_err_px``: COCO-17 from the mesh against the annotated
    ones; for photos, MediaPipe's)."""
    ok = np.asarray(fits.status) == "ok" if mask is None else np.asarray(mask)
    V = fits.vertices.numpy()
    out = {"ok": int(ok.sum()), "n": len(samples)}
    if all("joints3d" in s for s in samples):
        H = body.keypoints(fits.vertices, "h36m17").numpy()[ok]
        gtH = np.stack([s["joints3d"] for s in samples])[ok]
        nan = float("nan")  # no fit succeeded: no error to average
        out.update(
            pa_mpjpe_mm=float(pa_mpjpe(H, gtH).mean() * 1000) if len(H) else nan,
            mpjpe_mm=float(mpjpe(H, gtH).mean() * 1000) if len(H) else nan,
        )
        if len(H):
            rot = torso_rotation_error_deg(H, gtH)
            out.update(torso_rot_median_deg=float(np.median(rot)), torso_rot_over_90_pct=float((rot > 90).mean() * 100))
    if all("vertices3d" in s for s in samples):
        gtV = np.stack([s["vertices3d"] for s in samples])[ok]
        out["pve_mm"] = float(pve(V[ok], gtV).mean() * 1000) if ok.any() else float("nan")
    persp = getattr(fits, "perspective", None)
    pix = surface_pixel_error(V, fits.camera.numpy(), samples, body.parts, None if persp is None else persp.numpy())[ok]
    if np.isfinite(pix).any():
        out["pixel_err"] = float(np.nanmean(pix))
    kp = np.stack([np.asarray(s.get("keypoints2d", np.zeros((17, 3))), np.float64) for s in samples])
    if ok.any() and (kp[ok][..., 2] > 0).any():
        proj = fits.project(body.keypoints(fits.vertices, "coco17")).detach().numpy()
        out["keypoint_err_px"] = float(np.nanmean(keypoint_error(proj, kp)[ok]))
    return out
