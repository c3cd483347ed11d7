"""Regressor training: AdamW with a cosine schedule, resumable from a checkpoint written after
every epoch, DistributedDataParallel under ``torchrun``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dalnb import distributed
from dalnb.body import skeleton as sk
from dalnb.io import atomic_torch_save
from dalnb.regressor import (
    Regressor,
    regressor_loss,
)
from dalnb.training.augment import Mirror, Turn
from dalnb.training.config import TrainConfig
from dalnb.training.trainset import TrainSet

log = logging.getLogger(__name__)


def _kp_support(body) -> tuple[torch.Tensor, torch.Tensor]:
    reg = body.data.coco_regressor[: len(sk.COCO17)]
    ids = np.unique(np.nonzero(reg)[1])
    return torch.as_tensor(ids), torch.as_tensor(reg[:, ids], dtype=torch.float32)


def _resume(ckpt, model: Regressor, opt, dev, tag: str) -> tuple[int, list[dict], dict | None]:
    """(first epoch, history, checkpoint) from ``ckpt`` when it exists, else (0, [], None)."""
    if ckpt is None or not Path(ckpt).exists():
        return 0, [], None
    st = torch.load(ckpt, map_location=dev, weights_only=False)
    model.load_state_dict(st["model"])
    opt.load_state_dict(st["opt"])
    log.info("%s: resumed at epoch %d from %s", tag or "regressor", st["epoch"], ckpt)
    return st["epoch"], st["history"], st


def _cosine(opt, total_steps: int, state: dict | None):
    """Cosine decay of the learning rate to 5 % over ``total_steps``, resumed from ``state``."""
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + np.cos(np.pi * min(i / max(total_steps, 1), 1.0))) * 0.95 + 0.05
    )
    if state is not None and "sched" in state:
        sched.load_state_dict(state["sched"])
        for group, lr in zip(opt.param_groups, sched.get_last_lr()):  # the constructor reset them
            group["lr"] = lr
    return sched


def epoch_order(cfg: TrainConfig, epoch: int, n: int, steps: int, batch: int, turn: Turn | None = None) -> dict:
    """This rank's (steps, batch) sample indices of an epoch (``order``), which of them are mirrored
    (``flips``) and, with ``turn``, their in-plane turn and scale (``angle``, ``factor``), drawn from the
    epoch's seed before the loop, so that a resumed run draws the same."""
    rank, world = distributed.rank_world()
    g = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
    perm = torch.randperm(n, generator=g)[: steps * batch * world]
    out = {"order": perm, "flips": torch.rand(perm.shape, generator=g) < cfg.mirror}
    if turn is not None:
        out["angle"], out["factor"] = turn.draw(perm.shape, g)
    return {k: v.reshape(steps, world, batch)[:, rank] for k, v in out.items()}


