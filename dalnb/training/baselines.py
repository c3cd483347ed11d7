"""Table 4's baselines: the single-step regressor (dense and keypoint losses alone, no
registration) and one long round on the first fits (no re-registration).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from dalnb.fitting import (
    FitResult,
)
from dalnb.io import atomic_write_json
from dalnb.regressor import (
    Regressor,
)
from dalnb.training.config import RoundsConfig
from dalnb.training.predict import evaluate_model
from dalnb.training.rounds import _reorder, regressor_path
from dalnb.training.store import FitStore
from dalnb.training.train import train_regressor
from dalnb.training.trainset import _subset, build_trainset


def _baseline(body, train: list[dict], test: list[dict], out_dir: str | Path, cfg: RoundsConfig, epochs: int, setting: str,
              seed_offset: int, fits: FitResult | None, progress: bool) -> dict:  # fmt: skip
    """A regressor trained from scratch for ``epochs`` epochs on ``fits`` (None: no fits, the
    dense and keypoint losses alone), evaluated on ``test``; resumable, metrics in out_dir."""
    out = Path(out_dir)
    mpath = out / "metrics.json"
    if mpath.exists():
        return json.loads(mpath.read_text())
    torch.manual_seed(cfg.seed)
    data = build_trainset(train, cfg.regressor.image_size)
    model = Regressor(cfg.regressor)
    targets, extra = None, {}
    if fits is not None:
        store = FitStore(data.sample_ids)
        store.update(_reorder(fits, data.sample_ids), 1)
        w = store.valid
        targets, data, extra = store.targets(data.sizes)[w], _subset(data, w), {"train_samples": int(w.sum())}
        model.set_mean(targets)
    tcfg = replace(cfg.train, epochs=epochs, seed=cfg.seed * 1000 + seed_offset, device=cfg.device or cfg.train.device)
    hist = train_regressor(body, model, data, targets, tcfg, ckpt=regressor_path(out), tag=setting, progress=progress)
    row, _, _ = evaluate_model(body, model, test[: cfg.n_eval], cfg.refine_iters, cfg.device, cfg.seed)
    row = {"setting": setting, **row, "train_loss_last": hist[-1]["total"], **extra}
    atomic_write_json(mpath, row)
    return row


def single_step_baseline(body, train: list[dict], test: list[dict], out_dir: str | Path, cfg: RoundsConfig, epochs: int,
                         progress: bool = True) -> dict:  # fmt: skip
    """The paper's single-step baseline: the regressor trained on the dense and keypoint losses
    alone (no registration, no fits), for ``epochs`` epochs; resumable like the rounds."""
    return _baseline(body, train, test, out_dir, cfg, epochs, "single step (no registration)", 99, None, progress)


def one_long_round(body, train: list[dict], test: list[dict], out_dir: str | Path, cfg: RoundsConfig, first_fits: FitResult,
                   epochs: int, progress: bool = True, setting: str = "one long round") -> dict:  # fmt: skip
    """Table 4's middle row: round 1's fits only, trained for ``epochs`` epochs (as long as all
    rounds together), no re-registration. Also trains on any subset of the fitted samples
    (pass that subset as ``train``; notebook 06's Table 3 counterpart)."""
    return _baseline(body, train, test, out_dir, cfg, epochs, setting, 98, first_fits, progress)

