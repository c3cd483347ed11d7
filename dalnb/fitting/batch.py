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
    kp_depth_untilted: torch.Tensor  # (B,) 1 where the depths are known up to a global tilt (DEPTH_FRAMES)
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
    if str(s.get("keypoints_depth_frame", "camera")) not in DEPTH_FRAMES:
        return f"keypoints_depth_frame: expected one of {DEPTH_FRAMES}, got {s['keypoints_depth_frame']!r}"
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


def _dense_points(body, s: dict, densepose_map) -> tuple[np.ndarray, ...]:
    """A sample's dense points: (ids (P, 3), barycentric (P, 3), xy (P, 2)) on the template's surface,
    and the points known only by their part (xy (Q, 2), part (Q,)) where no chart map is given."""
    none = np.zeros((0, 3), np.int64), np.zeros((0, 3)), np.zeros((0, 2))
    part = np.zeros((0, 2)), np.zeros(0, np.int64)
    if not len(s.get("dense_xy", [])):
        return *none, *part
    xy = np.asarray(s["dense_xy"], np.float64)
    space = str(s.get("dense_uv_space", "template"))
    faces = body.data.faces
    if "dense_vertex" in s:
        v = np.asarray(s["dense_vertex"], np.int64)
        return np.stack([v, v, v], 1), np.tile([1.0, 0, 0], (len(v), 1)), xy, *part
    if "dense_iuv" in s and (space == "template" or densepose_map is not None):
        iuv = np.asarray(s["dense_iuv"], np.float64)
        sp = body.charts.iuv_to_surface(iuv) if space == "template" else densepose_map.to_template(iuv)
        return faces[sp.face], sp.bary, xy, *part
    if "dense_iuv" in s:
        return *none, xy, np.asarray(s["dense_iuv"])[:, 0].astype(np.int64)
    return *none, *part


def _keypoints(s: dict, ok: bool) -> np.ndarray:
    """(17, 3) pixels and confidence (COCO visibility flags 1/2 -> confidence 1)."""
    kp = np.asarray(s.get("keypoints2d", np.zeros((17, 3))), np.float64).copy() if ok else np.zeros((17, 3))
    kp[:, 2] = np.clip(kp[:, 2], 0, None)
    if kp[:, 2].max() > 1:
        kp[:, 2] = (kp[:, 2] > 0).astype(np.float64)
    return kp


