"""Augmentation of a training batch, annotations and targets alike.

* ``Mirror``: the image flipped left to right (``mirror_params``: the same body mirrored).
* ``Turn``: each image turned about the crop's centre by an angle and scaled by a factor. For the body
  this is the camera rolled about its axis and moved nearer or further: the global rotation becomes
  Rz R (turning about the template's root joint, as the body model's global rotation does), the
  weak-perspective scale is multiplied by the factor and the crop-centred translation turns and
  scales with the image. Joint rotations and segment scales do not change. Annotations that leave
  the crop lose their weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dalnb.body import skeleton as sk
from dalnb.mesh_io import mirror_vertex_map
from dalnb.regressor import Prediction

__all__ = ["mirror_params", "Mirror", "turn_matrix", "Turn"]


def mirror_params(params: torch.Tensor) -> torch.Tensor:
    """(B, D) parameters -> those of the same body mirrored in the image (x -> -x), with
    M = diag(-1, 1, 1): each joint takes its mirror joint's rotation M R M (quaternion
    (x, y, z, w) -> (x, -y, -z, w)) and segment scales, the global rotation becomes M R M and the
    camera's tx (crop-centred) changes sign. Exact for a template symmetric about x = 0."""
    p = Prediction.from_flat(params)
    jm = torch.as_tensor(sk.mirror_index(), device=params.device)
    flip = torch.tensor([1.0, -1.0, -1.0, 1.0], device=params.device, dtype=params.dtype)
    quat = p.quat[:, jm[1:] - 1] * flip
    M = torch.diag(torch.tensor([-1.0, 1.0, 1.0], device=params.device, dtype=params.dtype))
    rot9 = (M @ p.rot9.reshape(-1, 3, 3) @ M).reshape(-1, 9)
    cam = p.camera * torch.tensor([1.0, -1.0, 1.0], device=params.device, dtype=params.dtype)
    return Prediction(quat, p.log_scales[:, jm], rot9, cam).flat()


@dataclass
class Mirror:
    """What mirroring a training batch needs: the template's vertex map and the COCO-17 swap."""

    vertex_map: torch.Tensor  # (V,)
    keypoint_map: torch.Tensor  # (17,)

    @classmethod
    def of(cls, body) -> Mirror:
        return cls(torch.as_tensor(mirror_vertex_map(body.data.vertices)), torch.as_tensor(sk.mirror_index(sk.COCO17)))

    def batch(
        self,
        images: torch.Tensor,
        target: torch.Tensor | None,
        dense_vertex: torch.Tensor,
        dense_xy: torch.Tensor,
        keypoints: torch.Tensor,
        which: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mirror the samples where ``which`` (B,) is true: images (B, C, S, S) flipped left to
        right, targets by ``mirror_params``, dense points (crop-normalised xy, centred) x -> -x on
        the mirror vertex, keypoints (B, 17, 3) x -> -x with left and right swapped."""
        w = which.to(images.device)
        images = torch.where(w[:, None, None, None], images.flip(-1), images)
        if target is not None:
            target = torch.where(w[:, None], mirror_params(target), target)
        sign = torch.tensor([-1.0, 1.0], device=dense_xy.device, dtype=dense_xy.dtype)
        dense_vertex = torch.where(w[:, None], self.vertex_map.to(dense_vertex.device)[dense_vertex], dense_vertex)
        dense_xy = torch.where(w[:, None, None], dense_xy * sign, dense_xy)
        kp_m = keypoints[:, self.keypoint_map.to(keypoints.device)] * torch.tensor(
            [-1.0, 1.0, 1.0], device=keypoints.device, dtype=keypoints.dtype
        )
        keypoints = torch.where(w[:, None, None], kp_m, keypoints)
        return images, target, dense_vertex, dense_xy, keypoints


def turn_matrix(angle: torch.Tensor) -> torch.Tensor:
    """(B,) radians -> (B, 3, 3) rotations about the view axis, turning the image plane's x (right)
    towards y (down): an image turned by ``angle`` on screen."""
    c, s = angle.cos(), angle.sin()
    z, o = torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(-1, 3, 3)


@dataclass
class Turn:
    """Draws and applies the augmentation: angles uniform in +-``max_deg`` degrees, scales uniform in
    1 +- ``scale``; ``root`` (3,) the template's root joint, about which the global rotation turns."""

    max_deg: float
    scale: float
    root: torch.Tensor

    @classmethod
    def of(cls, max_deg: float, scale: float, body) -> Turn | None:
        """The augmentation for ``body``'s template, or None when both ranges are 0 (off)."""
        return cls(max_deg, scale, body.j_template[0].detach().cpu()) if max_deg or scale else None

    def draw(self, shape: tuple[int, ...], g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(angles in radians, scale factors), each of ``shape``, from generator ``g``."""
        angle = (2 * torch.rand(shape, generator=g) - 1) * torch.deg2rad(torch.tensor(self.max_deg))
        return angle, 1 + (2 * torch.rand(shape, generator=g) - 1) * self.scale

    def batch(
        self,
        images: torch.Tensor,
        target: torch.Tensor | None,
        dense_xy: torch.Tensor,
        dense_w: torch.Tensor,
        keypoints: torch.Tensor,
        angle: torch.Tensor,
        factor: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (B, C, S, S), targets (B, D) or None, dense points (B, P, 2) and their weights (B, P),
        keypoints (B, 17, 3) (all in the crop's centred normalised frame) -> the same turned by
        ``angle`` (B,) and scaled by ``factor`` (B,) about the crop's centre."""
        dev = images.device
        angle, factor = angle.to(dev, torch.float32), factor.to(dev, torch.float32)
        R = turn_matrix(angle)
        A = factor[:, None, None] * R[:, :2, :2]  # (B, 2, 2): u' = A u
        # grid_sample reads each output pixel at A^-1 u'; its [-1, 1] frame is twice ours, a linear map alike
        inv = R[:, :2, :2].transpose(1, 2) / factor[:, None, None]  # A^-1: a turn back, a scale back
        theta = torch.cat([inv, torch.zeros_like(inv[:, :, :1])], 2)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        dense_xy = dense_xy @ A.transpose(1, 2)
        dense_w = dense_w * (dense_xy.abs() <= 0.5).all(-1)
        xy = keypoints[..., :2] @ A.transpose(1, 2)
        seen = keypoints[..., 2] * (xy.abs() <= 0.5).all(-1)
        keypoints = torch.cat([xy, seen[..., None]], -1)
        if target is not None:
            target = self.params(target, R, factor)
        return images, target, dense_xy, dense_w, keypoints

    def params(self, target: torch.Tensor, R: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        """(B, D) parameters of a body -> those of the same body seen by the rolled, scaled camera."""
        p = Prediction.from_flat(target)
        j0 = self.root.to(target)
        s = p.camera[:, 0].exp()
        shift = ((R @ j0) - j0)[:, :2]  # the root stays where the turn about it leaves it
        t = factor[:, None] * ((R[:, :2, :2] @ p.camera[:, 1:, None])[..., 0] + s[:, None] * shift)
        cam = torch.cat([p.camera[:, :1] + factor.log()[:, None], t], 1)
        rot9 = (R @ p.rot9.reshape(-1, 3, 3)).reshape(-1, 9)
        return Prediction(p.quat, p.log_scales, rot9, cam).flat()
