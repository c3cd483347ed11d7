"""Prediction and evaluation: the regressor's bodies as fits (on crops or on whole images), and
their metrics before and after test-time refinement.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from dalnb import distributed
from dalnb.fitting import (
    FitResult,
    RegistrationConfig,
    register,
)
from dalnb.regressor import (
    Prediction,
    Regressor,
    RegressorConfig,
    mean_target,
    params_to_body,
)
from dalnb.training.trainset import TrainSet, build_trainset


@torch.no_grad()
def predict(body, model: Regressor, data: TrainSet, batch: int = 256, device: str | None = None) -> FitResult:
    """The regressor's bodies as a ``FitResult`` (camera in each crop's pixels), ready to
    evaluate or to start registration from."""
    dev = distributed.device_for(device)
    model.to(dev).eval()
    body_d = body.on(dev)
    parts = []
    for a in range(0, len(data), batch):
        img = data.images[a : a + batch].to(dev).float() / 255
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            x = model(img)
        p = Prediction.from_flat(x.float())
        out = params_to_body(body_d, p)
        cam = p.pixel_camera(1) * data.sizes[a : a + batch, None].to(dev)
        parts.append(
            dict(
                pose=p.pose(),
                segment_scales=p.log_scales.exp(),
                rotation=p.rotation(),
                camera=cam,
                vertices=out.vertices,
                joints=out.joints,
            )
        )
    fields = {k: torch.cat([q[k] for q in parts]).cpu().float() for k in parts[0]}
    n = len(data)
    return FitResult(**fields, losses={}, status=np.full(n, "ok"), sample_ids=list(data.sample_ids))


def predict_in_image(
    body, model: Regressor, samples: list[dict], margin: float = 1.3, device: str | None = None
) -> FitResult:
    """Predict on uncropped samples (real photos, Human3.6M frames): each is cropped around
    its keypoints (``dalnb.data.crop``), predicted, and the camera mapped back to the original
    image's pixels, so the result can start registration on the original annotations."""
    from dalnb.data.crop import crop_sample

    crops = [crop_sample(s, model.cfg.image_size, margin) for s in samples]
    pred = predict(body, model, build_trainset(crops, model.cfg.image_size), device=device)
    box = torch.as_tensor(np.stack([c["crop_box"] for c in crops]), dtype=torch.float32)  # (B, 3) x0, y0, side
    k = box[:, 2] / model.cfg.image_size
    pred.camera = torch.stack(
        [pred.camera[:, 0] * k, pred.camera[:, 1] * k + box[:, 0], pred.camera[:, 2] * k + box[:, 1]], 1
    )
    return pred


def load_regressor(path: str | Path, device: str = "cpu") -> Regressor:
    st = torch.load(path, map_location=device, weights_only=False)
    m = Regressor(RegressorConfig(**st["regressor"]))
    m.load_state_dict(st["model"])
    return m.eval()


# evaluation
def evaluate_model(
    body, model: Regressor, samples: list[dict], refine_iters: int = 50, device: str | None = None, seed: int = 0
) -> tuple[dict, FitResult, FitResult | None]:
    """Metrics of the regressor on samples with ground truth, before and after test-time
    refinement (registration from the prediction for ``refine_iters`` iterations)."""
    from dalnb.metrics import evaluate

    data = build_trainset(samples, model.cfg.image_size)
    t0 = time.perf_counter()
    pred = predict(body, model, data, device=device)
    t_pred = (time.perf_counter() - t0) / len(samples)
    row = {f"{k}": v for k, v in evaluate(body, pred, samples).items()}
    row["predict_s_per_image"] = t_pred
    ref = None
    if refine_iters:
        cfg = RegistrationConfig.refinement(refine_iters, seed=seed, device=device)
        ref = register(body, samples, cfg, init=pred)
        for k, v in evaluate(body, ref, samples).items():
            if k not in ("n", "ok"):
                row[f"refined_{k}"] = v
        row["refine_s_per_image"] = ref.seconds / len(samples)
    return row, pred, ref


def fit_error(body, fits: FitResult, samples: list[dict]) -> float:
    """Median PA-MPJPE (mm) of the fits against the ground truth, over the samples that have it
    (synthetic renders, Human3.6M frames; NaN when none does). Registration never sees it."""
    from dalnb.metrics import pa_mpjpe

    ok = (np.asarray(fits.status) == "ok") & np.array(["joints3d" in s for s in samples], bool)
    if not ok.any():
        return float("nan")
    H = body.keypoints(fits.vertices, "h36m17").numpy()[ok]
    gt = np.stack([s["joints3d"] for s, k in zip(samples, ok) if k])
    return float(np.median(pa_mpjpe(H, gt)) * 1000)


def error_split(body, fits: FitResult, samples: list[dict]) -> dict[str, float]:
    """Where the error of fits or predictions lies (``metrics.depth_split``), means in mm on samples with
    ground truth: ``whole`` (PA-MPJPE), ``plane`` and ``depth`` (the aligned residual's parts),
    ``true_plane`` (the true x, y with its depths) and ``flat`` (the true x, y at one depth); NaN
    without truth."""
    from dalnb.metrics import depth_split

    keys = ("whole", "plane", "depth", "true_plane", "flat")
    if not samples or not all("joints3d" in s for s in samples):
        return dict.fromkeys(keys, float("nan"))
    H = body.keypoints(fits.vertices, "h36m17").numpy()
    split = depth_split(H, np.stack([s["joints3d"] for s in samples]))
    return {k: float(split[k].mean() * 1000) for k in keys}


@torch.no_grad()
def keypoint_head_error(model: Regressor, data: TrainSet, batch: int = 256) -> float:
    """Mean distance (pixels of the crop) between the keypoint head's soft-argmax keypoints and the
    annotated ones (confidence > 0); NaN for a regressor without the head."""
    if model.keypoints is None:
        return float("nan")
    dev = next(model.parameters()).device
    model.eval()
    total, count = 0.0, 0
    for a in range(0, len(data), batch):
        _, kp = model(data.images[a : a + batch].to(dev).float() / 255, keypoints=True)
        ann = data.keypoints[a : a + batch].to(dev)
        seen = ann[..., 2] > 0
        total += float(((kp.float() - ann[..., :2]).norm(dim=-1) * data.sizes[a : a + batch, None].to(dev))[seen].sum())
        count += int(seen.sum())
    return total / max(count, 1) if count else float("nan")


def mean_pose_error(body, targets: torch.Tensor, samples: list[dict]) -> float:
    """Mean PA-MPJPE (mm) on ``samples`` of one body for all: the mean pose and segment scales
    of the training targets (N, D) (``regressor.mean_target``, where the regressor starts). A
    regressor near this figure has learned the average body, not the image's; NaN without
    ground truth."""
    if not samples or not all("joints3d" in s for s in samples):
        return float("nan")
    from dalnb.metrics import pa_mpjpe

    with torch.no_grad():
        H = body.keypoints(
            params_to_body(body, Prediction.from_flat(mean_target(targets)[None])).vertices, "h36m17"
        ).numpy()
    gt = np.stack([s["joints3d"] for s in samples])
    return float(pa_mpjpe(np.repeat(H, len(gt), 0), gt).mean() * 1000)


def training_history(path: str | Path) -> list[dict]:
    """The per-epoch losses saved in a regressor checkpoint."""
    return torch.load(path, map_location="cpu", weights_only=False)["history"]
