"""Square person crops: what the regressor sees of a real photo or a Human3.6M frame.

The box is the bounding square of the visible keypoints (and dense points), enlarged by
``margin``; pixels outside the image are black. Annotations move with the crop; ``crop_box``
(x0, y0, side) maps crop pixels back: ``original = crop * side / size + (x0, y0)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["person_box", "crop_sample"]


def person_box(points: np.ndarray, margin: float = 1.3) -> tuple[float, float, float]:
    """(N, 2) pixels -> (x0, y0, side) of the enlarged bounding square."""
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 2:
        raise ValueError(f"person_box: expected (N >= 2, 2) points, got {p.shape}")
    lo, hi = p.min(0), p.max(0)
    side = max(float((hi - lo).max()) * margin, 8.0)
    c = 0.5 * (lo + hi)
    return float(c[0] - side / 2), float(c[1] - side / 2), side


def crop_sample(sample: dict, size: int, margin: float = 1.3) -> dict:
    """A copy of ``sample`` with ``image`` the (size, size, 3) crop around the person and
    ``keypoints2d``, ``dense_xy``, ``keypoints2d_h36m`` in crop pixels; ``mask`` is dropped
    (cropping it is not needed by the regressor) and ``crop_box`` added."""
    from PIL import Image

    name = sample.get("sample_id", "sample")
    if "image" in sample:
        img = np.asarray(sample["image"])
    elif "image_path" in sample:
        path = Path(sample["image_path"])
        try:
            img = np.asarray(Image.open(path).convert("RGB"))
        except (OSError, ValueError) as e:
            raise ValueError(f"{name}: cannot read image {path} ({type(e).__name__}: {e})") from e
    else:
        raise ValueError(f"{name}: no image or image_path")
    kp = np.asarray(sample.get("keypoints2d", np.zeros((17, 3))), np.float64)
    pts = [kp[kp[:, 2] > 0, :2]]
    if len(sample.get("dense_xy", [])):
        pts.append(np.asarray(sample["dense_xy"], np.float64))
    pts = np.concatenate(pts)
    if len(pts) < 2:
        raise ValueError(f"{name}: fewer than 2 visible points to place a crop")
    x0, y0, side = person_box(pts, margin)
    k = size / side
    # affine crop: output pixel (u, v) samples the image at (x0 + u / k, y0 + v / k)
    pil = Image.fromarray(img.astype(np.uint8))
    crop = pil.transform(
        (size, size), Image.Transform.AFFINE, (1 / k, 0, x0, 0, 1 / k, y0), resample=Image.Resampling.BILINEAR
    )
    out = {key: v for key, v in sample.items() if key not in ("mask", "image_path")}
    out["image"] = np.asarray(crop, np.uint8)
    tr = lambda a: (np.asarray(a, np.float64)[..., :2] - [x0, y0]) * k  # noqa: E731
    out["keypoints2d"] = np.concatenate([tr(kp), kp[:, 2:]], 1).astype(np.float32)
    if len(sample.get("dense_xy", [])):
        out["dense_xy"] = tr(sample["dense_xy"]).astype(np.float32)
    if "keypoints2d_h36m" in sample:
        h = np.asarray(sample["keypoints2d_h36m"], np.float64)
        out["keypoints2d_h36m"] = np.concatenate([tr(h), h[:, 2:]], 1).astype(np.float32)
    out["crop_box"] = np.array([x0, y0, side], np.float32)
    return out
