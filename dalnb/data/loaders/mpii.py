"""MPII human pose json (the common preprocessed form: joints, visibility, centre, scale per
person) -> samples with COCO-17 keypoints mapped by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dalnb.body import skeleton as sk
from dalnb.data.loaders.common import Collector, LoadResult, read_json_list

# -- MPII -------------------------------------------------------------------------------
MPII16 = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "pelvis",
    "thorax",
    "upper_neck",
    "head_top",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
)


def load_mpii(
    json_path: str | Path, image_dir: str | Path | None = None, skip_bad: bool = False, require_image: bool = True
) -> LoadResult:
    """MPII in the mmpose/HRNet json style: ``joints`` (16, 2), ``joints_vis``, ``image``,
    ``center``, ``scale``. The 12 limb joints map to COCO-17 by name; the face points are
    missing (v = 0). All 16 stay in ``keypoints_mpii``."""
    json_path = Path(json_path)
    image_dir = Path(image_dir) if image_dir else json_path.parent
    data = read_json_list(json_path, "records")
    col = Collector(skip_bad)
    for i, rec in enumerate(data):
        where = f"{json_path} record {i}"
        try:
            j = np.asarray(rec["joints"], np.float32)
            vis = np.asarray(rec.get("joints_vis", np.ones(16)), np.float32)
            name = rec["image"]
        except KeyError as e:
            col.bad(f"{where}: missing key {e}")
            continue
        if j.shape != (16, 2) or vis.shape != (16,):
            col.bad(f"{where}: joints must be (16, 2) and joints_vis (16,), got {j.shape}, {vis.shape}")
            continue
        path = image_dir / name
        if require_image and not path.exists():
            col.bad(f"{where}: image {path} not found")
            continue
        kp = np.zeros((17, 3), np.float32)
        for k, n in enumerate(sk.COCO17):
            if n in MPII16:
                m = MPII16.index(n)
                kp[k] = [j[m, 0], j[m, 1], 2.0 * (vis[m] > 0)]
        col.result.samples.append(
            {
                "sample_id": f"mpii-{Path(name).stem}-{i}",
                "image_path": str(path),
                "keypoints2d": kp,
                "keypoints_mpii": np.concatenate([j, vis[:, None]], 1),
                "center": np.asarray(rec.get("center", [0, 0]), np.float32),
                "scale": float(rec.get("scale", 0)),
            }
        )
    return col.result
