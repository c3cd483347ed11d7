"""Batch preparation: each sample's dense points, keypoints, depths and mask collated into padded
tensors in the sample's normalised image frame (centre and size of its annotations); a sample
that cannot be fitted gets a status saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from dalnb.fitting.config import RegistrationConfig


# batches
@dataclass
class Batch:
    centre: torch.Tensor  # (B, 2) pixels
    size: torch.Tensor  # (B,) pixels
    principal: torch.Tensor  # (B, 2) principal point, normalised (the image centre where the image size is known)
    dense_ids: torch.Tensor  # (B, P, 3)
    dense_bary: torch.Tensor  # (B, P, 3)
    dense_xy: torch.Tensor  # (B, P, 2) normalised
    dense_w: torch.Tensor  # (B, P)
    part_xy: torch.Tensor  # (B, Q, 2)
    part_id: torch.Tensor  # (B, Q)
    part_w: torch.Tensor  # (B, Q)
    kp: torch.Tensor  # (B, K, 3) normalised, confidence
    kp_depth: torch.Tensor  # (B, K)
    kp_depth_w: torch.Tensor  # (B, K)
    mask_dist: torch.Tensor | None  # (B, 1, H, W) normalised distance outside the mask
    mask_hw: torch.Tensor | None  # (B, 2) mask height, width (pixels)
    has_mask: torch.Tensor  # (B,)
    status: list[str]
    mask_xy: torch.Tensor | None = None  # (B, M, 2) normalised pixels sampled inside the mask
    mask_w: torch.Tensor | None = None  # (B, M) 1 where sampled, 0 for padding

    def to(self, device) -> Batch:
        kw = {
            f.name: (
                getattr(self, f.name).to(device)
                if isinstance(getattr(self, f.name), torch.Tensor)
                else getattr(self, f.name)
            )
            for f in fields(self)
        }
        return Batch(**kw)


def _image_hw(s: dict) -> tuple[int, int] | None:
    if "image" in s:
        return tuple(np.asarray(s["image"]).shape[:2])
    if "mask" in s:
        return tuple(np.asarray(s["mask"]).shape[:2])
    if "image_size" in s:
        return tuple(int(x) for x in np.ravel(s["image_size"])[:2])
    return None


#: the annotations registration reads and their shapes (None: any length)
SHAPES = {
    "keypoints2d": (17, 3),
    "keypoints_depth": (17,),
    "dense_xy": (None, 2),
    "dense_vertex": (None,),
    "dense_iuv": (None, 3),
}


def _fits(got: tuple, want: tuple) -> bool:
    return len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want))


def _check(s: dict) -> str:
    """'ok' or why the sample cannot be fitted."""
    for k, shape in SHAPES.items():
        if k in s and not _fits(np.shape(s[k]), shape):
            return f"{k}: expected shape {shape}, got {np.shape(s[k])}"
    if "dense_xy" in s and any(k in s for k in ("dense_vertex", "dense_iuv")):
        n = {k: len(s[k]) for k in ("dense_xy", "dense_vertex", "dense_iuv") if k in s}
        if len(set(n.values())) > 1:
            return f"dense points disagree in number: {n}"
    for k in ("dense_xy", "keypoints2d", "dense_iuv"):
        if k in s and not np.isfinite(np.asarray(s[k], np.float64)).all():
            return f"non-finite values in {k}"
    if "keypoints_depth" in s and np.isinf(np.asarray(s["keypoints_depth"], np.float64)).any():  # NaN = missing
        return "infinite values in keypoints_depth"
    n_dense = len(s.get("dense_xy", []))
    kp = np.asarray(s.get("keypoints2d", np.zeros((17, 3))), np.float64)
    n_kp = int((kp[:, 2] > 0).sum()) if kp.ndim == 2 and kp.shape[1] == 3 else 0
    if n_dense == 0 and n_kp < 4:
        return f"nothing usable: {n_dense} dense points, {n_kp} keypoints"
    hw = _image_hw(s)
    if hw is not None:
        pts = [np.asarray(s["dense_xy"], np.float64)] if n_dense else []
        if n_kp:
            pts.append(kp[kp[:, 2] > 0, :2])
        p = np.concatenate(pts)
        h, w = hw
        far = (p[:, 0] < -0.5 * w) | (p[:, 0] > 1.5 * w) | (p[:, 1] < -0.5 * h) | (p[:, 1] > 1.5 * h)
        if far.mean() > 0.25:
            return f"points far outside the image ({far.sum()} of {len(p)})"
    return "ok"


def prepare_batch(body, samples: list[dict], cfg: RegistrationConfig, densepose_map=None) -> Batch:
    """Collate samples into padded tensors in each sample's normalised image frame."""
    from scipy.ndimage import distance_transform_edt

    B = len(samples)
    status = [_check(s) for s in samples]
    dense, part, kps, depths, masks = [], [], [], [], []
    centre = np.zeros((B, 2))
    size = np.ones(B)
    principal = np.zeros((B, 2))
    faces = body.data.faces
    for i, s in enumerate(samples):
        ok = status[i] == "ok"
        d_ids = np.zeros((0, 3), np.int64)
        d_bary = np.zeros((0, 3))
        d_xy = np.zeros((0, 2))
        p_xy, p_id = np.zeros((0, 2)), np.zeros(0, np.int64)
        if ok and len(s.get("dense_xy", [])):
            xy = np.asarray(s["dense_xy"], np.float64)
            space = str(s.get("dense_uv_space", "template"))
            if "dense_vertex" in s:
                v = np.asarray(s["dense_vertex"], np.int64)
                d_ids, d_bary, d_xy = np.stack([v, v, v], 1), np.tile([1.0, 0, 0], (len(v), 1)), xy
            elif "dense_iuv" in s and space == "template":
                sp = body.charts.iuv_to_surface(np.asarray(s["dense_iuv"], np.float64))
                d_ids, d_bary, d_xy = faces[sp.face], sp.bary, xy
            elif "dense_iuv" in s and densepose_map is not None:
                sp = densepose_map.to_template(np.asarray(s["dense_iuv"], np.float64))
                d_ids, d_bary, d_xy = faces[sp.face], sp.bary, xy
            elif "dense_iuv" in s:
                p_xy, p_id = xy, np.asarray(s["dense_iuv"])[:, 0].astype(np.int64)
        kp = np.asarray(s.get("keypoints2d", np.zeros((17, 3))), np.float64).copy() if ok else np.zeros((17, 3))
        kp[:, 2] = np.clip(kp[:, 2], 0, None)
        if kp[:, 2].max() > 1:  # COCO visibility flags 1/2 -> confidence 1
            kp[:, 2] = (kp[:, 2] > 0).astype(np.float64)
        pts = [a for a in (d_xy, p_xy, kp[kp[:, 2] > 0, :2]) if len(a)]
        if pts:
            allp = np.concatenate(pts)
            lo, hi = allp.min(0), allp.max(0)
            centre[i] = 0.5 * (lo + hi)
            size[i] = max(float((hi - lo).max()), 1.0)
        n = lambda a: (a - centre[i]) / size[i]  # noqa: E731,B023
        hw = _image_hw(s)
        principal[i] = n(np.array([hw[1] / 2, hw[0] / 2])) if hw is not None else 0.0
        dense.append((d_ids, d_bary, n(d_xy)))
        part.append((n(p_xy), p_id))
        kps.append(np.concatenate([n(kp[:, :2]), kp[:, 2:]], 1))
        dz = np.zeros(17)
        dw = np.zeros(17)
        if ok and "keypoints_depth" in s:
            dz = np.asarray(s["keypoints_depth"], np.float64)
            dw = (
                (kp[:, 2] > 0).astype(np.float64)
                if "keypoints_depth_mask" not in s
                else np.asarray(s["keypoints_depth_mask"], np.float64)
            )
            dw = dw * np.isfinite(dz)  # NaN depth: no prior for that keypoint (the lifter's convention)
            dz = np.nan_to_num(dz)
        depths.append((dz, dw))
        masks.append(np.asarray(s["mask"], bool) if ok and "mask" in s else None)
    P = max([len(d[2]) for d in dense] + [1])
    Q = max([len(p[1]) for p in part] + [1])
    t = lambda a, dt=torch.float32: torch.as_tensor(np.asarray(a), dtype=dt)  # noqa: E731
    d_ids = torch.zeros(B, P, 3, dtype=torch.int64)
    d_bary = torch.zeros(B, P, 3)
    d_xy = torch.zeros(B, P, 2)
    d_w = torch.zeros(B, P)
    p_xy, p_id, p_w = torch.zeros(B, Q, 2), torch.zeros(B, Q, dtype=torch.int64), torch.zeros(B, Q)
    for i, (ids, bary, xy) in enumerate(dense):
        m = len(xy)
        d_ids[i, :m], d_bary[i, :m], d_xy[i, :m], d_w[i, :m] = t(ids, torch.int64), t(bary), t(xy), 1.0
        pxy, pid = part[i]
        p_xy[i, : len(pid)], p_id[i, : len(pid)], p_w[i, : len(pid)] = t(pxy), t(pid, torch.int64), 1.0
    mask_dist = mask_hw = mask_xy = mask_w = None
    has_mask = torch.tensor([m is not None for m in masks])
    if has_mask.any() and cfg.stages and any(st.weights.get("silhouette", 0) > 0 for st in cfg.stages):
        H = max(m.shape[0] for m in masks if m is not None)
        W = max(m.shape[1] for m in masks if m is not None)
        md = np.zeros((B, 1, H, W), np.float32)
        hw = np.ones((B, 2), np.float32)
        M = cfg.coverage_points
        m_xy, m_w = np.zeros((B, M, 2), np.float32), np.zeros((B, M), np.float32)
        for i, m in enumerate(masks):
            if m is not None and m.any():
                md[i, 0, : m.shape[0], : m.shape[1]] = distance_transform_edt(~m) / size[i]
                hw[i] = [H, W]
                ys, xs = np.nonzero(m)
                pick = np.random.default_rng((cfg.seed, i)).choice(len(ys), min(M, len(ys)), replace=False)
                m_xy[i, : len(pick)] = (np.stack([xs[pick], ys[pick]], 1) + 0.5 - centre[i]) / size[i]  # pixel centres
                m_w[i, : len(pick)] = 1.0
            else:
                has_mask[i] = False
        mask_dist, mask_hw = torch.as_tensor(md), torch.as_tensor(hw)
        mask_xy, mask_w = torch.as_tensor(m_xy), torch.as_tensor(m_w)
    else:
        has_mask[:] = False
    return Batch(
        t(centre),
        t(size),
        t(principal),
        d_ids,
        d_bary,
        d_xy,
        d_w,
        p_xy,
        p_id,
        p_w,
        t(np.stack(kps)),
        t(np.stack([d[0] for d in depths])),
        t(np.stack([d[1] for d in depths])),
        mask_dist,
        mask_hw,
        has_mask,
        status,
        mask_xy,
        mask_w,
    )


def repeat_batch(b: Batch, K: int) -> Batch:
    kw = {}
    for f in fields(b):
        v = getattr(b, f.name)
        if isinstance(v, torch.Tensor):
            kw[f.name] = v.repeat(K, *([1] * (v.dim() - 1)))
        elif isinstance(v, list):
            kw[f.name] = v * K
        else:
            kw[f.name] = v
    return Batch(**kw)
