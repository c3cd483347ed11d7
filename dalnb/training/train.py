"""Regressor training: AdamW with a cosine schedule, resumable from a checkpoint written after
every epoch, DistributedDataParallel under ``torchrun``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from dalnb import distributed
from dalnb.body import skeleton as sk
from dalnb.io import atomic_torch_save
from dalnb.regressor import (
    Mirror,
    Regressor,
    regressor_loss,
)
from dalnb.training.config import TrainConfig
from dalnb.training.trainset import TrainSet

log = logging.getLogger(__name__)


def _kp_support(body) -> tuple[torch.Tensor, torch.Tensor]:
    reg = body.data.coco_regressor[: len(sk.COCO17)]
    ids = np.unique(np.nonzero(reg)[1])
    return torch.as_tensor(ids), torch.as_tensor(reg[:, ids], dtype=torch.float32)


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
    body_d = body.on(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: list[dict] = []
    start = 0
    if ckpt is not None and Path(ckpt).exists():
        st = torch.load(ckpt, map_location=dev, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        start, history = st["epoch"], st["history"]
        log.info("%s: resumed at epoch %d from %s", tag or "regressor", start, ckpt)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        distributed.init()
        net = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    support, kp_reg = _kp_support(body)
    support, kp_reg = support.to(dev), kp_reg.to(dev)
    mirror = Mirror.of(body) if cfg.mirror > 0 else None
    N = len(data)
    batch = max(min(cfg.batch, N // world), 1)  # small sets: one smaller batch per step
    steps_per_epoch = max(N // (batch * world), 1)
    sched_total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + np.cos(np.pi * min(i / max(sched_total, 1), 1.0))) * 0.95 + 0.05
    )
    if start and "sched" in st:
        sched.load_state_dict(st["sched"])
        for group, lr in zip(
            opt.param_groups, sched.get_last_lr()
        ):  # the constructor reset them to the schedule's start
            group["lr"] = lr
    autocast = dev.type == "cuda" and cfg.bf16
    for epoch in range(start, cfg.epochs):
        model.train()
        g = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
        perm = torch.randperm(N, generator=g)[: steps_per_epoch * batch * world]
        flips = (
            torch.rand(perm.shape, generator=g) < cfg.mirror
        )  # per sample of the epoch, drawn before the loop: resumable
        mine = perm.reshape(steps_per_epoch, world, batch)[:, rank]
        mine_flip = flips.reshape(steps_per_epoch, world, batch)[:, rank]
        sums: dict[str, float] = {}
        bar = tqdm(mine, desc=f"{tag} epoch {epoch + 1}/{cfg.epochs}", show=progress and rank == 0, leave=False)
        for step, idx in enumerate(bar):
            img = data.images[idx].to(dev, non_blocking=True).float() / 255
            tgt = None if targets is None else targets[idx].to(dev)
            dv, dxy, kp = data.dense_vertex[idx].to(dev), data.dense_xy[idx].to(dev), data.keypoints[idx].to(dev)
            if mirror is not None:
                img, tgt, dv, dxy, kp = mirror.batch(img, tgt, dv, dxy, kp, mine_flip[step].to(dev))
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
                pred, kp2d = net(img, keypoints=True) if model.keypoints is not None else (net(img), None)
            if not torch.isfinite(pred).all():
                raise FloatingPointError(
                    f"{tag or 'regressor'}: non-finite prediction at epoch {epoch + 1}, step {step}; "
                    "no update or checkpoint was written"
                )
            T = regressor_loss(
                body_d, pred.float(), tgt, dv, dxy, data.dense_w[idx].to(dev), kp, support, kp_reg, model.cfg, kp2d
            )
            if not torch.isfinite(T["total"]):
                raise FloatingPointError(
                    f"{tag or 'regressor'}: non-finite loss at epoch {epoch + 1}, step {step} "
                    f"({ {k: float(v) for k, v in T.items()} }); no update or checkpoint was written"
                )
            opt.zero_grad(set_to_none=True)
            T["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            sched.step()
            for k, v in T.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{float(T['total'].detach()):.4f}")
        history.append({"epoch": epoch + 1, **{k: v / len(mine) for k, v in sums.items()}})
        distributed.broadcast_buffers(model)  # BatchNorm statistics are per rank: every rank takes rank 0's
        if ckpt is not None and rank == 0:
            atomic_torch_save(
                ckpt,
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "epoch": epoch + 1,
                    "history": history,
                    "regressor": model.cfg.to_dict(),
                },
            )
        distributed.barrier()
    model.eval()
    return history
