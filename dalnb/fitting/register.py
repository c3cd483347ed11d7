"""``register``: fit the template to every sample, in chunks, from the rest pose (a stiff stage
from several headings, then the full fit) or from given parameters (the regressor's).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dalnb import rotations as rot
from dalnb.body.camera import FACING_CAMERA
from dalnb.fitting.batch import prepare_batch, repeat_batch
from dalnb.fitting.config import RegistrationConfig
from dalnb.fitting.optim import run_stage
from dalnb.fitting.problem import Problem, total_loss
from dalnb.fitting.result import FitResult, concat_fits


def _posed(body, prob: Problem):
    """The problem's current bodies (full pose, scales, rotation) and cameras in pixels."""
    pose = prob.full_pose
    R = rot.nine_to_matrix(prob.rot9)
    sc = prob.log_sc.exp()
    full = body(pose, segment_scales=sc, rotation=R)
    size, centre = prob.b.size, prob.b.centre
    s_n = prob.cam[:, 0].exp()
    cam = torch.stack([s_n * size, prob.cam[:, 1] * size + centre[:, 0], prob.cam[:, 2] * size + centre[:, 1]], 1)
    return pose, R, sc, full, cam


def _normalised_camera(init: dict | None, batch) -> dict | None:
    """A given start's camera (B, 3) in pixels -> ``camera_normalised`` in each sample's frame."""
    if init is None or "camera" not in init:
        return init
    init = dict(init)
    cam = init.pop("camera")
    init["camera_normalised"] = torch.stack(
        [
            torch.log(cam[:, 0].clamp_min(1e-6) / batch.size),
            (cam[:, 1] - batch.centre[:, 0]) / batch.size,
            (cam[:, 2] - batch.centre[:, 1]) / batch.size,
        ],
        1,
    )
    return init


def _heading_search(body, batch, cfg: RegistrationConfig, device, init, history, valid) -> Problem:
    """The rigid first stage from ``cfg.yaw_hypotheses`` headings about the vertical, the best per
    sample kept; from given parameters (e.g. the regressor's) the headings turn the given rotation
    and keep its pose and shape. Returns the problem with each sample's best start."""
    B, K = len(batch.status), cfg.yaw_hypotheses
    yaws = torch.arange(K, dtype=torch.float32) * (2 * math.pi / K)
    Ry = torch.stack([rot.axis_angle_to_matrix(torch.tensor([0.0, float(a), 0.0])) for a in yaws])  # (K, 3, 3)
    base = init["rotation"].float() if init is not None else FACING_CAMERA.expand(B, 3, 3)
    start = {"rotation": (base[None] @ Ry[:, None]).reshape(K * B, 3, 3)}
    if init is not None:
        given = ("pose", "segment_scales", "camera_normalised")
        start |= {k: init[k].repeat(K, *([1] * (init[k].dim() - 1))) for k in given if k in init}
    prob = Problem(body, repeat_batch(batch, K), cfg, device, start)
    loss = run_stage(prob, cfg.stages[0], cfg, history, valid.repeat(K))
    best_k = loss.nan_to_num(float("inf")).reshape(K, B).argmin(0)
    best = Problem(body, batch, cfg, device, None)
    best.theta.data = prob.theta.data[best_k * B + torch.arange(B, device=device)].clone()
    return best


def _run_stages(body, prob: Problem, stages, cfg, history, valid, keep_every: int, frames) -> torch.Tensor:
    """Run ``stages`` in turn; every ``keep_every`` iterations (0: never) the posed state goes to
    ``frames``. Returns the (B,) iterations each sample ran."""
    iters = torch.zeros(len(valid), dtype=torch.int64)

    def keep(at: int) -> None:
        with torch.no_grad():
            _, _, _, full, cam = _posed(body, prob)
        frames.append({"iteration": at, "vertices": full.vertices.cpu(), "camera": cam.cpu()})

    for st in stages:
        n0 = len(history.get("total", []))
        if keep_every and not frames:
            keep(n0)
        on_iter = (
            (lambda it, n0=n0: keep(n0 + it + 1) if (n0 + it + 1) % keep_every == 0 else None) if keep_every else None
        )
        run_stage(prob, st, cfg, history, valid, on_iter)
        iters += len(history.get("total", [])) - n0
    if keep_every and frames[-1]["iteration"] != len(history.get("total", [])):
        keep(len(history.get("total", [])))
    return iters


