"""Loss terms: known values, zero at the optimum, gradients (float64 gradcheck)."""
import math

import torch

from dalnb import losses as L


def test_dense_and_keypoint_known_values():
    proj = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [9.0, 9.0]]])
    tgt = torch.zeros(1, 3, 2)
    w = torch.tensor([[1.0, 1.0, 0.0]])  # the third point is padding
    assert torch.allclose(L.dense_loss(proj, tgt, w), torch.tensor([12.5]))
    kp = torch.cat([tgt, torch.tensor([[[1.0], [0.0], [1.0]]])], -1)
    assert torch.allclose(L.keypoint_loss(proj, kp), torch.tensor([(0 + 162) / 2.0]))


def test_robust_kernel_bounds_outliers():
    sq = torch.tensor([0.0, 1.0, 1e6])
    r = L.robust(sq, 1.0)
    assert r[0] == 0 and math.isclose(float(r[1]), 0.5) and float(r[2]) < 1.0
    assert torch.equal(L.robust(sq, None), sq)


def test_part_dense_uses_nearest_vertex_of_same_part():
    cand = torch.tensor([[[0.0, 0.0], [10.0, 0.0]]])
    cand_part = torch.tensor([1, 2])
    tgt = torch.tensor([[[9.0, 0.0]]])
    assert torch.allclose(L.part_dense_loss(cand, cand_part, tgt, torch.tensor([[1]]), torch.ones(1, 1)), torch.tensor([81.0]))
    assert torch.allclose(L.part_dense_loss(cand, cand_part, tgt, torch.tensor([[2]]), torch.ones(1, 1)), torch.tensor([1.0]))


def test_determinant_loss_has_a_gradient_at_a_reflection():
    exact = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)).reshape(1, 9)
    assert torch.allclose(L.determinant_loss(exact), torch.tensor([4.0], dtype=torch.float64))
    # a generic left-handed matrix (an exact reflection is the loss's maximum, a saddle)
    refl = (exact.reshape(3, 3) + 0.2 * torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))).reshape(1, 9)
    assert torch.linalg.det(refl.reshape(3, 3)) < 0
    refl.requires_grad_()
    L.determinant_loss(refl).sum().backward()
    assert refl.grad.abs().sum() > 0.1
    rotn = torch.eye(3, dtype=torch.float64).reshape(1, 9)
    assert torch.allclose(L.determinant_loss(rotn), torch.zeros(1, dtype=torch.float64))


def test_limits_zero_inside_and_grow_outside():
    lo, hi = -torch.ones(2, 3), torch.ones(2, 3)
    inside = torch.zeros(1, 2, 3)
    assert float(L.joint_limit_loss(inside, lo, hi)) == 0
    out1 = torch.zeros(1, 2, 3)
    out1[0, 0, 0] = 1.1
    out2 = out1.clone()
    out2[0, 0, 0] = 1.3
    assert 0 < float(L.joint_limit_loss(out1, lo, hi)) < float(L.joint_limit_loss(out2, lo, hi))


def test_scale_terms_and_gradcheck():
    parents = torch.tensor([-1, 0, 1])
    same = torch.full((1, 3, 2), 0.3, dtype=torch.float64)
    assert float(L.scale_smoothness_loss(same, parents)) == 0
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: L.scale_smoothness_loss(a, parents), (x,))
    p = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    t = torch.randn(2, 5, 2, dtype=torch.float64)
    w = torch.rand(2, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: L.dense_loss(a, t, w, 0.5), (p,))


def test_silhouette_zero_inside_mask():
    dist = torch.zeros(1, 1, 8, 8)
    dist[..., :, 4:] = 1.0  # right half is outside
    inside = torch.tensor([[[-0.5, 0.0]]])
    outside = torch.tensor([[[0.7, 0.0]]])
    assert float(L.silhouette_loss(inside, dist)) == 0 and float(L.silhouette_loss(outside, dist)) > 0.5
