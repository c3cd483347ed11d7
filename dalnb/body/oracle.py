"""Compare our body model with anny's own forward pass (explained in notebook 01).

anny's "world-orient" pose parameterisation takes each bone's world orientation, its head
following its parent. Giving every bone of a segment our segment's world rotation (times its
rest orientation) makes anny apply exactly our segment transforms, so with unit scales our
vertices must equal anny's through ``source_vertex_ids``. Toes and fingers start at several
knuckles in anny but at one rotation centre in ours, so the oracle pose keeps them rigid to
their parent.
"""

from __future__ import annotations

import torch

from dalnb.body import skeleton as sk
from dalnb.body.template import ANNY_TO_TEMPLATE

__all__ = ["oracle_pose", "anny_vertices_for", "compare_with_anny"]

MULTI_ROOT = ("left_foot", "right_foot", "left_hand", "right_hand")


def oracle_pose(batch: int = 1, scale: float = 0.5, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """(B, 24, 3) random axis-angle pose with the multi-knuckle segments at zero."""
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(batch, 24, 3, generator=g, dtype=dtype) * scale
    for n in MULTI_ROOT:
        pose[:, sk.joint_index(n)] = 0
    return pose


def anny_vertices_for(
    anny_model, body, world_rotations: torch.Tensor, phenotype_kwargs: dict | None = None
) -> torch.Tensor:
    """anny's vertices (B, Va, 3), in our frame, for our (B, 24, 3, 3) world rotations, of
    anny's default body or of the bodies ``phenotype_kwargs`` describe (values (B,))."""
    C = torch.as_tensor(ANNY_TO_TEMPLATE, dtype=anny_model.dtype)
    seg = torch.as_tensor(body.data.anny_bone_segment)
    Rw = world_rotations.to(anny_model.dtype)
    B, nb = Rw.shape[0], len(seg)
    with torch.no_grad():
        rest = anny_model(None, phenotype_kwargs=phenotype_kwargs)["rest_bone_poses"]
    rest = rest.expand(B, -1, -1, -1)
    D = torch.eye(4, dtype=anny_model.dtype).repeat(B, nb, 1, 1)
    D[:, :, :3, :3] = C.T @ Rw[:, seg] @ C @ rest[:, :, :3, :3]
    D[:, :, :3, 3] = rest[:, :, :3, 3]
    with torch.no_grad():
        va = anny_model(D, phenotype_kwargs=phenotype_kwargs, pose_parameterization="world-orient")["vertices"]
    return va @ C.T


def compare_with_anny(anny_model, body, pose: torch.Tensor) -> torch.Tensor:
    """(B,) max vertex distance in metres between our posed body and anny's."""
    with torch.no_grad():
        out = body(pose.to(body.v_template.dtype))
    theirs = anny_vertices_for(anny_model, body, out.world_rotations)[:, torch.as_tensor(body.source_vertex_ids)]
    return (out.vertices.to(theirs.dtype) - theirs).norm(dim=-1).amax(dim=1)