def _fit_result(body, prob: Problem, batch, last_stage, samples, iters, device) -> FitResult:
    """The fitted state as a ``FitResult``; a sample whose fit is not finite is marked diverged, and
    every failed sample reports the rest template (never NaN) with NaN losses."""
    B = len(samples)
    with torch.no_grad():
        T = prob.terms(last_stage.weights)
        total = total_loss(T, last_stage.weights)
        pose, R, sc, full, cam = _posed(body, prob)
        size, centre = prob.b.size, prob.b.centre
        persp = torch.cat([prob.kappa[:, None], prob.b.principal * size[:, None] + centre], 1)
    status = np.array(batch.status, dtype=object)
    finite = torch.isfinite(full.vertices).all(2).all(1) & torch.isfinite(total) & torch.isfinite(cam).all(1)
    status[(status == "ok") & ~finite.cpu().numpy()] = "diverged (non-finite fit)"
    bad = torch.as_tensor(status != "ok", device=device)
    rest = body(torch.zeros(1, 24, 3, device=device, dtype=pose.dtype))
    nan = float("nan")
    return FitResult(
        pose=torch.where(bad[:, None, None], torch.zeros_like(pose), pose).cpu(),
        segment_scales=torch.where(bad[:, None, None], torch.ones_like(sc), sc).cpu(),
        rotation=torch.where(bad[:, None, None], FACING_CAMERA.to(R), R).cpu(),
        camera=torch.where(bad[:, None], torch.zeros_like(cam), cam).cpu(),
        vertices=torch.where(bad[:, None, None], rest.vertices.expand(B, -1, -1), full.vertices).cpu(),
        joints=torch.where(bad[:, None, None], rest.joints.expand(B, -1, -1), full.joints).cpu(),
        losses={k: torch.where(bad, torch.full_like(v, nan), v).cpu() for k, v in {**T, "total": total}.items()},
        status=status.astype(str),
        sample_ids=[str(s.get("sample_id", i)) for i, s in enumerate(samples)],
        iterations=iters.numpy(),
        perspective=torch.where(bad[:, None], torch.zeros_like(persp), persp).cpu(),
    )


def _fit_chunk(body, samples, cfg: RegistrationConfig, device, init, densepose_map, history, keep_every=0, frames=None):
    """One chunk of samples: the batch, the heading search when the first stage is rigid and
    several headings are asked for, the stages, the result."""
    batch = prepare_batch(body, samples, cfg, densepose_map)
    init = _normalised_camera(init, batch)
    valid = torch.tensor([s == "ok" for s in batch.status], device=device)
    stages = list(cfg.stages)
    if cfg.yaw_hypotheses > 1 and stages and set(stages[0].free) <= {"rotation", "camera"}:
        prob, stages = _heading_search(body, batch, cfg, device, init, history, valid), stages[1:]
    else:
        prob = Problem(body, batch, cfg, device, init)
    iters = _run_stages(body, prob, stages, cfg, history, valid, keep_every, frames)
    return _fit_result(body, prob, batch, cfg.stages[-1], samples, iters, device)


def register(
    body,
    samples: list[dict],
    cfg: RegistrationConfig | None = None,
    init: FitResult | dict | None = None,
    densepose_map=None,
    progress: bool = False,
    keep_every: int = 0,
) -> FitResult:
    """Fit the template to every sample (defaults = notebook 03's). Samples that cannot be
    fitted get a status saying why; they never affect the others, and no output is NaN.

    ``init``: start from given parameters (a FitResult or dict with pose, segment_scales,
    rotation and camera in pixels), e.g. the regressor's prediction; otherwise the rest pose.
    ``keep_every``: keep the first chunk's state every so many iterations (``FitResult.frames``:
    what notebook 03's registration player steps through).
    """
    import time

    from dalnb.progress import bar as tqdm

    cfg = cfg or RegistrationConfig()
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    body_d = body.on(device)
    torch.manual_seed(cfg.seed)
    t0 = time.perf_counter()
    parts, history, frames = [], {}, []
    n = len(samples)
    bar = tqdm(total=n, desc="registration", unit="fit", show=progress)
    for a in range(0, n, cfg.chunk_size):
        chunk = samples[a : a + cfg.chunk_size]
        ini = _slice_init(init, a, a + len(chunk)) if init is not None else None
        h: dict[str, list] = {}
        kept: list[dict] = []
        parts.append(_fit_chunk(body_d, chunk, cfg, device, ini, densepose_map, h, keep_every if a == 0 else 0, kept))
        if not history:
            history, frames = h, kept
        bar.update(len(chunk))
    bar.close()
    res = concat_fits(parts)
    res.history = {k: np.asarray(v) for k, v in history.items()}
    res.frames = frames
    res.seconds = time.perf_counter() - t0
    return res


def _slice_init(init, a, b) -> dict:
    get = (
        (lambda k: getattr(init, k)[a:b]) if isinstance(init, FitResult) else (lambda k: torch.as_tensor(init[k])[a:b])
    )
    return {k: get(k).float() for k in ("pose", "segment_scales", "rotation", "camera")}
