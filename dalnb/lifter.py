"""The lifting cGAN: joint depths from 2D keypoints alone (explained in notebook 02).

A generator (an MLP of eight linear layers, residual blocks as in Martinez et al.) lifts
root-centred, scale-normalised COCO-17 keypoints to one depth per keypoint. Each lifted 3D pose
is rotated about the vertical axis by several angles and projected; a discriminator must not
tell these projections from real 2D poses. Geometric losses constrain the 3D pose without any
3D label: bone symmetry (left and right limbs equal) and bone ratios (each bone relative to
the trunk, against the open template's ratios). A cycle term (Chen et al. 2019) lifts each
rotated projection again and asks that, rotated back, it agree with the first lift.

Units: 2D keypoints are centred on the hip midpoint and divided by the torso length (shoulder
midpoint to hip midpoint, in the image); depths come out in the same units and are converted
to metres with the template's torso length (``keypoints_depth`` convention: depth relative to
the hip midpoint, camera z forward). Missing keypoints (confidence 0) are masked: the
generator sees a mask channel, never a zero standing in for a position.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dalnb.body import skeleton as sk
from dalnb.io import atomic_torch_save
from dalnb.metrics import COCO_LIMBS

log = logging.getLogger(__name__)

__all__ = ["LifterConfig", "Generator", "Discriminator", "normalize_2d", "train_lifter", "lift_depths", "Lifter", "BONES", "SYMMETRIC"]

K = 17
_i = sk.COCO17.index
HIPS = [_i("left_hip"), _i("right_hip")]
SHOULDERS = [_i("left_shoulder"), _i("right_shoulder")]
# the eight limbs (metrics.COCO_LIMBS: upper arms, forearms, thighs, shins) then the trunk
BONES = [*COCO_LIMBS.values()] + [(_i(a), _i(b)) for a, b in [
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
]]  # fmt: skip
SYMMETRIC = [(0, 2), (1, 3), (4, 6), (5, 7), (8, 9)]  # pairs of indices into BONES
#: each COCO-17 keypoint's mirror image (left <-> right)
MIRROR = sk.mirror_index(sk.COCO17)


class DegenerateInput(ValueError):
    pass


def normalize_2d(kp: torch.Tensor, min_scale: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 17, 3) pixels + confidence -> normalised (B, 17, 2), mask (B, 17), scale (B,) pixels.

    Centre: the hip midpoint (mean of the visible points when a hip is missing); scale: the
    torso length (RMS distance to the centre when shoulders or hips are missing)."""
    if kp.dim() != 3 or kp.shape[1:] != (K, 3):
        raise ValueError(f"keypoints: expected (B, 17, 3), got {tuple(kp.shape)}")
    xy, m = kp[..., :2], (kp[..., 2] > 0).to(kp.dtype)
    if (m.sum(1) < 2).any():
        raise DegenerateInput(f"keypoints: {int((m.sum(1) < 2).sum())} poses have fewer than 2 visible keypoints")
    mean_vis = (xy * m[..., None]).sum(1) / m.sum(1, keepdim=True)
    hips_ok = m[:, HIPS].prod(1) > 0
    sh_ok = m[:, SHOULDERS].prod(1) > 0
    centre = torch.where(hips_ok[:, None], xy[:, HIPS].mean(1), mean_vis)
    torso = (xy[:, SHOULDERS].mean(1) - xy[:, HIPS].mean(1)).norm(dim=-1)
    rms = (((xy - centre[:, None]) ** 2).sum(-1) * m).sum(1).div(m.sum(1)).sqrt()
    scale = torch.where(hips_ok & sh_ok & (torso > min_scale), torso, rms / 1.5)
    if (scale < min_scale).any():
        raise DegenerateInput(f"keypoints: {int((scale < min_scale).sum())} poses have all visible points at one place (degenerate)")
    out = (xy - centre[:, None]) / scale[:, None, None] * m[..., None]
    return out, m, scale


