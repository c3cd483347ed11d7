"""The regressor's 2D heads, trained on the images' 2D annotations (no 3D label):

* keypoints: COCO-17 heatmaps from the backbone's stride-8 and stride-16 features, read out by
  soft-argmax (integral regression) in the crop's normalised frame; its keypoints feed the parameter
  head. Trained on the soft-argmax (``regressor_loss``) and on the heatmaps (``heatmap_loss``).
* surface: the same head with 3 maps, each cell's point of the rest template (``surface_targets``),
  read at the dense correspondences' pixels (``surface_loss``): which part, which side, front or back,
  at every annotated pixel (a DensePose-like head).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["soft_argmax", "heatmap_loss", "surface_targets", "surface_loss", "KeypointHead"]


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) heatmap logits -> (B, K, 2) expected (x, y) of each map's softmax, in the
    crop's normalised frame (x/S - 1/2, with cell centres at (j + 1/2) / W)."""
    B, K, H, W = logits.shape
    p = logits.float().reshape(B, K, H * W).softmax(-1).reshape(B, K, H, W)
    xs = (torch.arange(W, device=logits.device, dtype=p.dtype) + 0.5) / W - 0.5
    ys = (torch.arange(H, device=logits.device, dtype=p.dtype) + 0.5) / H - 0.5
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], -1)


def heatmap_loss(logits: torch.Tensor, keypoints: torch.Tensor, sigma_cells: float = 1.0) -> torch.Tensor:
    """Heatmap supervision: the KL divergence from a Gaussian (``sigma_cells`` cells wide) centred on
    each annotated keypoint to the softmax of its (B, K, H, W) logits, averaged over keypoints weighted
    by confidence. ``keypoints`` (B, K, 3): x, y in the crop's normalised frame (``soft_argmax``'s),
    confidence; a keypoint outside the crop aims at the nearest cell. Zero when the maps are the targets."""
    B, K, H, W = logits.shape
    if keypoints.shape != (B, K, 3):
        raise ValueError(f"heatmap_loss: keypoints expected {(B, K, 3)}, got {tuple(keypoints.shape)}")
    xs = (torch.arange(W, device=logits.device, dtype=torch.float32) + 0.5) / W - 0.5
    ys = (torch.arange(H, device=logits.device, dtype=torch.float32) + 0.5) / H - 0.5
    kx = keypoints[..., 0].float().clamp(xs[0], xs[-1])[..., None, None]
    ky = keypoints[..., 1].float().clamp(ys[0], ys[-1])[..., None, None]
    d2 = ((xs[None, None, None, :] - kx) * W) ** 2 + ((ys[None, None, :, None] - ky) * H) ** 2  # cells^2
    target = (-d2 / (2 * sigma_cells**2)).reshape(B, K, -1).log_softmax(-1)
    logp = logits.float().reshape(B, K, -1).log_softmax(-1)
    kl = (target.exp() * (target - logp)).sum(-1)
    c = keypoints[..., 2].float()
    return (kl * c).sum() / c.sum().clamp_min(1)


def surface_targets(rest_vertices: torch.Tensor) -> torch.Tensor:
    """(V, 3) rest template (metres) -> (V, 3) its points centred on their bounding box and divided by
    half its height: the surface head's targets, about unit range."""
    lo, hi = rest_vertices.amin(0), rest_vertices.amax(0)
    return (rest_vertices - 0.5 * (lo + hi)) / (0.5 * (hi[1] - lo[1])).clamp_min(1e-6)


def surface_loss(
    maps: torch.Tensor,
    dense_xy: torch.Tensor,
    dense_vertex: torch.Tensor,
    dense_w: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """(B, 3, h, w) surface maps read bilinearly at the annotated points ``dense_xy`` (B, P, 2, the
    crop's normalised frame) against ``targets[dense_vertex]`` ((V, 3) from ``surface_targets``;
    ``dense_vertex`` (B, P)): smooth-L1 (beta 0.05) summed over x, y, z, averaged with weights
    ``dense_w`` (B, P)."""
    if maps.dim() != 4 or maps.shape[1] != 3:
        raise ValueError(f"surface_loss: maps expected (B, 3, h, w), got {tuple(maps.shape)}")
    grid = (2 * dense_xy.float())[:, :, None, :]  # x/S - 1/2 in [-1/2, 1/2] -> grid_sample's [-1, 1]
    pred = F.grid_sample(maps.float(), grid, mode="bilinear", align_corners=False)[..., 0].transpose(1, 2)
    e = F.smooth_l1_loss(pred, targets[dense_vertex].float(), beta=0.05, reduction="none").sum(-1)
    return (e * dense_w).sum() / dense_w.sum().clamp_min(1)


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
