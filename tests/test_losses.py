"""Loss terms: known values, zero at the optimum, gradients (float64 gradcheck)."""

import math

import numpy as np
import pytest
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
    assert torch.allclose(
        L.part_dense_loss(cand, cand_part, tgt, torch.tensor([[1]]), torch.ones(1, 1)), torch.tensor([81.0])
    )
    assert torch.allclose(
        L.part_dense_loss(cand, cand_part, tgt, torch.tensor([[2]]), torch.ones(1, 1)), torch.tensor([1.0])
    )


def test_determinant_loss_has_a_gradient_at_a_reflection():
    exact = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)).reshape(1, 9)
    assert torch.allclose(L.determinant_loss(exact), torch.tensor([4.0], dtype=torch.float64))
    # a generic left-handed matrix (an exact reflection is the loss's maximum, a saddle)
    refl = (
        exact.reshape(3, 3) + 0.2 * torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ).reshape(1, 9)
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


def test_robust_silhouette_caps_what_an_occluder_hides():
    """With the Geman-McClure kernel a point far outside the mask (behind an occluder) costs at
    most sigma^2 and pulls less than a point just outside; squares pull it hardest."""
    dist = torch.linspace(0, 1, 64).expand(1, 1, 8, 64).contiguous()  # distance grows to the right
    near = torch.tensor([[[-0.8, 0.0]]], requires_grad=True)
    far = torch.tensor([[[0.9, 0.0]]], requires_grad=True)
    g = lambda p, s: torch.autograd.grad(L.silhouette_loss(p, dist, robust_sigma=s).sum(), p)[0][..., 0].abs().item()  # noqa: E731
    assert float(L.silhouette_loss(far.detach(), dist, robust_sigma=0.05)) <= 0.05**2
    assert g(far, 0.05) < g(near, 0.05) and g(far, None) > g(near, None)


def test_coverage_loss_wants_the_mask_covered_not_the_body_inside():
    """Zero when every mask pixel has a surface point on it; positive when half the mask is
    uncovered; unchanged by extra surface points outside the mask (what an occluder hides);
    finite gradients where points coincide; padding (weight 0) ignored."""
    g = (
        torch.stack(torch.meshgrid(torch.linspace(0, 1, 6), torch.linspace(0, 1, 6), indexing="ij"), -1)
        .reshape(1, -1, 2)
        .double()
    )
    w = torch.ones(1, g.shape[1], dtype=torch.float64)
    assert float(L.coverage_loss(g, g, w)) == 0
    half = g[:, g[0, :, 0] < 0.5]
    assert float(L.coverage_loss(half, g, w)) > 0.01
    extra = torch.cat([g, g + 5.0], 1)  # the same body plus points far outside the mask
    assert float(L.coverage_loss(extra, g, w)) == 0
    p = g.clone().requires_grad_(True)
    (gr,) = torch.autograd.grad(L.coverage_loss(p, g, w, 0.1), p)
    assert torch.isfinite(gr).all()
    pad = torch.cat([g, torch.full((1, 1, 2), 9.0, dtype=torch.float64)], 1)
    assert float(L.coverage_loss(g, pad, torch.cat([w, torch.zeros(1, 1, dtype=torch.float64)], 1))) == 0


def test_vertex_areas_against_trimesh(body):
    import trimesh

    from dalnb.mesh_io import vertex_areas

    v, f = body.data.vertices, body.data.faces
    a = vertex_areas(v, f)
    m = trimesh.Trimesh(v, f, process=False)
    ref = np.zeros(len(v))
    np.add.at(ref, f.ravel(), np.repeat(m.area_faces / 3, 3))
    assert np.allclose(a, ref) and np.isclose(a.sum(), m.area)
    with pytest.raises(ValueError, match="expected"):
        vertex_areas(v[:, :2], f)


def test_mirror_vertex_map_of_the_template(body):
    """The template is left/right symmetric: each vertex's mirror image is a vertex (to 0.1 mm),
    the map is an involution that swaps the left and right segments; an asymmetric mesh is refused."""
    from dalnb.body import skeleton as sk
    from dalnb.mesh_io import mirror_vertex_map

    v = body.data.vertices
    m = mirror_vertex_map(v)
    assert np.array_equal(m[m], np.arange(len(v)))
    assert np.abs(v[m] * [-1, 1, 1] - v).max() < 1e-4
    seg = body.data.skin_weights.argmax(1)
    assert np.array_equal(np.asarray(sk.mirror_index())[seg], seg[m])
    with pytest.raises(ValueError, match="symmetric"):
        mirror_vertex_map(v + np.array([0.01, 0, 0]) * (v[:, :1] > 0))


def test_nearest_points_against_scipy():
    from scipy.spatial import cKDTree

    g = torch.Generator().manual_seed(0)
    q, p = (
        torch.rand(3, 40, 2, generator=g, dtype=torch.float64),
        torch.rand(3, 70, 2, generator=g, dtype=torch.float64),
    )
    near = L.nearest_points(q, p)
    for b in range(3):
        assert np.array_equal(near[b].numpy(), cKDTree(p[b].numpy()).query(q[b].numpy())[1])
    # given the nearest samples, the coverage loss is the one it computes itself
    w = torch.ones(3, 40, dtype=torch.float64)
    assert torch.equal(L.coverage_loss(p, q, w, 0.1, near), L.coverage_loss(p, q, w, 0.1))


def test_untilted_removes_the_weighted_plane_as_lstsq_does():
    """``untilted`` is the residual of numpy's weighted least squares of r on [x, y, 1]; a tilt (a plane in
    x, y) added to the residual leaves it unchanged, and weight-0 keypoints do not move the plane."""
    g = np.random.default_rng(0)
    xy, r = g.normal(size=(2, 17, 2)), g.normal(size=(2, 17))
    w = (g.random((2, 17)) > 0.2) * g.uniform(0.5, 1.5, (2, 17))
    out = L.untilted(torch.tensor(r), torch.tensor(xy), torch.tensor(w), ridge=0.0).numpy()
    for i in range(2):
        A = np.c_[xy[i], np.ones(17)] * np.sqrt(w[i])[:, None]
        coef = np.linalg.lstsq(A, r[i] * np.sqrt(w[i]), rcond=None)[0]
        np.testing.assert_allclose(out[i], r[i] - np.c_[xy[i], np.ones(17)] @ coef, atol=1e-9)
    tilted = r + 0.7 * xy[..., 0] - 1.3 * xy[..., 1] + 0.2
    np.testing.assert_allclose(
        L.untilted(torch.tensor(tilted), torch.tensor(xy), torch.tensor(w)).numpy(), out, atol=1e-5
    )
    r2 = r.copy()
    r2[w == 0] += 5.0  # what a missing keypoint holds changes its own entry only
    out2 = L.untilted(torch.tensor(r2), torch.tensor(xy), torch.tensor(w), ridge=0.0).numpy()
    np.testing.assert_allclose(out2[w > 0], out[w > 0], atol=1e-9)