def _frame(points: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The normalised frame of a sample's annotated points: the centre of their box and its longer
    side (pixels); the origin and 1 when there are none."""
    pts = [a for a in points if len(a)]
    if not pts:
        return np.zeros(2), 1.0
    allp = np.concatenate(pts)
    lo, hi = allp.min(0), allp.max(0)
    return 0.5 * (lo + hi), max(float((hi - lo).max()), 1.0)


def _depth_prior(s: dict, kp: np.ndarray, ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """(17,) keypoint depths and their weights: the annotated keypoints' (or the given mask's);
    a NaN depth has no prior (the lifter's convention)."""
    if not (ok and "keypoints_depth" in s):
        return np.zeros(17), np.zeros(17)
    dz = np.asarray(s["keypoints_depth"], np.float64)
    dw = np.asarray(s["keypoints_depth_mask"], np.float64) if "keypoints_depth_mask" in s else (kp[:, 2] > 0) * 1.0
    return np.nan_to_num(dz), dw * np.isfinite(dz)


#: what a sample's ``keypoints_depth_frame`` may say of its depths: "camera" (the default): camera-frame depths
#: relative to the hip midpoint (exact ones, a depth sensor's); "untilted": known up to a global tilt (a plane
#: a x + b y + c over the image), as a lifter's, which 2D cannot tell the body's lean or heading
DEPTH_FRAMES = ("camera", "untilted")


def _untilted(s: dict, ok: bool) -> bool:
    return ok and str(s.get("keypoints_depth_frame", "camera")) == "untilted"


def _padded(rows: list[tuple[np.ndarray, ...]], dtypes: tuple) -> list[torch.Tensor]:
    """Per-sample arrays of equal length per sample -> (B, max length, ...) tensors and a (B, N)
    weight that is 1 where a row has a point."""
    N = max([len(r[0]) for r in rows] + [1])
    out = [torch.zeros((len(rows), N, *np.shape(rows[0][k])[1:]), dtype=dt) for k, dt in enumerate(dtypes)]
    w = torch.zeros(len(rows), N)
    for i, r in enumerate(rows):
        m = len(r[0])
        for k, dt in enumerate(dtypes):
            out[k][i, :m] = torch.as_tensor(np.asarray(r[k]), dtype=dt)
        w[i, :m] = 1.0
    return [*out, w]


def _mask_fields(masks: list, centre: np.ndarray, size: np.ndarray, cfg: RegistrationConfig) -> dict:
    """The person masks as the silhouette terms read them (only when a stage weighs them): the
    normalised distance outside each mask, its size, and ``coverage_points`` pixels drawn inside."""
    from scipy.ndimage import distance_transform_edt

    B = len(masks)
    has_mask = torch.tensor([m is not None and m.any() for m in masks])
    if not has_mask.any() or not any(st.weights.get("silhouette", 0) > 0 for st in cfg.stages):
        return dict(mask_dist=None, mask_hw=None, has_mask=torch.zeros(B, dtype=torch.bool))
    H = max(m.shape[0] for m in masks if m is not None)
    W = max(m.shape[1] for m in masks if m is not None)
    md, hw = np.zeros((B, 1, H, W), np.float32), np.ones((B, 2), np.float32)
    M = cfg.coverage_points
    m_xy, m_w = np.zeros((B, M, 2), np.float32), np.zeros((B, M), np.float32)
    for i in np.flatnonzero(has_mask.numpy()):
        m = masks[i]
        md[i, 0, : m.shape[0], : m.shape[1]] = distance_transform_edt(~m) / size[i]
        hw[i] = [H, W]
        ys, xs = np.nonzero(m)
        pick = np.random.default_rng((cfg.seed, int(i))).choice(len(ys), min(M, len(ys)), replace=False)
        m_xy[i, : len(pick)] = (np.stack([xs[pick], ys[pick]], 1) + 0.5 - centre[i]) / size[i]  # pixel centres
        m_w[i, : len(pick)] = 1.0
    t = torch.as_tensor
    return dict(mask_dist=t(md), mask_hw=t(hw), has_mask=has_mask, mask_xy=t(m_xy), mask_w=t(m_w))


def prepare_batch(body, samples: list[dict], cfg: RegistrationConfig, densepose_map=None) -> Batch:
    """Collate samples into padded tensors in each sample's normalised image frame."""
    B = len(samples)
    status = [_check(s) for s in samples]
    dense, part, kps, depths, masks = [], [], [], [], []
    centre, size, principal = np.zeros((B, 2)), np.ones(B), np.zeros((B, 2))
    for i, s in enumerate(samples):
        ok = status[i] == "ok"
        d_ids, d_bary, d_xy, p_xy, p_id = _dense_points(body, s, densepose_map) if ok else _dense_points(body, {}, None)
        kp = _keypoints(s, ok)
        centre[i], size[i] = _frame([d_xy, p_xy, kp[kp[:, 2] > 0, :2]])
        n = lambda a: (a - centre[i]) / size[i]  # noqa: E731,B023
        hw = _image_hw(s)
        principal[i] = n(np.array([hw[1] / 2, hw[0] / 2])) if hw is not None else 0.0
        dense.append((n(d_xy), d_ids, d_bary))
        part.append((n(p_xy), p_id))
        kps.append(np.concatenate([n(kp[:, :2]), kp[:, 2:]], 1))
        depths.append(_depth_prior(s, kp, ok))
        masks.append(np.asarray(s["mask"], bool) if ok and "mask" in s else None)
    d_xy, d_ids, d_bary, d_w = _padded(dense, (torch.float32, torch.int64, torch.float32))
    p_xy, p_id, p_w = _padded(part, (torch.float32, torch.int64))
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    return Batch(
        centre=t(centre),
        size=t(size),
        principal=t(principal),
        dense_ids=d_ids,
        dense_bary=d_bary,
        dense_xy=d_xy,
        dense_w=d_w,
        part_xy=p_xy,
        part_id=p_id,
        part_w=p_w,
        kp=t(np.stack(kps)),
        kp_depth=t(np.stack([d[0] for d in depths])),
        kp_depth_w=t(np.stack([d[1] for d in depths])),
        kp_depth_untilted=t([_untilted(s, st == "ok") for s, st in zip(samples, status)]),
        status=status,
        **_mask_fields(masks, centre, size, cfg),
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
