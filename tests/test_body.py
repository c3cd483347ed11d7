import numpy as np
import pytest
import torch

from dalnb.body import kinematics as kin
from dalnb.body import skeleton as sk


def test_public_api(body):
    assert len(body.joint_names) == 24 and body.joint_names[0] == "pelvis"
    assert body.faces.dtype == torch.int64 and body.faces.shape[1] == 3
    assert body.source_vertex_ids.shape == (body.num_vertices,)
    assert 12000 < body.num_vertices <= 13718
    out = body(torch.zeros(2, 24, 3))
    assert out.vertices.shape == (2, body.num_vertices, 3) and out.joints.shape == (2, 24, 3)


def test_rest_pose_is_template(body):
    out = body(body.rest_pose(3), segment_scales=torch.ones(3, 24, 2))
    assert torch.allclose(out.vertices, body.v_template.expand(3, -1, -1), atol=1e-6)
    assert torch.allclose(out.joints, body.j_template.expand(3, -1, -1), atol=1e-6)


def test_template_is_one_closed_skin_without_internal_geometry(body):
    import trimesh

    m = trimesh.Trimesh(body.v_template.numpy(), body.faces.numpy(), process=False)
    assert len(m.split(only_watertight=False)) == 1
    height = np.ptp(body.v_template[:, 1].numpy())
    assert 1.4 < height < 2.0


def test_fast_fk_equals_loop(body64):
    torch.manual_seed(0)
    R = kin.scale_matrices(torch.ones(5, 24, 2, dtype=torch.float64), body64.axes)
    J = kin.scaled_rest_joints(body64.j_template, body64.parents, R * 1.1)
    rots = body64.pose_to_matrices(torch.randn(5, 24, 3, dtype=torch.float64))
    Rw, t = kin.forward_kinematics(rots, J, body64.parents)
    Rw2, t2 = kin.forward_kinematics_loop(rots, J, body64.parents)
    assert torch.allclose(Rw, Rw2) and torch.allclose(t, t2)


def test_batch_equals_one_by_one(body):
    torch.manual_seed(0)
    pose, sc = torch.randn(4, 24, 3) * 0.4, torch.rand(4, 24, 2) * 0.4 + 0.8
    out = body(pose, segment_scales=sc)
    for i in range(4):
        one = body(pose[i : i + 1], segment_scales=sc[i : i + 1])
        assert torch.allclose(out.vertices[i], one.vertices[0], atol=1e-5)


def test_subset_equals_full(body):
    torch.manual_seed(0)
    pose, sc = torch.randn(3, 24, 3) * 0.4, torch.rand(3, 24, 2) * 0.4 + 0.8
    full = body(pose, segment_scales=sc).vertices
    ids = torch.randint(0, body.num_vertices, (3, 300))
    sub = body(pose, segment_scales=sc, vertex_ids=ids).vertices
    assert torch.allclose(sub, torch.gather(full, 1, ids[..., None].expand(-1, -1, 3)), atol=1e-5)
    shared = body(pose, segment_scales=sc, vertex_ids=ids[0]).vertices
    assert torch.allclose(shared, full[:, ids[0]], atol=1e-5)


def test_gradcheck_skinning_float64(body64):
    ids = torch.arange(0, body64.num_vertices, 997)
    pose = (torch.randn(1, 24, 3, dtype=torch.float64) * 0.3).requires_grad_()
    sc = (torch.rand(1, 24, 2, dtype=torch.float64) * 0.3 + 0.85).requires_grad_()
    rotn = torch.randn(1, 9, dtype=torch.float64, requires_grad=True)
    f = lambda p, s, r: body64(p, segment_scales=s, rotation=r, vertex_ids=ids).vertices  # noqa: E731
    assert torch.autograd.gradcheck(f, (pose, sc, rotn))


def test_scale_semantics(body64):
    """Scaling one segment's length scales that bone by the factor; the parent is unchanged;
    girth scaling moves vertices across the bone but not the child joint."""
    i_sh, i_el, i_wr, i_co = (sk.joint_index(n) for n in ("left_shoulder", "left_elbow", "left_wrist", "left_collar"))
    for pose in (torch.zeros(1, 24, 3, dtype=torch.float64), torch.randn(1, 24, 3, dtype=torch.float64) * 0.5):
        base = body64(pose).joints[0]
        sc = torch.ones(1, 24, 2, dtype=torch.float64)
        sc[0, i_sh, 0] = 1.3
        j = body64(pose, segment_scales=sc).joints[0]
        L0 = (base[i_el] - base[i_sh]).norm()
        assert torch.allclose((j[i_el] - j[i_sh]).norm(), 1.3 * L0)
        assert torch.allclose(j[i_sh], base[i_sh]) and torch.allclose(j[i_co], base[i_co])
        # child segment carried along unscaled
        assert torch.allclose((j[i_wr] - j[i_el]).norm(), (base[i_wr] - base[i_el]).norm())
    sc = torch.ones(1, 24, 2, dtype=torch.float64)
    sc[0, i_sh, 1] = 1.5
    out = body64(body64.rest_pose(1), segment_scales=sc)
    assert torch.allclose(out.joints[0, i_el], body64.j_template[i_el])
    moved = (out.vertices[0] - body64.v_template).norm(dim=1)
    dom = torch.as_tensor(body64.skin_weights.argmax(1) == i_sh)
    assert moved[dom].mean() > 0.01


