"""Fitting real photos with no network (explained in notebook 03).

MediaPipe Pose gives 2D keypoints and a person mask (``photos.detect``); a DensePose IUV file,
when given, adds dense points; registration fits the template, and each photo gets a fit, a mesh
and an overlay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dalnb.body import skeleton as sk
from dalnb.photos.detect import detect, unreadable

log = logging.getLogger(__name__)

__all__ = ["PhotoFit", "fit_photos", "photo_rows", "load_photo_rows", "show_overlays"]


@dataclass
class PhotoFit:
    path: str
    status: str  # 'ok' or why not
    keypoint_error_px: float  # mean distance between detected and fitted keypoints (confident ones)
    fit_path: str | None = None
    mesh_path: str | None = None
    overlay_path: str | None = None
    n_keypoints: int = 0
    depth_prior: bool = False  # whether the lifter's depths were its soft depth prior
    keypoints_depth: np.ndarray | None = None  # (17,) the fitted keypoints' depths (metres, hip midpoint 0)


def fit_photos(
    paths,
    out_dir,
    iuv: dict | None = None,
    cfg=None,
    body=None,
    regressor=None,
    lifter=None,
    depth_regimes: tuple[str, ...] = ("dense", "keypoints_only"),
    min_confidence: float = 0.5,
) -> list[PhotoFit]:
    """Fit the template to photos. Per photo, in out_dir: ``<stem>_fit.npz`` (fit schema),
    ``<stem>.obj`` (the fitted mesh) and ``<stem>_overlay.png``; each result has ``status``
    and ``keypoint_error_px``. ``iuv``: optional {photo path: DensePose IUV png} for dense points.
    ``regressor``: a trained ``Regressor`` whose prediction (on a crop around the detected
    keypoints) starts registration, which then refines it (notebook 05); else the rest pose.
    ``lifter``: notebook 02's lifter; its depths (lifted from the keypoints MediaPipe is at least
    ``min_confidence`` sure of) are the soft depth prior on the photos whose regime (dense points
    from ``iuv`` or keypoints only) is in ``depth_regimes`` (notebook 03 measures where they help).
    """
    import torch
    from PIL import Image

    from dalnb.body.model import BodyModel
    from dalnb.data.loaders import load_densepose_iuv
    from dalnb.fitting import RegistrationConfig, register, save_fits
    from dalnb.io import atomic_write_bytes
    from dalnb.mesh_io import export_mesh
    from dalnb.metrics import keypoint_error
    from dalnb.render.overlay import overlay_mesh

    body = body or BodyModel.default()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    given = [str(p) for p in paths]
    bad = {p: why for p in given if (why := unreadable(p))}
    paths = [p for p in given if p not in bad]
    if not paths:
        return _write_summary(out_dir, [PhotoFit(p, why, float("nan")) for p, why in bad.items()])
    dets = detect(paths, out_dir)
    samples = []
    for p in paths:
        d = dets[p]
        with Image.open(p) as im:
            img = np.asarray(im.convert("RGB"))
        s = {
            "sample_id": Path(p).stem,
            "image": img,
            "keypoints2d": d["keypoints2d"],
            "mask": d["mask"] if d["mask"].any() else None,
        }
        if s["mask"] is None:
            del s["mask"]
        if iuv and p in iuv:
            r = load_densepose_iuv(iuv[p])
            if len(r):
                best = max(
                    r.samples, key=lambda x: (x["mask"] & d["mask"]).sum() if d["mask"].any() else x["mask"].sum()
                )
                s.update({k: best[k] for k in ("dense_xy", "dense_iuv", "dense_uv_space")})
        samples.append(s)
    cfg = cfg or RegistrationConfig()
    if lifter is not None:
        from dalnb.fitting import depth_regime
        from dalnb.lifter import LIFTED_FRAME, lift_depths

        kps = np.stack([s["keypoints2d"] for s in samples])
        kps[..., 2] = (kps[..., 2] >= min_confidence).astype(np.float32)
        chosen = [
            i
            for i, (p, s) in enumerate(zip(paths, samples))
            if dets[p]["found"] and depth_regime(s) in depth_regimes and kps[i, :, 2].sum() >= 8
        ]
        if chosen:
            for i, z in zip(chosen, lift_depths(lifter, kps[chosen])):
                samples[i]["keypoints_depth"] = z  # NaN where not lifted: no prior there (fitting.prepare_batch)
                samples[i]["keypoints_depth_frame"] = LIFTED_FRAME
    init = None
    if regressor is not None:
        from dalnb.body.camera import FACING_CAMERA
        from dalnb.training import predict_in_image

        n = len(samples)  # photos without a person keep the rest pose (their fit fails: nothing usable)
        init = {
            "pose": torch.zeros(n, 24, 3),
            "segment_scales": torch.ones(n, 24, 2),
            "rotation": FACING_CAMERA.expand(n, 3, 3).clone(),
            "camera": torch.ones(n, 3),
        }
        found = [i for i, p in enumerate(paths) if dets[p]["found"]]
        if found:
            pred = predict_in_image(body, regressor, [samples[i] for i in found])
            for k in init:
                init[k][found] = getattr(pred, k)
    fits = register(body, samples, cfg, init=init)
    results = []
    kp_all = fits.project(body.keypoints(fits.vertices, "coco17")).numpy()
    for i, (p, s) in enumerate(zip(paths, samples)):
        stem = Path(p).stem
        status = str(fits.status[i]) if dets[p]["found"] else "no person detected"
        conf = s["keypoints2d"][:, 2] > 0.5
        confident = np.concatenate([s["keypoints2d"][:, :2], conf[:, None]], 1)
        err = float(keypoint_error(kp_all[i : i + 1], confident[None])[0]) if status == "ok" else float("nan")
        r = PhotoFit(p, status, err, n_keypoints=int(conf.sum()), depth_prior="keypoints_depth" in s)
        if status == "ok":
            z = body.keypoints(fits.vertices[i : i + 1], "coco17")[0, :, 2].numpy()
            r.keypoints_depth = z - z[[sk.COCO17.index("left_hip"), sk.COCO17.index("right_hip")]].mean()
            one = fits.take(i)
            r.fit_path = str(save_fits(out_dir / f"{stem}_fit.npz", one))
            r.mesh_path = str(export_mesh(out_dir / f"{stem}.obj", fits.vertices[i], body.faces))
            from io import BytesIO

            buf = BytesIO()
            Image.fromarray(
                overlay_mesh(s["image"], fits.vertices[i].numpy(), body.faces.numpy(), fits.camera[i].numpy())
            ).save(buf, format="PNG")
            r.overlay_path = str(atomic_write_bytes(out_dir / f"{stem}_overlay.png", buf.getvalue()))
        results.append(r)
    by_path = {r.path: r for r in results} | {p: PhotoFit(p, why, float("nan")) for p, why in bad.items()}
    return _write_summary(out_dir, [by_path[p] for p in given])


def _write_summary(out_dir: Path, results: list[PhotoFit]) -> list[PhotoFit]:
    """``out_dir/photos.json``: each photo's status and keypoint error (read back by ``load_photo_rows``)."""
    from dalnb.io import atomic_write_json

    rows = [{**row, "path": r.path} for row, r in zip(photo_rows(results), results)]
    atomic_write_json(out_dir / "photos.json", rows)
    return results


