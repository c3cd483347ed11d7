"""The lifter's input and networks: root-centred, torso-normalised COCO-17 keypoints (with a mask
channel for missing ones), the generator (an MLP of residual blocks, Martinez et al.) that lifts
them to one depth per keypoint, and the discriminator of 2D poses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from dalnb.lifter.joints import BONES, HIPS, SHOULDERS, K


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
        raise DegenerateInput(
            f"keypoints: {int((scale < min_scale).sum())} poses have all visible points at one place (degenerate)"
        )
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
        self.f = nn.Sequential(
            nn.Linear(h, h),
            nn.BatchNorm1d(h),
            nn.ReLU(),
            nn.Dropout(p),
            nn.Linear(h, h),
            nn.BatchNorm1d(h),
            nn.ReLU(),
            nn.Dropout(p),
        )

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
        self.net = nn.Sequential(
            nn.Linear(n_in, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, xy: torch.Tensor) -> torch.Tensor:
        bones = torch.stack([(xy[:, a] - xy[:, b]).norm(dim=-1) for a, b in BONES], 1)  # a kinematic-chain feature
        return self.net(torch.cat([xy.flatten(1), bones], 1))[:, 0]
