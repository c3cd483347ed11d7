"""Loaders of real datasets into the one sample schema (explained in notebook 01), one file per
format: COCO keypoints, DensePose (annotations and network outputs), MPII and Human3.6M.
Keypoints are mapped to COCO-17 by name. Every loader raises ``DataError`` naming the file and
record; ``skip_bad=True`` skips bad records, and the returned ``LoadResult`` counts and lists
them."""

from dalnb.data.loaders.coco import load_coco_keypoints
from dalnb.data.loaders.common import DataError, LoadResult
from dalnb.data.loaders.densepose import (
    decode_iuv_png,
    iuv_to_dense_points,
    load_apply_net_dump,
    load_densepose_annotation,
    load_densepose_coco,
    load_densepose_iuv,
    load_densepose_results,
)
from dalnb.data.loaders.h36m import (
    H36M_TEST,
    H36M_TRAIN,
    h36m_split,
    load_h36m,
    project_h36m,
    world_to_camera_h36m,
)
from dalnb.data.loaders.mpii import MPII16, load_mpii

__all__ = [
    "DataError",
    "LoadResult",
    "load_densepose_annotation",
    "load_densepose_coco",
    "load_coco_keypoints",
    "load_mpii",
    "load_h36m",
    "h36m_split",
    "project_h36m",
    "world_to_camera_h36m",
    "decode_iuv_png",
    "iuv_to_dense_points",
    "load_densepose_results",
    "load_densepose_iuv",
    "load_apply_net_dump",
    "MPII16",
    "H36M_TRAIN",
    "H36M_TEST",
]
