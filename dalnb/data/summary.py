"""Tables describing a set of samples (for notebook 01)."""

from __future__ import annotations

import numpy as np

__all__ = ["sample_table"]


def sample_table(samples):
    """One row per sample: sources, dense points, keypoint visibility, camera and shape."""
    import pandas as pd

    rows = []
    for s in samples:
        k = np.asarray(s.get("keypoints2d", np.zeros((17, 3))))
        row = {
            "sample": s.get("sample_id", ""),
            "pose source": s.get("pose_source", ""),
            "shape source": s.get("shape_source", ""),
            "dense points": len(s.get("dense_xy", [])),
            "keypoints visible": int((k[:, 2] == 2).sum()),
            "keypoints occluded": int((k[:, 2] == 1).sum()),
            "keypoints out of frame": int((k[:, 2] == 0).sum()),
        }
        if "gt_focal" in s:
            row["focal (px)"] = float(s["gt_focal"][0])
            row["depth (m)"] = float(np.asarray(s["joints3d"])[0, 2])
        if "gt_segment_scales" in s and np.isfinite(s["gt_segment_scales"]).all():
            row["mean length scale"] = float(np.mean(s["gt_segment_scales"][:, 0]))
        if "joints3d" in s:
            j = np.asarray(s["joints3d"])
            row["height proxy (m)"] = float(np.linalg.norm(j[10] - 0.5 * (j[3] + j[6])))
        rows.append(row)
    return pd.DataFrame(rows)