@dataclass
class _Trainer:
    """What one training step reads: the network, the body, the data and the loss's constants."""

    net: torch.nn.Module
    model: Regressor
    body: object
    data: TrainSet
    targets: torch.Tensor | None
    mirror: Mirror | None
    turn: Turn | None
    support: torch.Tensor
    kp_reg: torch.Tensor
    dev: torch.device
    autocast: bool

    def losses(self, idx: torch.Tensor, draw: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
        """The loss terms on samples ``idx``, augmented as ``draw`` says (``epoch_order``'s step: those in
        ``flips`` mirrored, each turned and scaled by ``angle`` and ``factor``); a non-finite prediction or
        loss stops training with ``where`` in the message, before any update."""
        d, dev = self.data, self.dev
        img = d.images[idx].to(dev, non_blocking=True).float() / 255
        tgt = None if self.targets is None else self.targets[idx].to(dev)
        dv, dxy, kp = d.dense_vertex[idx].to(dev), d.dense_xy[idx].to(dev), d.keypoints[idx].to(dev)
        w = d.dense_w[idx].to(dev)
        if self.mirror is not None:
            img, tgt, dv, dxy, kp = self.mirror.batch(img, tgt, dv, dxy, kp, draw["flips"].to(dev))
        if self.turn is not None:
            img, tgt, dxy, w, kp = self.turn.batch(img, tgt, dxy, w, kp, draw["angle"], draw["factor"])
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.autocast):
            pred, heads = self.net(img, aux=True)
        if not torch.isfinite(pred).all():
            raise FloatingPointError(f"{where}: non-finite prediction; no update or checkpoint was written")
        cfg = self.model.cfg
        T = regressor_loss(
            *(self.body, pred.float(), tgt, dv, dxy, w, kp, self.support, self.kp_reg, cfg, heads.get("keypoints")),
            heatmaps=heads.get("heatmaps") if cfg.w_heatmap else None,
            surface=heads.get("surface"),
        )
        if not torch.isfinite(T["total"]):
            raise FloatingPointError(
                f"{where}: non-finite loss ({ {k: float(v) for k, v in T.items()} }); "
                "no update or checkpoint was written"
            )
        return T

    def epoch(self, batches, draws: dict[str, torch.Tensor], opt, sched, where: str) -> dict[str, float]:
        """One pass over ``batches`` (sample indices per step; ``draws`` their augmentation, per step):
        an AdamW step on each (gradients clipped at norm 10), the schedule stepped; returns each loss
        term's sum over the steps."""
        sums: dict[str, float] = {}
        for step, idx in enumerate(batches):
            T = self.losses(idx, {k: v[step] for k, v in draws.items()}, f"{where}, step {step}")
            opt.zero_grad(set_to_none=True)
            T["total"].backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
            opt.step()
            sched.step()
            for k, v in T.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            batches.set_postfix(loss=f"{float(T['total'].detach()):.4f}")
        return sums


def _parallel(model: Regressor, dev: torch.device) -> torch.nn.Module:
    """The model wrapped for data-parallel training over the ranks."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    distributed.init()
    return DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)


def train_regressor(
    body,
    model: Regressor,
    data: TrainSet,
    targets: torch.Tensor | None,
    cfg: TrainConfig,
    ckpt: str | Path | None = None,
    tag: str = "",
    progress: bool = False,
) -> list[dict]:
    """Train ``model`` in place for ``cfg.epochs`` epochs; returns per-epoch mean losses.

    ``targets`` (N, D) from the fit store (None: the single-step baseline, dense and keypoint
    losses only, no registration). With ``ckpt``, a checkpoint (model, optimiser, epoch,
    history) is written atomically after every epoch and training resumes from it. Shuffling is
    seeded per epoch, so a resumed run ends with the same weights as an uninterrupted one. A
    non-finite loss stops training with a message naming the step, before any update or save.
    """
    from dalnb.progress import bar as tqdm

    rank, world = distributed.rank_world()
    dev = distributed.device_for(cfg.device)
    model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, history, state = _resume(ckpt, model, opt, dev, tag)
    net = _parallel(model, dev) if world > 1 else model
    support, kp_reg = _kp_support(body)
    mirror = Mirror.of(body) if cfg.mirror > 0 else None
    turn = Turn.of(cfg.turn_deg, cfg.turn_scale, body)
    trainer = _Trainer(
        net,
        model,
        body.on(dev),
        data,
        targets,
        mirror,
        turn,
        support.to(dev),
        kp_reg.to(dev),
        dev,
        dev.type == "cuda" and cfg.bf16,
    )
    N = len(data)
    batch = max(min(cfg.batch, N // world), 1)  # small sets: one smaller batch per step
    steps = max(N // (batch * world), 1)
    sched = _cosine(opt, cfg.epochs * steps, state)
    for epoch in range(start, cfg.epochs):
        model.train()
        draws = epoch_order(cfg, epoch, N, steps, batch, turn)
        order = draws.pop("order")
        bar = tqdm(order, desc=f"{tag} epoch {epoch + 1}/{cfg.epochs}", show=progress and rank == 0, leave=False)
        sums = trainer.epoch(bar, draws, opt, sched, f"{tag or 'regressor'}: epoch {epoch + 1}")
        history.append({"epoch": epoch + 1, **{k: v / len(order) for k, v in sums.items()}})
        distributed.broadcast_buffers(model)  # BatchNorm statistics are per rank: every rank takes rank 0's
        if ckpt is not None and rank == 0:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
            atomic_torch_save(ckpt, {**state, "epoch": epoch + 1, "history": history, "regressor": model.cfg.to_dict()})
        distributed.barrier()
    model.eval()
    return history
