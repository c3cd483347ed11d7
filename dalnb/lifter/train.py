"""Training the lifting cGAN (adversarial on rotated projections, geometric and cycle terms),
resumable from a checkpoint, and lifting keypoints with it: depths in metres relative to the
hip midpoint (the ``keypoints_depth`` convention) or whole 3D poses.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dalnb.io import atomic_torch_save
from dalnb.lifter.joints import HIPS, MIRROR, SHOULDERS
from dalnb.lifter.losses import (
    orientation_loss,
    ratio_loss,
    renorm,
    rotate_y,
    symmetry_loss,
    template_ratios,
    template_torso_m,
)
from dalnb.lifter.networks import (
    Discriminator,
    Generator,
    LifterConfig,
    normalize_2d,
)


def _augment(xy, m, cfg: LifterConfig, g: torch.Generator):
    xy = xy + cfg.input_noise * torch.randn(xy.shape, generator=g, device=xy.device) * m[..., None]
    drop = (torch.rand(m.shape, generator=g, device=m.device) < cfg.drop_keypoint) & (m > 0)
    drop[:, HIPS + SHOULDERS] = False
    m = m * (~drop)
    return xy * m[..., None], m


log = logging.getLogger(__name__)


@dataclass
class Lifter:
    gen: Generator
    cfg: LifterConfig
    torso_m: float
    history: dict[str, list] = field(default_factory=dict)
    resumed_at: int = (
        0  # the step ``train_lifter`` resumed from (its checkpoint's); = cfg.steps when nothing was left to train
    )

    def lift(self, keypoints2d: torch.Tensor | np.ndarray) -> np.ndarray:
        return lift_depths(self, keypoints2d)


def _lift(lifter: Lifter, keypoints2d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalised 2D (B, 17, 2), mask (B, 17) and lifted depths (B, 17), normalised units."""
    kp = torch.as_tensor(np.asarray(keypoints2d), dtype=torch.float32)
    if kp.dim() == 2:
        kp = kp[None]
    xy, m, _ = normalize_2d(kp)
    lifter.gen.eval()
    dev = next(lifter.gen.parameters()).device
    with torch.no_grad():
        z = lifter.gen(xy.to(dev), m.to(dev)).cpu()
        if lifter.cfg.test_flip:  # mirror x -> -x and swap left/right; a mirror leaves each depth unchanged
            xm = xy[:, MIRROR] * torch.tensor([-1.0, 1.0])
            z = 0.5 * (z + lifter.gen(xm.to(dev), m[:, MIRROR].to(dev)).cpu()[:, MIRROR])
    return xy, m, z


def lift_depths(lifter: Lifter, keypoints2d) -> np.ndarray:
    """(B, 17, 3) keypoints (pixels, confidence) -> (B, 17) depths in metres relative to the hip
    midpoint (``keypoints_depth``), NaN where a keypoint is missing."""
    xy, m, z = _lift(lifter, keypoints2d)
    p3 = torch.cat([xy, z[..., None]], -1)
    torso3 = (p3[:, SHOULDERS].mean(1) - p3[:, HIPS].mean(1)).norm(dim=-1).clamp_min(1e-3)
    depth = z * (lifter.torso_m / torso3)[:, None]
    return torch.where(m > 0, depth, torch.full_like(depth, float("nan"))).numpy()


def lift_3d(lifter: Lifter, keypoints2d) -> np.ndarray:
    """(B, 17, 3) lifted 3D poses in normalised units (x, y from the image, z lifted)."""
    xy, _, z = _lift(lifter, keypoints2d)
    return torch.cat([xy, z[..., None]], -1).numpy()


