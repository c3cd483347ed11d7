"""Real sources for the tests, in the formats users have, built from the real samples in
../shared/data (nothing from there is copied into the repository; each test writes into its
own temporary folder). The few real records are repeated to reach the tiny preset's sizes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from conftest import shared_data


def densepose_coco_json(folder: Path, copies: int = 8) -> Path:
    """A DensePose-COCO json of the one real annotated person (125 points), ``copies`` times over
    two image files: the real format (bbox, dp_x/dp_y in the box's 0-255 frame, dp_I/U/V)."""
    from PIL import Image

    with np.load(shared_data("01_densepose_annotations") / "demo_dp_single_ann.npz") as z:
        d = {k: z[k] for k in z.files}
    folder.mkdir(parents=True, exist_ok=True)
    h, w = d["ICrop"].shape[:2]
    images = []
    for k in range(2):
        Image.fromarray(d["ICrop"]).save(folder / f"person_{k}.jpg", quality=95)
        images.append({"id": k + 1, "file_name": f"person_{k}.jpg", "height": h, "width": w})
    anns = [
        {
            "id": 100 + i,
            "image_id": 1 + i % 2,
            "category_id": 1,
            "iscrowd": 0,
            "bbox": [0.0, 0.0, float(w), float(h)],
            "dp_x": (d["x"] / w * 255).tolist(),
            "dp_y": (d["y"] / h * 255).tolist(),
            "dp_I": d["I"].tolist(),
            "dp_U": d["U"].tolist(),
            "dp_V": d["V"].tolist(),
        }
        for i in range(copies)
    ]
    path = folder / "densepose_coco_test.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    return path


def h36m_folder(folder: Path) -> Path:
    """The four real Human3.6M frames (S1, S5, S7, S8), and the same four again under S9 and S11
    names (their own camera ids exist in cameras.pkl), so that the test subjects' split is
    exercised; returns the npz (cameras.pkl beside it)."""
    src = shared_data("03_pose3d_h36m")
    folder.mkdir(parents=True, exist_ok=True)
    with np.load(src / "test_h36m_body3d.npz") as z:
        d = {k: z[k] for k in z.files}
    names = [str(n) for n in d["imgname"]]
    renamed = [n.replace(n.split("/")[0], ("S9", "S11")[i % 2]) for i, n in enumerate(names)]
    for old, new in zip(names + names, names + renamed):
        (folder / new).parent.mkdir(parents=True, exist_ok=True)
        if not (folder / new).exists():
            os.symlink(src / old, folder / new)
    out = {k: np.concatenate([v, v]) for k, v in d.items()}
    out["imgname"] = np.array(names + renamed)
    path = folder / "h36m_body3d.npz"
    np.savez(path, **out)
    shutil.copy(src / "cameras.pkl", folder / "cameras.pkl")
    return path


def all_sources(tmp: Path) -> dict[str, str]:
    """``data.sources`` naming every KIND on real files."""
    kp = shared_data("05_keypoints_coco_mpii")
    return {
        "densepose_coco": str(densepose_coco_json(tmp / "densepose")),
        "coco": str(kp / "coco" / "test_coco.json"),
        "mpii": str(kp / "mpii" / "test_mpii.json"),
        "h36m": str(h36m_folder(tmp / "h36m")),
        "photos": str(shared_data("06_person_photos")),
    }
