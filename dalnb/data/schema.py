"""The one sample schema every source produces (``SCHEMA``: each key's shape and dtype).

``validate_sample`` checks shapes, dtypes and finiteness and raises ``SampleError`` naming the
file and record. Extra keys (ground truth, noise flags) are allowed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCHEMA", "SampleError", "validate_sample"]

# key -> (shape with None for free sizes and names tying sizes together, dtype kind(s))
SCHEMA: dict[str, tuple[tuple, str]] = {
    "image": (("H", "W", 3), "u"),
    "keypoints2d": ((17, 3), "f"),
    "keypoints_depth": ((17,), "f"),
    "dense_xy": (("P", 2), "f"),
    "dense_vertex": (("P",), "iu"),
    "dense_iuv": (("P", 3), "f"),
    "mask": (("H", "W"), "b"),
    "joints3d": (("J", 3), "f"),
    "vertices3d": (("V", 3), "f"),
}


class SampleError(ValueError):
    pass


def validate_sample(sample: dict, where: str = "sample") -> dict:
    if not isinstance(sample, dict):
        raise SampleError(f"{where}: expected a dict of arrays, got {type(sample).__name__}")
    if (
        "image" not in sample
        and "image_path" not in sample
        and "keypoints2d" not in sample
        and "dense_xy" not in sample
    ):
        raise SampleError(f"{where}: has none of image/image_path/keypoints2d/dense_xy; keys: {sorted(sample)}")
    dims: dict[str, int] = {}
    for key, (shape, kinds) in SCHEMA.items():
        if key not in sample:
            continue
        a = np.asarray(sample[key])
        if a.ndim != len(shape):
            raise SampleError(f"{where}: {key}: expected shape {shape}, got {a.shape}")
        for size, want in zip(a.shape, shape):
            if isinstance(want, int) and size != want:
                raise SampleError(f"{where}: {key}: expected shape {shape}, got {a.shape}")
            if isinstance(want, str):
                if want in dims and dims[want] != size:
                    raise SampleError(
                        f"{where}: {key}: size {want}={size} disagrees with {dims[want]} from another key"
                    )
                dims[want] = size
        if a.dtype.kind not in kinds:
            raise SampleError(f"{where}: {key}: expected dtype kind {kinds!r}, got {a.dtype}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise SampleError(f"{where}: {key}: contains NaN or inf")
    if "dense_vertex" in sample and "dense_iuv" in sample and "dense_xy" not in sample:
        raise SampleError(f"{where}: dense correspondences without dense_xy")
    if "dense_iuv" in sample:
        I = np.asarray(sample["dense_iuv"])[:, 0]
        if I.size and (I.min() < 1 or I.max() > 24):
            raise SampleError(f"{where}: dense_iuv: part must lie in 1..24, got [{I.min()}, {I.max()}]")
    return sample
