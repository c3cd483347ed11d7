"""Linear blend skinning with affine per-segment transforms (pure functions).

    x'_v = sum_s w_vs (A_s x_v + b_s)

The blended transform of each vertex is one (B, V, S) x (B, S, 12) matrix product; the subset
path gathers only the vertices asked for (registration skins only the corresponded vertices,
which is its main speed lever).
"""
from __future__ import annotations

import torch

__all__ = ["blend_skin", "blend_skin_subset"]


def blend_skin(vertices: torch.Tensor, weights: torch.Tensor, A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(V, 3) rest vertices, (V, S) weights, (B, S, 3, 3) A, (B, S, 3) b -> (B, V, 3)."""
    B, S = A.shape[:2]
    Ab = torch.cat([A.reshape(B, S, 9), b], dim=-1)  # (B, S, 12)
    T = torch.matmul(weights, Ab)  # (B, V, 12)
    TA = T[..., :9].reshape(B, -1, 3, 3)
    return torch.einsum("bvij,vj->bvi", TA, vertices) + T[..., 9:]


def blend_skin_subset(
    vertices: torch.Tensor, weights: torch.Tensor, A: torch.Tensor, b: torch.Tensor, vertex_ids: torch.Tensor
) -> torch.Tensor:
    """Skin only ``vertex_ids``: (P,) shared by the batch or (B, P) per sample -> (B, P, 3)."""
    B, S = A.shape[:2]
    Ab = torch.cat([A.reshape(B, S, 9), b], dim=-1)
    if vertex_ids.dim() == 1:
        return blend_skin(vertices[vertex_ids], weights[vertex_ids], A, b)
    w = weights[vertex_ids]  # (B, P, S)
    v = vertices[vertex_ids]  # (B, P, 3)
    T = torch.bmm(w, Ab)  # (B, P, 12)
    TA = T[..., :9].reshape(B, -1, 3, 3)
    return (TA @ v[..., None])[..., 0] + T[..., 9:]
