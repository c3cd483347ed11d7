"""The regressor's 2D keypoint head: COCO-17 heatmaps from the backbone's stride-8 and stride-16
features, read out by soft-argmax (integral regression) in the crop's normalised frame. Trained on
the images' 2D keypoint annotations (no 3D label), its keypoints feed the parameter head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["soft_argmax", "KeypointHead"]


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) heatmap logits -> (B, K, 2) expected (x, y) of each map's softmax, in the
    crop's normalised frame (x/S - 1/2, with cell centres at (j + 1/2) / W)."""
    B, K, H, W = logits.shape
    p = logits.float().reshape(B, K, H * W).softmax(-1).reshape(B, K, H, W)
    xs = (torch.arange(W, device=logits.device, dtype=p.dtype) + 0.5) / W - 0.5
    ys = (torch.arange(H, device=logits.device, dtype=p.dtype) + 0.5) / H - 0.5
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], -1)


class KeypointHead(nn.Module):
    """Stride-16 and stride-8 backbone features -> (B, 17, H/8, W/8) COCO-17 heatmap logits."""

    def __init__(self, c8: int, c16: int, width: int = 128, k: int = 17):
        super().__init__()
        self.lat8, self.lat16 = nn.Conv2d(c8, width, 1), nn.Conv2d(c16, width, 1)
        self.out = nn.Sequential(
            nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, k, 1)
        )

    def forward(self, f8: torch.Tensor, f16: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(self.lat16(f16), size=f8.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(self.lat8(f8) + up)