@dataclass
class LifterConfig:
    hidden: int = 512
    blocks: int = 3  # residual blocks of two layers: 1 + 2*3 + 1 = 8 linear layers
    dropout: float = 0.1
    rotations: int = 4  # multi-view: angles per pose, uniform in +-max_angle
    max_angle_deg: float = 90.0
    w_adv: float = 0.1  # the paper's adversarial weight
    w_sym: float = 1.0
    w_ratio: float = 1.0
    w_cycle: float = 1.0
    w_orient: float = 1.0  # anatomical orientation prior (nose before ears, knees bend forward)
    input_noise: float = 0.02  # 2D jitter (torso units) while training, like a detector's
    drop_keypoint: float = 0.05  # chance to mask a keypoint while training
    lr: float = 2e-4
    lr_d: float = 1e-4
    batch: int = 128
    steps: int = 2000
    seed: int = 0
    checkpoint_every: int = 500
    test_flip: bool = True  # at test time, average the depths lifted from the pose and from its mirror image
    device: str | None = None
    template_ratios: list[float] = field(default_factory=list)  # filled from the template

    def to_dict(self) -> dict:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, h: int, p: float):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(p), nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(p))

    def forward(self, x):
        return x + self.f(x)


class Generator(nn.Module):
    """(B, 17, 2) normalised 2D + (B, 17) mask -> (B, 17) depths, hip midpoint at 0."""

    def __init__(self, cfg: LifterConfig):
        super().__init__()
        self.inp = nn.Linear(K * 3, cfg.hidden)
        self.blocks = nn.Sequential(*[_Block(cfg.hidden, cfg.dropout) for _ in range(cfg.blocks)])
        self.out = nn.Linear(cfg.hidden, K)

    def forward(self, xy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([xy.flatten(1), mask], 1)
        z = self.out(self.blocks(torch.relu(self.inp(x))))
        return z - z[:, HIPS].mean(1, keepdim=True)


class Discriminator(nn.Module):
    """(B, 17, 2) normalised 2D pose -> (B,) logit real."""

    def __init__(self, hidden: int = 512):
        super().__init__()
        n_in = K * 2 + len(BONES)
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))  # fmt: skip

    def forward(self, xy: torch.Tensor) -> torch.Tensor:
        bones = torch.stack([(xy[:, a] - xy[:, b]).norm(dim=-1) for a, b in BONES], 1)  # a kinematic-chain feature
        return self.net(torch.cat([xy.flatten(1), bones], 1))[:, 0]


