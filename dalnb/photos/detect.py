"""MediaPipe Pose on photos: 2D keypoints and a person mask, with no network.

MediaPipe's wheel ships the BlazePose "full" model. It pins numpy < 2, so it runs in its own small
environment (``.venv-mediapipe``, made by ``make``; or any Python named by
``$DALNB_MEDIAPIPE_PYTHON``) as a subprocess, or in-process when importable here.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from dalnb.body import skeleton as sk
from dalnb.paths import ROOT

__all__ = ["BLAZEPOSE33", "mediapipe_python", "detect", "unreadable"]

BLAZEPOSE33 = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)


def mediapipe_python() -> str | None:
    """A Python that can import mediapipe: this one, $DALNB_MEDIAPIPE_PYTHON, or .venv-mediapipe."""
    if importlib.util.find_spec("mediapipe") is not None:
        return sys.executable
    for cand in (os.environ.get("DALNB_MEDIAPIPE_PYTHON"), str(ROOT / ".venv-mediapipe" / "bin" / "python")):
        if cand and Path(cand).exists():
            return cand
    return None


def detect(paths: list[str | Path], out_dir: str | Path) -> dict[str, dict]:
    """Run MediaPipe Pose on each photo (cached in out_dir/detections); returns per photo
    ``keypoints2d`` (17, 3) COCO order with MediaPipe's visibility as confidence, ``mask``."""
    py = mediapipe_python()
    if py is None:
        raise RuntimeError(
            "MediaPipe is not available: run `make` (it creates .venv-mediapipe) or `pip install mediapipe==0.10.21` "
            "in a numpy<2 environment and set DALNB_MEDIAPIPE_PYTHON to its python"
        )
    det_dir = Path(out_dir) / "detections"
    todo = [str(p) for p in paths if not (det_dir / f"{Path(p).stem}.npz").exists()]
    missing = [p for p in todo if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"photos not found: {missing}")
    if todo:
        script = Path(__file__).with_name("mediapipe_detect.py")
        env = {**os.environ, "MPLBACKEND": "Agg"}  # a Jupyter kernel's inline backend does not exist there
        r = subprocess.run([py, str(script), str(det_dir), *todo], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"MediaPipe detection failed ({py}):\n{r.stderr[-2000:]}")
    out = {}
    idx = [BLAZEPOSE33.index(n) for n in sk.COCO17]
    for p in paths:
        if not (det_dir / f"{Path(p).stem}.npz").exists():
            raise RuntimeError(f"{p}: MediaPipe could not read it:\n{r.stderr[-500:] if todo else ''}")
        with np.load(det_dir / f"{Path(p).stem}.npz") as z:
            lm, found, mask = z["landmarks"], bool(z["found"]), z["mask"]
        kp = np.zeros((17, 3), np.float32)
        if found:
            kp[:, :2] = lm[idx, :2]
            kp[:, 2] = lm[idx, 3]
        out[str(p)] = {"keypoints2d": kp, "mask": mask, "found": found, "landmarks": lm}
    return out


def unreadable(path: str | Path) -> str:
    """Why a photo cannot be fitted ('' when it can be read as an image)."""
    from PIL import Image

    if not Path(path).is_file():
        return f"no such file: {path}"
    try:
        with Image.open(path) as im:
            im.verify()
    except Exception as e:  # noqa: BLE001 - any decoder error means the same to the user
        return f"not an image ({type(e).__name__}: {e})"
    return ""