def load_photo_rows(out_dir: str | Path) -> list[dict]:
    """The rows ``fit_photos`` saved in ``out_dir`` ([] when it has not run there)."""
    import json

    path = Path(out_dir) / "photos.json"
    return json.loads(path.read_text()) if path.exists() else []


def photo_rows(results: list[PhotoFit]) -> list[dict]:
    """One row per photo: status, keypoints used, keypoint reprojection error and depth prior."""
    return [
        {
            "photo": Path(r.path).name,
            "status": r.status,
            "keypoints used": r.n_keypoints,
            "keypoint reprojection error (px)": round(r.keypoint_error_px, 2),
            "lifted depth prior": r.depth_prior,
        }
        for r in results
    ]


def show_overlays(results: list[PhotoFit], title: str, n: int = 6):
    """The first ``n`` fitted photos' overlays in a row (None when none has one)."""
    import matplotlib.pyplot as plt

    shown = [r for r in results if r.overlay_path][:n]
    if not shown:
        return None
    fig, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 3.2), squeeze=False)
    for ax, r in zip(axes[0], shown):
        ax.imshow(plt.imread(r.overlay_path))
        ax.set_title(Path(r.path).stem[-6:], fontsize=8)
        ax.axis("off")
    fig.suptitle(title)
    return fig
