"""The lifter's geometric losses, with no 3D label: bone symmetry (left and right limbs equal),
bone ratios against the open template's, and an anatomical orientation prior; and the rotation
about the vertical axis that makes the multi-view projections.
"""

from __future__ import annotations

import numpy as np
import torch

from dalnb.body import skeleton as sk
from dalnb.lifter.joints import BONES, HIPS, SHOULDERS, SYMMETRIC


def rotate_y(p: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """(B, 17, 3) about the vertical (image y) axis by (B,) radians."""
    c, s = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    return torch.stack([c * x + s * z, y, -s * x + c * z], -1)


def renorm(xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
    ears = [sk.COCO17.index("left_ear"), sk.COCO17.index("right_ear")]
    face_ok = mask[:, sk.COCO17.index("nose")] * mask[:, ears].prod(1)
    loss = torch.relu(-((p[:, sk.COCO17.index("nose")] - p[:, ears].mean(1)) * f).sum(-1)) * face_ok
    for hip, knee, ankle in (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle")):
        ok = mask[:, [sk.COCO17.index(hip), sk.COCO17.index(knee), sk.COCO17.index(ankle)]].prod(1)
        mid = 0.5 * (p[:, sk.COCO17.index(hip)] + p[:, sk.COCO17.index(ankle)])
        loss = loss + 0.5 * torch.relu(-((p[:, sk.COCO17.index(knee)] - mid) * f).sum(-1)) * ok
    return loss


def template_ratios(body=None) -> np.ndarray:
    """Bone / trunk ratios of the open template's COCO keypoints (the 'average skeleton')."""
    from dalnb.body.model import BodyModel

    body = body or BodyModel.default()
    kp = body.keypoints(body.v_template[None], "coco17").double()
    L = bone_lengths(kp)[0]
    return (L / (0.5 * (L[8] + L[9]))).numpy()


def template_torso_m(body=None) -> float:
    from dalnb.body.model import BodyModel

    body = body or BodyModel.default()
    kp = body.keypoints(body.v_template[None], "coco17")[0].double()
    return float((kp[SHOULDERS].mean(0) - kp[HIPS].mean(0)).norm())