def train_lifter(
    pool2d: np.ndarray, cfg: LifterConfig | None = None, ckpt: str | Path | None = None, progress: bool = False
) -> Lifter:
    """Train on 2D keypoints only ((N, 17, 3) pixels + confidence; never 3D). Resumes from
    ``ckpt`` when it exists; checkpoints are written atomically every ``checkpoint_every`` steps."""
    from dalnb.progress import bar as tqdm

    cfg = cfg or LifterConfig()
    dev = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(cfg.seed)
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    kp = torch.as_tensor(np.asarray(pool2d), dtype=torch.float32)
    keep = (kp[..., 2] > 0).sum(1) >= 8  # poses with enough keypoints to learn from
    xy_all, m_all, _ = normalize_2d(kp[keep])
    xy_all, m_all = xy_all.to(dev), m_all.to(dev)
    full = m_all.min(1).values > 0  # fully visible poses are the discriminator's real examples
    real_pool = xy_all[full] if full.sum() > 16 else xy_all
    ratios = torch.as_tensor(cfg.template_ratios or template_ratios(), dtype=torch.float32, device=dev)
    G, D = Generator(cfg).to(dev), Discriminator().to(dev)
    oG = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(0.5, 0.999))
    history: dict[str, list] = {k: [] for k in ("g_adv", "d", "sym", "ratio", "cycle", "orient", "g_total")}
    start = 0
    if ckpt is not None and Path(ckpt).exists():
        st = torch.load(ckpt, map_location=dev, weights_only=False)
        (
            G.load_state_dict(st["G"]),
            D.load_state_dict(st["D"]),
            oG.load_state_dict(st["oG"]),
            oD.load_state_dict(st["oD"]),
        )
        start, history = st["step"], st["history"]
        g.set_state(st["rng"].to(g.get_state().device) if hasattr(st["rng"], "to") else st["rng"])
        log.info("lifter: resumed at step %d from %s", start, ckpt)
    bce = nn.BCEWithLogitsLoss()
    maxa = math.radians(cfg.max_angle_deg)
    bar = tqdm(range(start, cfg.steps), desc="lifter", show=progress, initial=start, total=cfg.steps)
    for step in bar:
        G.train()
        idx = torch.randint(0, len(xy_all), (cfg.batch,), generator=g, device=dev)
        xy, m = _augment(xy_all[idx], m_all[idx], cfg, g)
        z = G(xy, m)
        p3 = torch.cat([xy, z[..., None]], -1)
        R = cfg.rotations
        theta = (torch.rand(cfg.batch * R, generator=g, device=dev) * 2 - 1) * maxa
        pr = rotate_y(p3.repeat(R, 1, 1), theta)
        fake, s = renorm(pr[..., :2])
        # generator
        loss_adv = bce(D(fake), torch.ones(len(fake), device=dev))
        loss_sym = symmetry_loss(p3).mean()
        loss_ratio = ratio_loss(p3, ratios).mean()
        loss_orient = orientation_loss(p3, m).mean()
        if cfg.w_cycle:
            z2 = G(fake, m.repeat(R, 1))
            back = rotate_y(torch.cat([fake, z2[..., None]], -1) * s[:, None, None], -theta)
            loss_cycle = ((back - p3.repeat(R, 1, 1)) ** 2).sum(-1).mul(m.repeat(R, 1)).mean()
        else:
            loss_cycle = torch.zeros((), device=dev)
        lg = (
            cfg.w_adv * loss_adv
            + cfg.w_sym * loss_sym
            + cfg.w_ratio * loss_ratio
            + cfg.w_cycle * loss_cycle
            + cfg.w_orient * loss_orient
        )
        if not torch.isfinite(lg):
            raise FloatingPointError(f"lifter: non-finite generator loss at step {step}")
        oG.zero_grad(set_to_none=True)
        lg.backward()
        oG.step()
        # discriminator
        ridx = torch.randint(0, len(real_pool), (len(fake),), generator=g, device=dev)
        real = real_pool[ridx] + cfg.input_noise * torch.randn(real_pool[ridx].shape, generator=g, device=dev)
        ld = bce(D(real), torch.ones(len(real), device=dev)) + bce(D(fake.detach()), torch.zeros(len(fake), device=dev))
        oD.zero_grad(set_to_none=True)
        ld.backward()
        oD.step()
        for k, v in (
            ("g_adv", loss_adv),
            ("d", ld),
            ("sym", loss_sym),
            ("ratio", loss_ratio),
            ("cycle", loss_cycle),
            ("orient", loss_orient),
            ("g_total", lg),
        ):
            history[k].append(float(v.detach()))
        if ckpt is not None and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
            atomic_torch_save(
                ckpt,
                {
                    "G": G.state_dict(),
                    "D": D.state_dict(),
                    "oG": oG.state_dict(),
                    "oD": oD.state_dict(),
                    "step": step + 1,
                    "history": history,
                    "rng": g.get_state(),
                    "cfg": cfg.to_dict(),
                },
            )
    G.eval()
    return Lifter(G, cfg, template_torso_m(), history, resumed_at=start)


def load_lifter(path: str | Path, device: str = "cpu") -> Lifter:
    st = torch.load(path, map_location=device, weights_only=False)
    cfg = LifterConfig(**st["cfg"])
    G = Generator(cfg).to(device)
    G.load_state_dict(st["G"])
    G.eval()
    return Lifter(G, cfg, template_torso_m(), st["history"])


#: what registration may take of a lifter's depths (``fitting.batch.DEPTH_FRAMES``): 2D cannot tell the lifter
#: the body's lean towards the camera or its heading, only which point lies in front of which
LIFTED_FRAME = "untilted"


def with_lifted_depths(samples: list[dict], depths) -> list[dict]:
    """The samples with a lifter's depths ((N, 17) metres, NaN = no prior there) as their ``keypoints_depth``,
    in the lifter's frame (:data:`LIFTED_FRAME`)."""
    return [dict(s, keypoints_depth=z, keypoints_depth_frame=LIFTED_FRAME) for s, z in zip(samples, depths)]


def keypoint_pool(samples: list[dict]) -> np.ndarray:
    """(N, 17, 3) the samples' COCO-17 keypoints, float32, visibility as 0 / 1."""
    pool = np.stack([s["keypoints2d"] for s in samples]).astype(np.float32)
    pool[..., 2] = pool[..., 2] > 0
    return pool


def write_depths(lifter: Lifter, samples: list[dict], path: str | Path) -> Path:
    """The lifted depths of the samples' keypoints by sample_id (what ``attach_depths`` reads); NaN
    (no prior) for a sample with too few keypoints to lift (e.g. a DensePose-COCO person annotated
    with dense points alone)."""
    from dalnb.io import atomic_write_npz

    ids = np.array([s["sample_id"] for s in samples])
    kp = keypoint_pool(samples)
    depth = np.full(kp.shape[:2], np.nan, np.float32)
    ok = kp[..., 2].sum(1) >= 2
    if ok.any():
        depth[ok] = lift_depths(lifter, kp[ok])
    return atomic_write_npz(path, {"sample_id": ids, "keypoints_depth": depth, "frame": np.array(LIFTED_FRAME)})
