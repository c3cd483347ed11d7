"""Table 4's baselines: the single-step regressor (dense and keypoint losses alone, no
registration) and one long round on the first fits (no re-registration).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dalnb.fitting import (
    FitResult,
)
from dalnb.io import atomic_write_json
from dalnb.regressor import (
    Regressor,
)
from dalnb.steps import Ledger
from dalnb.training.config import RoundsConfig
from dalnb.training.predict import evaluate_model
from dalnb.training.rounds import regressor_path, reorder_fits
from dalnb.training.store import FitStore
from dalnb.training.train import train_regressor
from dalnb.training.trainset import build_trainset, subset_trainset


def _baseline(
    body,
    train: list[dict],
    test: list[dict],
    out_dir: str | Path,
    cfg: RoundsConfig,
    epochs: int,
    setting: str,
    seed_offset: int,
    fits: FitResult | None,
    progress: bool,
    steps: Ledger | None = None,
    inputs: str = "",
) -> dict:
    """A regressor trained from scratch for ``epochs`` epochs on ``fits`` (None: no fits, the
    dense and keypoint losses alone), evaluated on ``test``; resumable, metrics in out_dir.
    With ``steps``, what is in out_dir is reused only when made from the same settings and
    ``inputs`` (a digest of the data), and remade otherwise."""
    out = Path(out_dir)
    if steps is not None:
        key = {**cfg.training_key(epochs), "n_eval": cfg.n_eval, "refine_iters": cfg.refine_iters}
        steps.ensure(setting, {**key, "inputs": {"data": inputs}}, [out])
    mpath = out / "metrics.json"
    if mpath.exists():
        return json.loads(mpath.read_text())
    torch.manual_seed(cfg.seed)
    data = build_trainset(train, cfg.regressor.image_size)
    model = Regressor(cfg.regressor)
    targets, extra = None, {}
    if fits is not None:
        store = FitStore(data.sample_ids)
        store.update(reorder_fits(fits, data.sample_ids), 1)
        w = store.valid
        targets, data, extra = store.targets(data.sizes)[w], subset_trainset(data, w), {"train_samples": int(w.sum())}
        model.set_mean(targets)
    tcfg = replace(cfg.train, epochs=epochs, seed=cfg.seed * 1000 + seed_offset, device=cfg.device or cfg.train.device)
    hist = train_regressor(body, model, data, targets, tcfg, ckpt=regressor_path(out), tag=setting, progress=progress)
    row, _, _ = evaluate_model(body, model, test[: cfg.n_eval], cfg.refine_iters, cfg.device, cfg.seed)
    row = {"setting": setting, **row, "train_loss_last": hist[-1]["total"], **extra}
    atomic_write_json(mpath, row)
    return row


def single_step_baseline(
    body,
    train: list[dict],
    test: list[dict],
    out_dir: str | Path,
    cfg: RoundsConfig,
    epochs: int,
    progress: bool = True,
) -> dict:
    """The paper's single-step baseline: the regressor trained on the dense and keypoint losses
    alone (no registration, no fits), for ``epochs`` epochs; resumable like the rounds."""
    return _baseline(body, train, test, out_dir, cfg, epochs, "single step (no registration)", 99, None, progress)


def one_long_round(
    body,
    train: list[dict],
    test: list[dict],
    out_dir: str | Path,
    cfg: RoundsConfig,
    first_fits: FitResult,
    epochs: int,
    progress: bool = True,
    setting: str = "one long round",
) -> dict:
    """Table 4's middle row: round 1's fits only, trained for ``epochs`` epochs (as long as all
    rounds together), no re-registration. Also trains on any subset of the fitted samples
    (pass that subset as ``train``; notebook 06's Table 3 counterpart)."""
    return _baseline(body, train, test, out_dir, cfg, epochs, setting, 98, first_fits, progress)


def ground_truth_fits(samples: list[dict]) -> FitResult:
    """The synthetic samples' true parameters as fits (what perfect registration would give):
    pose with the root's rotation folded into the global rotation, segment scales, the camera's
    weak perspective in pixels. Only bodies from our own shape space have true segment scales;
    the others (anny phenotypes) are left out. Raises ``ValueError`` without ``gt_pose``."""
    from dalnb import rotations as rot

    keep = [s for s in samples if "gt_pose" in s and np.isfinite(s["gt_segment_scales"]).all()]
    if not keep:
        raise ValueError("ground_truth_fits: no sample with gt_pose and finite gt_segment_scales (synthetic renders)")
    pose = torch.as_tensor(np.stack([s["gt_pose"] for s in keep]), dtype=torch.float32)
    root = rot.axis_angle_to_matrix(pose[:, 0])
    rotation = torch.as_tensor(np.stack([s["gt_rotation"] for s in keep]), dtype=torch.float32) @ root
    pose = torch.cat([torch.zeros_like(pose[:, :1]), pose[:, 1:]], 1)
    scales = torch.as_tensor(np.stack([s["gt_segment_scales"] for s in keep]), dtype=torch.float32)
    camera = torch.as_tensor(np.stack([s["gt_camera"] for s in keep]), dtype=torch.float32)
    n = len(keep)
    empty = torch.zeros(n, 0, 3)
    ids = [str(s["sample_id"]) for s in keep]
    return FitResult(
        pose=pose,
        segment_scales=scales,
        rotation=rotation,
        camera=camera,
        vertices=empty,
        joints=empty,
        losses={"total": torch.zeros(n)},
        status=np.full(n, "ok"),
        sample_ids=ids,
    )


def label_ceiling(
    body,
    train: list[dict],
    test: list[dict],
    out_dir: str | Path,
    cfg: RoundsConfig,
    epochs: int,
    progress: bool = True,
    steps: Ledger | None = None,
    inputs: str = "",
) -> dict:
    """What better labels could reach at this scale: the regressor trained from scratch for
    ``epochs`` epochs on the true parameters of the training bodies in our shape space
    (``ground_truth_fits``), evaluated like the rounds; resumable, keyed like ``_baseline``."""
    fits = ground_truth_fits(train)
    keep = set(fits.sample_ids)
    sub = [s for s in train if str(s["sample_id"]) in keep]
    return _baseline(body, sub, test, out_dir, cfg, epochs, "true parameters", 97, fits, progress, steps, inputs)
