"""Linear blend skinning with affine per-segment transforms (pure functions).

    x'_v = sum_s w_vs (A_s x_v + b_s)

The blended transform of each vertex is one (B, V, S) x (B, S, 12) matrix product; the subset
path gathers only the vertices asked for (registration skins only the corresponded vertices,
which is its main speed lever).

For a fixed vertex subset the blend is linear in the transforms, so registration precomputes a
*skin basis* once, U_v = w_v (x) [x_v, 1] (S * 4 numbers per vertex), and each iteration is one
matrix product X = U M with M the (4 S, 3) stack of [A_s^T; b_s^T]: no gathering of weights, no
per-vertex 3x3 products inside the loop.
"""

from __future__ import annotations

import torch

__all__ = ["blend_skin", "blend_skin_subset", "skin_basis", "transform_stack", "skin_with_basis", "pose_points"]


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


def skin_basis(vertices: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(..., P, 3) rest vertices, (..., P, S) their weights -> (..., P, 4 S) basis U with
    U[p, 4 s + j] = w_ps [x_p, 1]_j."""
    h = torch.cat([vertices, torch.ones_like(vertices[..., :1])], -1)  # (..., P, 4)
    return (weights[..., :, None] * h[..., None, :]).flatten(-2)


def transform_stack(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, S, 3, 3) A, (B, S, 3) b -> (B, 4 S, 3) M = [A_s^T; b_s^T] stacked over segments."""
    return torch.cat([A.transpose(-1, -2), b[..., None, :]], -2).flatten(-3, -2)


def skin_with_basis(basis: torch.Tensor, A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(P, 4 S) shared or (B, P, 4 S) per-sample basis, transforms -> (B, P, 3) posed points."""
    return pose_points(basis, transform_stack(A, b))


def pose_points(basis: torch.Tensor, M: torch.Tensor, basis_t: torch.Tensor | None = None) -> torch.Tensor:
    """X = U M, laid out for speed: (P, 4 S) shared or (B, P, 4 S) per-sample basis and
    (B, 4 S, 3) transforms -> (B, P, 3). ``basis_t``: the per-sample basis transposed,
    (B, 4 S, P) contiguous, when the caller keeps it (registration does).

    Shared: one (P, 4S) x (4S, 3B) product for the whole batch. Per-sample: computed as
    M^T U^T and its gradient as g^T U, products with wide outputs; U M's three output columns
    run 2-3x slower on CPU, and autograd's own backward of the transposed form falls back to a
    loop over the batch."""
    B = M.shape[0]
    if basis.dim() == 2:
        return (basis @ M.permute(1, 0, 2).reshape(M.shape[1], B * 3)).reshape(basis.shape[0], B, 3).transpose(0, 1)
    return _BasisProduct.apply(M, basis, basis.mT.contiguous() if basis_t is None else basis_t)


class _BasisProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, M, basis, basis_t):
        ctx.save_for_backward(basis)
        return torch.bmm(M.mT.contiguous(), basis_t).mT

    @staticmethod
    def backward(ctx, grad):
        (basis,) = ctx.saved_tensors
        return torch.bmm(grad.mT.contiguous(), basis).mT, None, None
