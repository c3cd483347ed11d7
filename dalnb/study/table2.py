"""Table 2 (notebooks 05 and 06): the per-pixel error of the regressor's surface points before and after
test-time refinement, on synthetic points, one real DensePose-COCO person and the paper's row; the refinement
curve over iterations."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from dalnb import metrics as M
from dalnb.fitting import RegistrationConfig, register
from dalnb.metrics import evaluate
from dalnb.study import paper as P

__all__ = ["densepose_errors", "table2", "refinement_curve"]


def densepose_errors(body, model, person: dict, refine: RegistrationConfig, work_dir: Path) -> tuple[float, float]:
    """A real DensePose-COCO person: MediaPipe keypoints on its crop (the annotation has none),
    the regressor's prediction and its refinement; part-level per-pixel error of both (px)."""
    import io

    from PIL import Image

    from dalnb.io import atomic_write_bytes
    from dalnb.photos import detect
    from dalnb.training import predict_in_image

    crop_png = Path(work_dir) / "densepose_crop.png"
    buf = io.BytesIO()
    Image.fromarray(person["image"]).save(buf, format="PNG")
    atomic_write_bytes(crop_png, buf.getvalue())
    person = dict(person, keypoints2d=detect([crop_png], work_dir)[str(crop_png)]["keypoints2d"])
    pred = predict_in_image(body, model, [person])
    ref = register(body, [person], refine, init=pred)
    err = [M.surface_pixel_error(f.vertices.numpy(), f.camera.numpy(), [person], body.parts)[0] for f in (pred, ref)]
    return err[0], err[1]


def table2(
    row: dict, n: int, densepose: tuple[float, float] | None, real: dict[str, dict] | None = None
) -> pd.DataFrame:
    """Table 2's counterpart: per-pixel error before and after refinement, each with its data
    (``real``: ``evaluate_model`` rows per real test set; DensePose-COCO's held-out people)."""
    rows = [
        {
            "dataset": f"synthetic anny bodies ({n})",
            "points": "exact vertex",
            "regressor (px)": row["pixel_err"],
            "refined (px)": row["refined_pixel_err"],
        }
    ]
    d = (real or {}).get("densepose_coco")
    if d is not None and "pixel_err" in d:
        rows.append(
            {
                "dataset": f"DensePose-COCO, held out ({d['n']} people), this run",
                "points": "part-level (lower bound)",
                "regressor (px)": d["pixel_err"],
                "refined (px)": d.get("refined_pixel_err", np.nan),
            }
        )
    if densepose is not None:
        rows.append(
            {
                "dataset": "DensePose-COCO, 1 real person",
                "points": "part-level (lower bound)",
                "regressor (px)": densepose[0],
                "refined (px)": densepose[1],
            }
        )
    rows.append(
        {
            "dataset": "DensePose-COCO (paper)",
            "points": "DensePose charts",
            "regressor (px)": P.PIXEL_REGRESSOR_PX,
            "refined (px)": P.PIXEL_REFINED_PX,
        }
    )
    t2 = pd.DataFrame(rows)
    return t2.assign(**{"ratio refined / regressor": t2["refined (px)"] / t2["regressor (px)"]})


def refinement_curve(body, model, samples: list[dict], iters: list[int], refine) -> pd.DataFrame:
    """Error and time against refinement iterations from the regressor's prediction (0: the
    prediction itself); ``refine(n)`` gives the registration config of n iterations."""
    from dalnb.training import build_trainset, predict

    pred = predict(body, model, build_trainset(samples, model.cfg.image_size), device=refine(1).device)
    rows = []
    for it in iters:
        t0 = time.perf_counter()
        f = pred if it == 0 else register(body, samples, refine(it), init=pred)
        e = evaluate(body, f, samples)
        rows.append(
            {
                "iterations": it,
                **{k: e[k] for k in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pixel_err")},
                "seconds per image": (time.perf_counter() - t0) / len(samples),
            }
        )
    return pd.DataFrame(rows)
