"""Forward kinematics and segment scales as pure functions (explained in notebook 01).

Letters: B batch, S segments (= joints, 24), V vertices.

Segment scales. Each segment s has a length scale l_s and a girth scale g_s. In the rest pose
the segment is stretched about its proximal joint J_s by

    M_s = g_s I + (l_s - g_s) d_s d_s^T          (d_s: the segment's unit long axis)

i.e. by l_s along the bone and g_s across it. Children are carried along: a child joint moves
with its parent's stretch, J'_c = J'_p + M_p (J_c - J_p), so scaling the upper arm by 1.1 makes
the upper arm 10 % longer and moves the forearm and hand down with it, unscaled. A scalar
scale per segment means l_s = g_s (isotropic).

Pose. Each joint's rotation R_s is relative to its parent, in world-aligned axes of the rest
pose (SMPL convention); the root's is the global orientation. World rotations and joint
positions follow the chain G_s = G_p [R_s | J'_s - J'_p], computed one tree level at a time
(``TreePlan``: the joints sorted by depth, so each level is a slice and reads its parents from
the level before; 9 levels for 24 joints, no scattered writes, which keeps the op count, and
with it the registration loop's per-iteration overhead, low).

Skinning transform of segment s (rest -> posed, scale included): x -> A_s x + b_s with
A_s = Rw_s M_s and b_s = t_s - A_s J_s, t_s the posed joint position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "TreePlan",
    "tree_plan",
    "tree_levels",
    "scale_matrices",
    "scaled_rest_joints",
    "forward_kinematics",
    "forward_kinematics_loop",
    "skin_transforms",
]


def tree_levels(parents: Sequence[int]) -> list[torch.Tensor]:
    """Joint indices grouped by depth (root level first); parents must precede children."""
    depth: list[int] = []
    for j, p in enumerate(parents):
        if p >= j:
            raise ValueError(f"parents must precede children; joint {j} has parent {p}")
        depth.append(0 if p < 0 else depth[p] + 1)
    return [torch.tensor([j for j, d in enumerate(depth) if d == k]) for k in range(max(depth) + 1)]


def scale_matrices(scales: torch.Tensor, axes: torch.Tensor) -> torch.Tensor:
    """(B, S, 2) [length, girth] scales and (S, 3) unit axes -> (B, S, 3, 3) stretch matrices."""
    length, girth = scales[..., 0], scales[..., 1]
    ddT = axes[:, :, None] * axes[:, None, :]  # (S, 3, 3)
    eye = torch.eye(3, dtype=scales.dtype, device=scales.device)
    return girth[..., None, None] * eye + (length - girth)[..., None, None] * ddT


@dataclass(frozen=True)
class TreePlan:
    """The kinematic tree sorted by depth: ``order`` (S,) joints root level first, ``inverse``
    (S,) each joint's position in ``order``, ``spans`` each level's [start, end) in ``order``,
    ``parent_pos`` per level after the root's, each joint's parent as a position within the
    previous level's span, ``parents_safe`` (S,) parents with the root pointing at itself."""

    order: torch.Tensor
    inverse: torch.Tensor
    spans: tuple[tuple[int, int], ...]
    parent_pos: tuple[torch.Tensor, ...]
    parents_safe: torch.Tensor


def tree_plan(parents: Sequence[int]) -> TreePlan:
    levels = tree_levels(parents)
    order = torch.cat(levels)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    spans, start = [], 0
    for lv in levels:
        spans.append((start, start + len(lv)))
        start += len(lv)
    parent_pos = []
    for k in range(1, len(levels)):
        prev = levels[k - 1].tolist()
        parent_pos.append(torch.tensor([prev.index(parents[int(j)]) for j in levels[k]]))
    safe = torch.tensor([j if p < 0 else p for j, p in enumerate(parents)])
    return TreePlan(order, inverse, tuple(spans), tuple(parent_pos), safe)


def _plan(parents: Sequence[int], plan: TreePlan | None) -> TreePlan:
    return plan if plan is not None else tree_plan(parents)


def scaled_rest_joints(
    joints: torch.Tensor, parents: Sequence[int], stretch: torch.Tensor, plan: TreePlan | None = None
) -> torch.Tensor:
    """(S, 3) rest joints, (B, S, 3, 3) stretches -> (B, S, 3) scaled rest joints J'."""
    plan = _plan(parents, plan)
    B = stretch.shape[0]
    rel = (joints - joints[plan.parents_safe])[plan.order]  # (S, 3) bone vectors, level order
    M = stretch[:, plan.order]
    s0, e0 = plan.spans[0]
    outs = [joints[plan.order[s0:e0]].expand(B, -1, -1)]
    prev = (s0, e0)
    for (s, e), pp in zip(plan.spans[1:], plan.parent_pos):
        Mp = M[:, prev[0] : prev[1]][:, pp]  # (B, n, 3, 3)
        outs.append(outs[-1][:, pp] + (Mp @ rel[s:e, :, None])[..., 0])
        prev = (s, e)
    return torch.cat(outs, 1)[:, plan.inverse]


def forward_kinematics(
    rotations: torch.Tensor, joints: torch.Tensor, parents: Sequence[int], plan: TreePlan | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Level-batched FK.

    Args:
        rotations: (B, S, 3, 3) local rotations (root first = global orientation).
        joints: (B, S, 3) rest joint positions (scaled).
    Returns:
        world rotations (B, S, 3, 3) and posed joint positions (B, S, 3); the root stays at
        its rest position.
    """
    plan = _plan(parents, plan)
    R = rotations[:, plan.order]
    bone = (joints - joints[:, plan.parents_safe])[:, plan.order]  # (B, S, 3), level order
    s0, e0 = plan.spans[0]
    Rs, ts = [R[:, s0:e0]], [joints[:, plan.order[s0:e0]]]
    for (s, e), pp in zip(plan.spans[1:], plan.parent_pos):
        Rp = Rs[-1][:, pp]  # (B, n, 3, 3)
        Rs.append(Rp @ R[:, s:e])
        ts.append(ts[-1][:, pp] + (Rp @ bone[:, s:e, :, None])[..., 0])
    return torch.cat(Rs, 1)[:, plan.inverse], torch.cat(ts, 1)[:, plan.inverse]


def forward_kinematics_loop(rotations, joints, parents):
    """Plain per-joint loop; the reference the level-batched version is tested against."""
    Rw, t = [], []
    for j, p in enumerate(parents):
        if p < 0:
            Rw.append(rotations[:, j])
            t.append(joints[:, j])
        else:
            Rw.append(Rw[p] @ rotations[:, j])
            t.append(t[p] + (Rw[p] @ (joints[:, j] - joints[:, p])[..., None])[..., 0])
    return torch.stack(Rw, 1), torch.stack(t, 1)


def skin_transforms(
    world_rotations: torch.Tensor, posed_joints: torch.Tensor, stretch: torch.Tensor, rest_joints: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,S,3,3) Rw, (B,S,3) t, (B,S,3,3) M, (S,3) unscaled rest joints -> A (B,S,3,3), b (B,S,3)."""
    A = world_rotations @ stretch
    b = posed_joints - torch.einsum("bsij,sj->bsi", A, rest_joints)
    return A, b
