"""The training set: images and annotations of samples collated into tensors, each in its crop's
normalised frame; a corrupt sample raises ``SampleError`` naming it, or is skipped and listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dalnb.data.schema import SampleError
from dalnb.regressor import (
    images_to_tensor,
)


# data
@dataclass
class TrainSet:
    """Images and annotations as tensors, in each crop's normalised frame (xy/S - 1/2)."""

    images: torch.Tensor  # (N, 3, S, S) uint8
    dense_vertex: torch.Tensor  # (N, P) int64
    dense_xy: torch.Tensor  # (N, P, 2)
    dense_w: torch.Tensor  # (N, P)
    keypoints: torch.Tensor  # (N, 17, 3) normalised x, y, confidence
    sizes: torch.Tensor  # (N,) original crop size (pixels)
    sample_ids: list[str]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sample_ids)


def _image(s: dict, i: int) -> np.ndarray:
    name = s.get("sample_id", f"#{i}")
    if "image" not in s:
        raise SampleError(f"sample {name}: no image")
    im = np.asarray(s["image"])
    if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8 or im.shape[0] != im.shape[1] or im.shape[0] < 16:
        raise SampleError(f"sample {name}: image: expected a square (S, S, 3) uint8 crop, got {im.shape} {im.dtype}")
    return im


def build_trainset(samples: list[dict], image_size: int, skip_bad: bool = False) -> TrainSet:
    """Collate samples with images; a corrupt image or annotation raises ``SampleError`` naming
    the sample, or is skipped (and listed in ``skipped``) when ``skip_bad``."""
    import torch.nn.functional as F

    keep, imgs, skipped = [], [], []
    for i, s in enumerate(samples):
        try:
            im = _image(s, i)
            for k in ("dense_xy", "keypoints2d"):
                if k in s and not np.isfinite(np.asarray(s[k], np.float64)).all():
                    raise SampleError(f"sample {s.get('sample_id', i)}: non-finite values in {k}")
        except SampleError:
            if not skip_bad:
                raise
            skipped.append(str(s.get("sample_id", i)))
            continue
        keep.append(s)
        imgs.append(im)
    if not keep:
        raise SampleError(f"no usable samples among {len(samples)}")
    N = len(keep)
    P = max([len(s.get("dense_xy", [])) for s in keep] + [1])
    dv, dxy, dw = torch.zeros(N, P, dtype=torch.int64), torch.zeros(N, P, 2), torch.zeros(N, P)
    kp = torch.zeros(N, 17, 3)
    sizes = torch.tensor([float(im.shape[0]) for im in imgs])
    out = torch.empty(N, 3, image_size, image_size, dtype=torch.uint8)
    for i, (s, im) in enumerate(zip(keep, imgs)):
        S = float(im.shape[0])
        t = images_to_tensor(im[None])
        if im.shape[0] != image_size:
            t = F.interpolate(t, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
        out[i] = (t[0] * 255 + 0.5).clamp(0, 255).to(torch.uint8)
        if "dense_vertex" in s and len(s["dense_xy"]):
            m = len(s["dense_xy"])
            dv[i, :m] = torch.as_tensor(np.asarray(s["dense_vertex"], np.int64))
            dxy[i, :m] = torch.as_tensor(np.asarray(s["dense_xy"], np.float32)) / S - 0.5
            dw[i, :m] = 1
        k = np.asarray(s.get("keypoints2d", np.zeros((17, 3))), np.float32)
        kp[i, :, :2] = torch.as_tensor(k[:, :2]) / S - 0.5
        kp[i, :, 2] = torch.as_tensor((k[:, 2] > 0).astype(np.float32))
    return TrainSet(out, dv, dxy, dw, kp, sizes, [str(s.get("sample_id", i)) for i, s in enumerate(keep)], skipped)


def subset_trainset(data: TrainSet, keep: torch.Tensor) -> TrainSet:
    k = keep.nonzero()[:, 0]
    return TrainSet(
        data.images[k],
        data.dense_vertex[k],
        data.dense_xy[k],
        data.dense_w[k],
        data.keypoints[k],
        data.sizes[k],
        [data.sample_ids[i] for i in k.tolist()],
    )