def rotate_y(p: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """(B, 17, 3) about the vertical (image y) axis by (B,) radians."""
    c, s = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    return torch.stack([c * x + s * z, y, -s * x + c * z], -1)


def _renorm(xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    torso = (xy[:, SHOULDERS].mean(1) - xy[:, HIPS].mean(1)).norm(dim=-1).clamp_min(0.05)
    return xy / torso[:, None, None], torso


def bone_lengths(p: torch.Tensor) -> torch.Tensor:
    return torch.stack([(p[:, a] - p[:, b]).norm(dim=-1) for a, b in BONES], 1)


def symmetry_loss(p: torch.Tensor) -> torch.Tensor:
    """Left and right bones equal: mean over pairs of (|l_L| - |l_R|)^2."""
    L = bone_lengths(p)
    return torch.stack([(L[:, a] - L[:, b]) ** 2 for a, b in SYMMETRIC], 1).mean(1)


def ratio_loss(p: torch.Tensor, ratios: torch.Tensor) -> torch.Tensor:
    """Bones relative to the trunk (mean shoulder-hip side length) match the template's:
    mean over bones of (|l_b| / trunk - r_b)^2."""
    L = bone_lengths(p)
    trunk = 0.5 * (L[:, 8] + L[:, 9])
    return ((L / trunk[:, None].clamp_min(1e-3) - ratios) ** 2).mean(1)


def orientation_loss(p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Anatomy breaks the mirror ambiguity that no projection can: with the body's forward
    direction f = (left shoulder - right shoulder) x (shoulders - hips midpoints), the nose lies
    in front of the ears and each knee in front of its hip-ankle line:
    L = relu(-(nose - ears) . f) + mean_legs relu(-(knee - (hip + ankle)/2) . f).
    (Rotating about the vertical axis by +-theta maps a pose and its depth-mirror onto the same
    2D distribution, so the discriminator cannot tell them apart.)"""
    up = p[:, SHOULDERS].mean(1) - p[:, HIPS].mean(1)
    f = torch.cross(p[:, SHOULDERS[0]] - p[:, SHOULDERS[1]], up, dim=-1)
    f = f / f.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    ears = [_i("left_ear"), _i("right_ear")]
    face_ok = mask[:, _i("nose")] * mask[:, ears].prod(1)
    loss = torch.relu(-((p[:, _i("nose")] - p[:, ears].mean(1)) * f).sum(-1)) * face_ok
    for hip, knee, ankle in (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle")):
        ok = mask[:, [_i(hip), _i(knee), _i(ankle)]].prod(1)
        mid = 0.5 * (p[:, _i(hip)] + p[:, _i(ankle)])
        loss = loss + 0.5 * torch.relu(-((p[:, _i(knee)] - mid) * f).sum(-1)) * ok
    return loss


def template_ratios(body=None) -> np.ndarray:
    """Bone / trunk ratios of the open template's COCO keypoints (the 'average skeleton')."""
    from dalnb import BodyModel

    body = body or BodyModel.default()
    kp = body.keypoints(body.v_template[None], "coco17").double()
    L = bone_lengths(kp)[0]
    return (L / (0.5 * (L[8] + L[9]))).numpy()


def template_torso_m(body=None) -> float:
    from dalnb import BodyModel

    body = body or BodyModel.default()
    kp = body.keypoints(body.v_template[None], "coco17")[0].double()
    return float((kp[SHOULDERS].mean(0) - kp[HIPS].mean(0)).norm())


def _augment(xy, m, cfg: LifterConfig, g: torch.Generator):
    xy = xy + cfg.input_noise * torch.randn(xy.shape, generator=g, device=xy.device) * m[..., None]
    drop = (torch.rand(m.shape, generator=g, device=m.device) < cfg.drop_keypoint) & (m > 0)
    drop[:, HIPS + SHOULDERS] = False
    m = m * (~drop)
    return xy * m[..., None], m


@dataclass
class Lifter:
    gen: Generator
    cfg: LifterConfig
    torso_m: float
    history: dict[str, list] = field(default_factory=dict)
    resumed_at: int = 0  # the step ``train_lifter`` resumed from (its checkpoint's); = cfg.steps when nothing was left to train

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


def train_lifter(pool2d: np.ndarray, cfg: LifterConfig | None = None, ckpt: str | Path | None = None, progress: bool = False) -> Lifter:
    """Train on 2D keypoints only ((N, 17, 3) pixels + confidence; never 3D). Resumes from
    ``ckpt`` when it exists; checkpoints are written atomically every ``checkpoint_every`` steps."""
    from tqdm.auto import tqdm

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
        G.load_state_dict(st["G"]), D.load_state_dict(st["D"]), oG.load_state_dict(st["oG"]), oD.load_state_dict(st["oD"])
        start, history = st["step"], st["history"]
        g.set_state(st["rng"].to(g.get_state().device) if hasattr(st["rng"], "to") else st["rng"])
        log.info("lifter: resumed at step %d from %s", start, ckpt)
    bce = nn.BCEWithLogitsLoss()
    maxa = math.radians(cfg.max_angle_deg)
    bar = tqdm(range(start, cfg.steps), desc="lifter", disable=not progress, initial=start, total=cfg.steps)
    for step in bar:
        G.train()
        idx = torch.randint(0, len(xy_all), (cfg.batch,), generator=g, device=dev)
        xy, m = _augment(xy_all[idx], m_all[idx], cfg, g)
        z = G(xy, m)
        p3 = torch.cat([xy, z[..., None]], -1)
        R = cfg.rotations
        theta = (torch.rand(cfg.batch * R, generator=g, device=dev) * 2 - 1) * maxa
        pr = rotate_y(p3.repeat(R, 1, 1), theta)
        fake, s = _renorm(pr[..., :2])
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
        lg = cfg.w_adv * loss_adv + cfg.w_sym * loss_sym + cfg.w_ratio * loss_ratio + cfg.w_cycle * loss_cycle + cfg.w_orient * loss_orient
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
        for k, v in (("g_adv", loss_adv), ("d", ld), ("sym", loss_sym), ("ratio", loss_ratio), ("cycle", loss_cycle), ("orient", loss_orient), ("g_total", lg)):
            history[k].append(float(v.detach()))
        if ckpt is not None and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
            atomic_torch_save(ckpt, {"G": G.state_dict(), "D": D.state_dict(), "oG": oG.state_dict(), "oD": oD.state_dict(), "step": step + 1,
                         "history": history, "rng": g.get_state(), "cfg": cfg.to_dict()})  # fmt: skip
    G.eval()
    return Lifter(G, cfg, template_torso_m(), history, resumed_at=start)


def load_lifter(path: str | Path, device: str = "cpu") -> Lifter:
    st = torch.load(path, map_location=device, weights_only=False)
    cfg = LifterConfig(**st["cfg"])
    G = Generator(cfg).to(device)
    G.load_state_dict(st["G"])
    G.eval()
    return Lifter(G, cfg, template_torso_m(), st["history"])
