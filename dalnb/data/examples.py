"""The real samples beside the checkout (``../shared/data``: one DensePose-COCO person, a
DensePose network output, COCO and MPII keypoints, four Human3.6M frames, seven photos), read
through the loaders: what notebooks 01, 02 and 05 show of real data. Each function takes the
folder (``dalnb.paths.SHARED_DATA`` by default) and returns nothing when it is absent."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dalnb.data import loaders as L
from dalnb.paths import SHARED_DATA, resolve

__all__ = [
    "RealExamples",
    "real_examples",
    "real_keypoint_pool",
    "h36m_frames",
    "h36m_cameras",
    "photos",
    "densepose_person",
]

H36M = "03_pose3d_h36m"


@dataclass
class RealExamples:
    """One sample of each real format (titled for a contact sheet) and a table of what was read."""

    samples: list[dict] = field(default_factory=list)
    table: list[dict] = field(default_factory=list)
    h36m: list[dict] = field(default_factory=list)


def _dir(shared: str | Path | None) -> Path:
    return resolve(shared) if shared is not None else SHARED_DATA


def real_examples(shared: str | Path | None = None) -> RealExamples:
    """Each real format read through its loader (empty when the folder is absent)."""
    D = _dir(shared)
    if not D.exists():
        return RealExamples()
    dp = dict(densepose_person(D), title="DensePose-COCO annotation")
    out2 = D / "02_densepose_outputs"
    iuv = L.load_densepose_iuv(out2 / "demo_im_IUV.png", out2 / "demo_im_INDS.png", out2 / "demo_im.jpg")
    coco = L.load_coco_keypoints(D / "05_keypoints_coco_mpii" / "coco" / "test_coco.json")
    mpii = L.load_mpii(D / "05_keypoints_coco_mpii" / "mpii" / "test_mpii.json")
    h36m = h36m_frames(D)
    samples = [
        dp,
        dict(iuv[0], title=f"DensePose-RCNN output ({len(iuv)} people)"),
        dict(coco[0], title="COCO keypoints"),
        dict(mpii[0], title="MPII"),
        dict(h36m[0], title=f"Human3.6M {h36m[0]['subject']}"),
    ]
    names = ["DensePose annotation", "DensePose IUV png", "COCO json", "MPII json", "Human3.6M npz"]
    counts = [1, len(iuv), len(coco), len(mpii), len(h36m)]
    dense = [len(dp["dense_xy"]), len(iuv[0]["dense_xy"]), 0, 0, 0]
    table = [{"source": n, "samples": c, "dense points (first)": d} for n, c, d in zip(names, counts, dense)]
    return RealExamples(samples, table, h36m)


def densepose_person(shared: str | Path | None = None) -> dict | None:
    """The one real DensePose-COCO person (crop and 125 annotated points)."""
    f = _dir(shared) / "01_densepose_annotations" / "demo_dp_single_ann.npz"
    return L.load_densepose_annotation(f) if f.exists() else None


def h36m_frames(shared: str | Path | None = None) -> list[dict]:
    """The Human3.6M frames with 3D joints, cameras and images ([] when absent)."""
    D = _dir(shared) / H36M
    if not (D / "test_h36m_body3d.npz").exists():
        return []
    return L.load_h36m(D / "test_h36m_body3d.npz", D / "cameras.pkl").samples


def h36m_cameras(shared: str | Path | None = None) -> dict:
    with open(_dir(shared) / H36M / "cameras.pkl", "rb") as f:
        return pickle.load(f)


def h36m_reprojection(frames: list[dict], cameras: dict) -> list[dict]:
    """Each frame's largest distance (px) between its 3D joints projected with its camera and
    the dataset's own 2D joints: the loader's check of units and frames."""
    rows = []
    for s in frames:
        cam = cameras[(s["subject"], s["camera_id"])]
        p = L.project_h36m(s["joints3d"].astype(np.float64), cam)
        err = np.abs(p - s["keypoints2d_h36m"][:, :2]).max()
        rows.append({"frame": s["sample_id"], "split": s["split"], "max reprojection error of 3D joints (px)": err})
    return rows


def real_keypoint_pool(shared: str | Path | None = None) -> np.ndarray:
    """(N, 17, 3) real 2D poses (COCO, MPII, Human3.6M 2D), visibility as 0/1; (0, 17, 3) when absent."""
    D = _dir(shared)
    if not D.exists():
        return np.zeros((0, 17, 3), np.float32)
    kp = [s["keypoints2d"] for s in L.load_coco_keypoints(D / "05_keypoints_coco_mpii/coco/test_coco.json")]
    kp += [s["keypoints2d"] for s in L.load_mpii(D / "05_keypoints_coco_mpii/mpii/test_mpii.json")]
    kp += [s["keypoints2d"] for s in L.load_h36m(D / H36M / "test_h36m_body3d.npz")]
    pool = np.stack(kp).astype(np.float32)
    pool[..., 2] = pool[..., 2] > 0
    return pool


def photos(folder: str | Path | None = None, n: int | None = None) -> list[Path]:
    """The first ``n`` .jpg photos of ``folder`` (default: the shared photos); [] when absent."""
    P = resolve(folder) if folder is not None else SHARED_DATA / "06_person_photos"
    return sorted(P.glob("*.jpg"))[:n] if P.exists() else []
