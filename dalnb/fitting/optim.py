"""The optimiser loop: Adam written out on the parameter rows (stopped samples simply stop
moving), a cosine-decayed learning rate, the robust scale's narrowing, and per-sample stopping.
"""

from __future__ import annotations

import math

import torch

from dalnb.fitting.config import RegistrationConfig, Stage
from dalnb.fitting.problem import RIGID_FREE, Problem, total_loss


def adam_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    step: int,
    lr: torch.Tensor,
    rows: torch.Tensor,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> None:
    """Adam (Kingma & Ba) in place on (B, D) parameter rows with per-column learning rates
    lr (D,); rows (B,) bool: only these rows move (m and v are updated for all).

        m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
        p <- p - lr * (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)

    The same arithmetic as ``torch.optim.Adam`` (tested against it)."""
    b1, b2 = betas
    m.lerp_(grad, 1 - b1)
    v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
    denom = (v / (1 - b2**step)).sqrt_().add_(eps)
    upd = (m / (1 - b1**step)) / denom * lr
    param.sub_(upd * rows[:, None])


def _cosine(it: int, n: int) -> float:
    """1 -> 0 along a half cosine over iterations 0 .. n - 1."""
    return 0.5 * (1 + math.cos(math.pi * it / max(n - 1, 1)))


def robust_scale(cfg: RegistrationConfig, stage: Stage, it: int) -> float | None:
    """The 2D residuals' Geman-McClure scale at iteration ``it`` of ``stage``: ``cfg.robust_sigma``
    throughout a rigid stage (or without ``robust_sigma_end``), else a cosine from it down to
    ``cfg.robust_sigma_end`` at the stage's last iteration."""
    s0, s1 = cfg.robust_sigma, cfg.robust_sigma_end
    if s0 is None or s1 is None or set(stage.free) <= RIGID_FREE:
        return s0
    return s1 + (s0 - s1) * _cosine(it, stage.iters)


def run_stage(
    prob: Problem,
    stage: Stage,
    cfg: RegistrationConfig,
    history: dict[str, list],
    active: torch.Tensor,
    on_iter=None,
) -> torch.Tensor:
    """Adam on the stage's free parameter columns (cosine-decayed learning rate); samples stop on
    their own. Returns the final per-sample weighted loss. ``on_iter(it)`` is called after each
    step (e.g. to keep the state)."""
    th = prob.theta
    prob.hold_body(set(stage.free) <= RIGID_FREE)
    m_adam, v_adam = torch.zeros_like(th), torch.zeros_like(th)
    lr0 = prob.lr_columns(stage)
    best = torch.full((active.shape[0],), float("inf"), device=prob.dev)
    since = torch.zeros(active.shape[0], dtype=torch.int64, device=prob.dev)
    run = active.clone()
    loss_b = best
    mean_w = active.to(th.dtype) / active.to(th.dtype).sum().clamp_min(1)
    rows: list[torch.Tensor] = []
    names: list[str] = []
    for it in range(stage.iters):
        decay = stage.lr_end + (1 - stage.lr_end) * _cosine(it, stage.iters)
        if prob.sigma is not None:
            prob.sigma.fill_(robust_scale(cfg, stage, it))
        th.grad = None
        if it % cfg.coverage_every == 0 and stage.weights.get("silhouette", 0):
            prob.refresh_coverage()
        T = prob.terms_fn(stage.weights)
        loss_b = total_loss(T, stage.weights)
        move = run & torch.isfinite(loss_b)
        torch.where(move, loss_b, torch.zeros_like(loss_b)).sum().backward()
        with torch.no_grad():
            grad = th.grad.nan_to_num_(0.0, 0.0, 0.0)
            adam_step(th, grad, m_adam, v_adam, it + 1, lr0 * decay, move, betas=cfg.adam_betas)
            improved = loss_b < best * (1 - cfg.tol)
            best = torch.where(improved, loss_b, best)
            since = torch.where(improved, torch.zeros_like(since), since + 1)
            run = run & (since < cfg.patience)
            rows.append(
                torch.cat([torch.stack([*T.values(), loss_b.nan_to_num(0)]) @ mean_w, run.sum()[None].to(th.dtype)])
            )
        if on_iter is not None:
            on_iter(it)
        if it % 10 == 9 and not run.any():
            break
    names = list(T) + ["total", "active"] if stage.iters else []
    prob.hold_body(False)
    if rows:
        table = torch.stack(rows).cpu().numpy()
        for j, k in enumerate(names):
            history.setdefault(k, []).extend(table[:, j].tolist())
    return loss_b.detach()
