"""Human3.6M frames in the common preprocessed form (an .npz of 3D joints per frame and a camera
pickle): subjects split S1-S8 / S9, S11; projection with the dataset's distortion model.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from dalnb.body import skeleton as sk
from dalnb.body.camera import pinhole
from dalnb.data.loaders.common import Collector, DataError, LoadResult

# -- Human3.6M ---------------------------------------------------------------------------
H36M_TRAIN = ("S1", "S5", "S6", "S7", "S8")


H36M_TEST = ("S9", "S11")


def h36m_split(subject: str) -> str:
    """Protocol split: train S1 S5 S6 S7 S8, test S9 S11."""
    if subject in H36M_TRAIN:
        return "train"
    if subject in H36M_TEST:
        return "test"
    raise DataError(f"unknown Human3.6M subject {subject!r}; expected one of {H36M_TRAIN + H36M_TEST}")


def project_h36m(points_cam: np.ndarray, cam: dict) -> np.ndarray:
    """(N, 3) camera-frame metres -> (N, 2) pixels with Human3.6M's intrinsics, radial (k) and
    tangential (p) distortion (``dalnb.body.camera.pinhole``)."""
    return pinhole(points_cam, cam["f"], cam["c"], cam["k"], cam["p"])


def world_to_camera_h36m(points_world: np.ndarray, cam: dict) -> np.ndarray:
    """(N, 3) world metres -> camera frame: X_cam = R (X - T), T the camera centre."""
    return (np.asarray(cam["R"]) @ (points_world - np.ravel(cam["T"])).T).T


def load_h36m(
    npz_path: str | Path,
    cameras_path: str | Path | None = None,
    image_root: str | Path | None = None,
    split: str | None = None,
    skip_bad: bool = False,
) -> LoadResult:
    """Human3.6M frames in the mmpose ``body3d`` npz layout: ``imgname``, ``S`` (N, 17, 4)
    camera-frame joints (metres) with confidence, ``part`` (N, 17, 3) 2D joints, ``center``,
    ``scale``; ``cameras.pkl`` keyed by (subject, camera id). Joints keep Human3.6M's order and
    names (``joints3d``, ``keypoints2d_h36m``); COCO-17 keypoints are filled by name."""
    npz_path = Path(npz_path)
    root = Path(image_root) if image_root else npz_path.parent
    try:
        with np.load(npz_path) as z:
            d = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError(f"{npz_path}: no such file") from None
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{npz_path}: cannot read ({type(e).__name__}: {e})") from e
    for k in ("imgname", "S", "part"):
        if k not in d:
            raise DataError(f"{npz_path}: missing key {k!r}")
    cams = None
    if cameras_path is not None:
        try:
            with open(cameras_path, "rb") as f:
                cams = pickle.load(f)
        except Exception as e:  # noqa: BLE001
            raise DataError(f"{cameras_path}: cannot read cameras ({type(e).__name__}: {e})") from e
    col = Collector(skip_bad)
    name_map = {
        "left_hip": "left_hip",
        "right_hip": "right_hip",
        "left_knee": "left_knee",
        "right_knee": "right_knee",
        "left_ankle": "left_foot",
        "right_ankle": "right_foot",
        "left_shoulder": "left_shoulder",
        "right_shoulder": "right_shoulder",
        "left_elbow": "left_elbow",
        "right_elbow": "right_elbow",
        "left_wrist": "left_wrist",
        "right_wrist": "right_wrist",
    }
    for i, img in enumerate(d["imgname"]):
        img = str(img)
        where = f"{npz_path} record {i} ({img})"
        subject = img.split("/")[0]
        cam_id = img.split("/")[1].split(".")[-1] if "/" in img else ""
        try:
            sp = h36m_split(subject)
        except DataError as e:
            col.bad(f"{where}: {e}")
            continue
        if split and sp != split:
            continue
        S, part = d["S"][i], d["part"][i]
        if S.shape != (17, 4) or part.shape != (17, 3) or not np.isfinite(S).all():
            col.bad(f"{where}: S must be finite (17, 4) and part (17, 3), got {S.shape}, {part.shape}")
            continue
        kp = np.zeros((17, 3), np.float32)
        for k, n in enumerate(sk.COCO17):
            if n in name_map:
                m = sk.H36M17.index(name_map[n])
                kp[k] = [part[m, 0], part[m, 1], 2.0 * (part[m, 2] > 0)]
        s = {
            "sample_id": f"h36m-{Path(img).stem}",
            "image_path": str(root / img),
            "subject": subject,
            "camera_id": cam_id,
            "split": sp,
            "joints3d": S[:, :3].astype(np.float32),
            "keypoints2d_h36m": part.astype(np.float32),
            "keypoints2d": kp,
        }
        if cams is not None:
            cam = cams.get((subject, cam_id))
            if cam is None:
                col.bad(f"{where}: no camera ({subject}, {cam_id}) in {cameras_path}")
                continue
            s["camera_f"] = np.ravel(cam["f"]).astype(np.float32)
            s["camera_c"] = np.ravel(cam["c"]).astype(np.float32)
            s["camera_k"] = np.ravel(cam["k"]).astype(np.float32)
            s["camera_p"] = np.ravel(cam["p"]).astype(np.float32)
        col.result.samples.append(s)
    return col.result