def test_isotropic_scales_shape(body):
    a = body(body.rest_pose(1), segment_scales=torch.full((1, 24), 1.2)).vertices
    b = body(body.rest_pose(1), segment_scales=torch.full((1, 24, 2), 1.2)).vertices
    assert torch.allclose(a, b)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(pose=torch.zeros(2, 23, 3)), "expected .*24"),
        (dict(pose=torch.zeros(2, 24, 3, dtype=torch.int64)), "floating-point"),
        (dict(pose=torch.full((1, 24, 3), float("nan"))), "finite"),
        (dict(pose=torch.zeros(1, 24, 3), segment_scales=torch.zeros(1, 24, 2)), "positive"),
        (dict(pose=torch.zeros(1, 24, 3), segment_scales=torch.ones(2, 24, 2)), r"segment_scales: expected shape"),
        (dict(pose=torch.zeros(1, 24, 3), rotation=torch.eye(4)[None]), "rotation"),
        (dict(pose=torch.zeros(1, 24, 3), vertex_ids=torch.tensor([10**6])), "vertex_ids"),
    ],
)
def test_bad_input_raises_value_error(body, kwargs, match):
    pose = kwargs.pop("pose")
    with pytest.raises(ValueError, match=match):
        body(pose, **kwargs)


def test_unknown_names_and_parts(body):
    with pytest.raises(ValueError, match="unknown joint name"):
        body.joint_index("left_elbowz")
    with pytest.raises(ValueError, match="unknown keypoint set"):
        body.keypoint_regressor("mpii")
    with pytest.raises(ValueError, match="part must be an integer in 1..24"):
        body.charts.iuv_to_surface(np.array([[25, 0.5, 0.5]]))


def test_parts_and_charts(body):
    parts = body.parts
    assert set(np.unique(parts)) == set(range(1, 25))
    # left parts on the body's left (+x), right parts on the right
    x = body.v_template[:, 0].numpy()
    for p in (4, 5, 8, 10, 12, 14, 15, 17, 19, 21, 24):
        assert np.median(x[parts == p]) > 0, p
    for p in (3, 6, 7, 9, 11, 13, 16, 18, 20, 22, 23):
        assert np.median(x[parts == p]) < 0, p
    z = body.v_template[:, 2].numpy()
    assert np.median(z[parts == 2]) > np.median(z[parts == 1])  # torso front is +z
    # vertex -> (part, u, v) -> surface point lands on (or next to) the same vertex
    from dalnb.body.charts import interpolate_surface

    rng = np.random.default_rng(0)
    ids = rng.choice(body.num_vertices, 400, replace=False)
    iuv = body.charts.vertex_iuv(ids)
    sp = body.charts.iuv_to_surface(iuv)
    pts = interpolate_surface(
        body.v_template[None].double(), body.faces, torch.as_tensor(sp.face), torch.as_tensor(sp.bary)
    )[0]
    err = (pts - body.v_template[ids].double()).norm(dim=1).numpy()
    assert np.all(body.parts[body.faces.numpy()[sp.face]] == iuv[:, :1].astype(int))
    assert np.median(err) < 1e-3 and np.percentile(err, 90) < 0.02


def test_keypoint_regressors(body):
    kp = body.keypoints(body.v_template[None], "joints24")[0]
    assert torch.allclose(kp, body.j_template, atol=1e-5)
    coco = body.keypoints(body.v_template[None], "coco17")[0]
    names = body.keypoint_names("coco17")
    y = lambda n: float(coco[names.index(n), 1])  # noqa: E731
    assert y("nose") > y("left_shoulder") > y("left_hip") > y("left_knee") > y("left_ankle")
    assert coco[names.index("left_wrist"), 0] > 0  # body's left is +x
    h36 = body.keypoints(body.v_template[None], "h36m17")[0]
    hn = body.keypoint_names("h36m17")
    assert float(h36[hn.index("head"), 1]) > float(h36[hn.index("neck_base"), 1]) > float(h36[hn.index("thorax"), 1])


def test_skin_basis_matches_subset_skinning(body):
    """One product with the precomputed basis = linear blend skinning of the same vertices,
    values and gradients, for shared and per-sample vertex sets."""
    from dalnb.body.skinning import blend_skin_subset, skin_with_basis

    g = torch.Generator().manual_seed(3)
    pose = (0.3 * torch.randn(3, 24, 3, generator=g)).requires_grad_()
    scales = (1 + 0.1 * torch.rand(3, 24, 2, generator=g)).requires_grad_()
    A, b, _, _ = body.transforms(pose, scales)
    for ids in (torch.arange(0, body.num_vertices, 97), torch.randint(0, body.num_vertices, (3, 50), generator=g)):
        ref = blend_skin_subset(body.v_template, body.skin_weights, A, b, ids)
        ours = skin_with_basis(body.skin_basis(ids), A, b)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
        w = torch.randn(ref.shape, generator=g)
        g_ref = torch.autograd.grad((ref * w).sum(), (pose, scales), retain_graph=True)
        g_ours = torch.autograd.grad((ours * w).sum(), (pose, scales), retain_graph=True)
        for x, y in zip(g_ours, g_ref):
            torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4)


def test_on_device_copies_and_never_moves_the_shared_body():
    """``nn.Module.to`` moves in place; moving the shared default body broke every later CPU
    user on a GPU machine (found there). ``on`` returns a kept copy and leaves the body alone."""
    from dalnb import BodyModel

    body = BodyModel.default()
    assert body.on("cpu") is body and body.on(None) is body
    meta = body.on("meta")
    assert meta is not body and meta.v_template.is_meta and meta.skin_weights.is_meta
    assert body.v_template.device.type == "cpu" and not body.skin_weights.is_meta
    assert body.on("meta") is meta  # kept, not copied again
    assert meta.num_vertices == body.num_vertices and meta.parents == body.parents
    assert body(torch.zeros(1, 24, 3)).vertices.device.type == "cpu"
