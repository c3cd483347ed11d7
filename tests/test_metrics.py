import numpy as np
import pytest
from scipy.spatial import procrustes
from scipy.spatial.transform import Rotation

from dalnb import metrics as M


def test_procrustes_recovers_a_similarity():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 17, 3))
    R = Rotation.random(5, random_state=1).as_matrix()
    pred = 1.7 * np.einsum("bij,bnj->bni", R, gt) + rng.normal(size=(5, 1, 3))
    assert np.allclose(M.procrustes_align(pred, gt), gt, atol=1e-9)
    assert np.allclose(M.pa_mpjpe(pred, gt), 0, atol=1e-9)


def test_pa_error_against_scipy():
    """scipy's procrustes standardises both sets; its disparity equals our aligned squared
    error divided by the ground truth's centred sum of squares."""
    rng = np.random.default_rng(2)
    gt, pred = rng.normal(size=(1, 20, 3)), rng.normal(size=(1, 20, 3))
    _, _, disparity = procrustes(gt[0], pred[0])
    aligned = M.procrustes_align(pred, gt)[0]
    g = gt[0] - gt[0].mean(0)
    assert np.isclose(((aligned - gt[0]) ** 2).sum() / (g**2).sum(), disparity)


def test_reflections_are_not_allowed():
    gt = np.random.default_rng(3).normal(size=(1, 10, 3))
    mirrored = gt * np.array([-1, 1, 1])
    assert M.pa_error(mirrored, gt)[0] > 0.1


def test_mpjpe_hand_made_and_rescaling():
    gt = np.zeros((1, 17, 3))
    gt[0, :, 0] = np.arange(17) * 0.1
    shifted = gt + 5.0
    assert np.allclose(M.mpjpe(shifted, gt), 0)
    one_off = gt.copy()
    one_off[0, 3, 1] += 0.17  # one joint 17 cm off: mean 1 cm
    assert np.isclose(M.mpjpe(one_off, gt, rescale=False)[0], 0.01)
    assert np.allclose(M.mpjpe(2.0 * gt, gt, rescale=True), 0) and M.mpjpe(2.0 * gt, gt, rescale=False)[0] > 0.1
    with pytest.raises(ValueError, match="shapes differ"):
        M.mpjpe(gt[:, :5], gt)


def test_depth_split_puts_an_error_where_it_was_made():
    rng = np.random.default_rng(5)
    gt = rng.normal(size=(3, 17, 3)) * 0.3
    depth_wrong = gt.copy()
    depth_wrong[:, 1:, 2] += rng.normal(size=(3, 16)) * 0.05
    s = M.depth_split(depth_wrong * 1.2 + 2.0, gt)  # another scale and place: the same split
    assert (s["depth"] > 2 * s["plane"]).all() and (s["true_plane"] > 0.01).all()
    np.testing.assert_allclose(s["whole"], M.pa_mpjpe(depth_wrong, gt), rtol=1e-9)
    parts = np.hypot(s["plane"], s["depth"])  # per joint, the two parts are the legs of the error
    assert (parts <= s["whole"] + 1e-12).all() and (s["whole"] <= s["plane"] + s["depth"] + 1e-12).all()
    plane_wrong = gt.copy()
    plane_wrong[:, 1:, :2] = gt[:, [4, 5, 6, 1, 2, 3, *range(7, 17)], :2]  # two legs' places swapped
    s = M.depth_split(plane_wrong, gt)
    assert (s["plane"] > 2 * s["depth"]).all() and (s["true_plane"] < 1e-9).all()
    flat = gt.copy()
    flat[..., 2] = gt[:, :1, 2]
    np.testing.assert_allclose(M.depth_split(flat, gt)["flat"], M.pa_mpjpe(flat, gt), atol=1e-9)
    with pytest.raises(ValueError, match="expected two"):
        M.depth_split(gt[..., :2], gt[..., :2])


def test_pixel_error_with_padding():
    a = np.zeros((1, 3, 2))
    b = np.array([[[3.0, 4.0], [0, 0], [100, 100]]])
    assert np.isclose(M.pixel_error(b, a, np.array([[1, 1, 0]]))[0], 2.5)


def test_surface_pixel_error_hand_made():
    """Two vertices, camera s=10 px/m, t=(5, 5): vertex (1, 0) projects to (15, 5), (0, 1) to (5, 15)."""
    V = np.array([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 0]]])
    cam = np.array([[10.0, 5, 5]])
    s = {"dense_xy": np.array([[15.0, 8], [5, 15]]), "dense_vertex": np.array([0, 1])}
    assert M.surface_pixel_error(V, cam, [s])[0] == pytest.approx(1.5)  # (3 + 0) / 2
    # part-level: nearest projected vertex of the same part
    p = {"dense_xy": np.array([[5.0, 9], [15, 5]]), "dense_iuv": np.array([[2, 0.5, 0.5], [1, 0.5, 0.5]])}
    parts = np.array([1, 2, 2])
    assert M.surface_pixel_error(V, cam, [p], parts)[0] == pytest.approx((4 + 0) / 2)
    assert np.isnan(M.surface_pixel_error(V, cam, [{"keypoints2d": np.zeros((17, 3))}])[0])


def test_h36m_protocol_end_to_end_on_real_frames(body):
    """Real Human3.6M frames: registration on their 2D keypoints, joints regressed in
    Human3.6M's order, MPJPE with the protocol's rescaling against the camera-frame truth.
    Joint order and camera frame are checked by breaking them: each makes the error worse."""
    from conftest import shared_data

    from dalnb.data.loaders import load_h36m
    from dalnb.fitting import RegistrationConfig, register

    d = shared_data("03_pose3d_h36m")
    frames = load_h36m(d / "test_h36m_body3d.npz", d / "cameras.pkl").samples
    f = register(body, frames, RegistrationConfig.with_iters(150))
    J = body.keypoints(f.vertices, "h36m17").numpy()
    gt = np.stack([x["joints3d"] for x in frames]).astype(np.float64)
    assert (f.status == "ok").all()
    err = M.mpjpe(J, gt) * 1000
    assert np.isfinite(err).all() and err.mean() < 350, err
    assert M.pa_mpjpe(J, gt).mean() * 1000 < 200
    lr = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]  # left and right swapped
    assert M.pa_mpjpe(J[:, lr], gt).mean() > M.pa_mpjpe(J, gt).mean()
    upside_down = J * np.array([1.0, -1.0, -1.0])
    assert M.mpjpe(upside_down, gt).mean() > 2 * M.mpjpe(J, gt).mean()


def test_evaluate_on_synthetic_truth(body):
    """Fits equal to the ground truth score 0 in 3D and in pixels (up to float32)."""
    import torch

    from dalnb.data.synth import SynthConfig, make_samples
    from dalnb.fitting import FitResult

    s = make_samples(2, 4, SynthConfig(image_size=64, anny_fraction=0.0, perspective=False))
    V = torch.as_tensor(np.stack([x["vertices3d"] for x in s]), dtype=torch.float32)
    cam = np.stack([[x["gt_camera"][0], *x["gt_center"]] for x in s])  # orthographic render: u = s X + c
    f = FitResult(
        pose=None,
        segment_scales=None,
        rotation=None,
        camera=torch.as_tensor(cam),
        vertices=V,
        joints=None,
        losses={},
        status=np.array(["ok", "ok"]),
    )
    r = M.evaluate(body, f, s)
    assert r["pa_mpjpe_mm"] < 1e-3 and r["mpjpe_mm"] < 1e-3 and r["pve_mm"] < 1e-3 and r["pixel_err"] < 1e-2, r
    assert r["torso_rot_median_deg"] < 0.1 and r["torso_rot_over_90_pct"] == 0, r


def test_torso_rotation_error_is_the_angle_of_the_turn_against_scipy(body):
    """Real Human3.6M joints turned about the pelvis by random rotations: the error is each
    rotation's angle (scipy's magnitude), whatever the translation; a body seen from behind
    (turned 180 deg about the vertical) scores 180."""
    from conftest import shared_data

    from dalnb.data.loaders import load_h36m

    d = shared_data("03_pose3d_h36m")
    gt = np.stack([x["joints3d"] for x in load_h36m(d / "test_h36m_body3d.npz", d / "cameras.pkl").samples]).astype(
        np.float64
    )
    rot = Rotation.random(len(gt), random_state=5)
    root = gt[:, :1]
    turned = np.einsum("bij,bnj->bni", rot.as_matrix(), gt - root) + root + 0.3
    assert np.allclose(M.torso_rotation_error_deg(turned, gt), np.degrees(rot.magnitude()), atol=1e-6)
    F = M.torso_frame(gt)
    assert np.allclose(np.einsum("bji,bjk->bik", F, F), np.eye(3), atol=1e-12) and np.allclose(np.linalg.det(F), 1)
    up = F[:, :, 1]  # turn about each body's own vertical axis
    behind = np.einsum("bij,bnj->bni", Rotation.from_rotvec(np.pi * up).as_matrix(), gt - root) + root
    assert np.allclose(M.torso_rotation_error_deg(behind, gt), 180, atol=1e-4)
    with pytest.raises(ValueError, match=r"expected \(B, 17, 3\) joints"):
        M.torso_frame(gt[:, :12])


def test_limb_depth_sign_accuracy_hand_made():
    from dalnb.metrics import limb_depth_sign_accuracy

    gt = np.zeros((4, 17))
    gt[:, 7] = [0.2, -0.2, 0.2, 0.01]  # left elbow in front of / behind the shoulder (5); the last barely out of plane
    pred = gt.copy()
    pred[1, 7] = 0.3  # wrong way
    pred[2, 7] = np.nan  # missing: wrong
    acc = limb_depth_sign_accuracy(pred + 5.0, gt - 1.0)  # any common origin per sample
    assert acc["left upper arm"] == pytest.approx(1 / 3)  # three limbs out of plane, one right
    assert np.isnan(acc["right shin"])  # never out of plane
    # the left forearm (7 -> 9): elbow moved, wrist at 0, so its depth flips with the elbow's
    assert acc["left forearm"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r"\(4, 17\) and \(4, 16\)"):
        limb_depth_sign_accuracy(pred, gt[:, :16])


def test_keypoint_error_averages_the_visible_keypoints_only():
    from dalnb.metrics import keypoint_error

    pts = np.zeros((2, 3, 2))
    kp = np.array([[[3, 4, 2], [0, 1, 0.9], [100, 100, 0]], [[5, 5, 0], [9, 9, 0], [1, 1, 0]]], float)
    err = keypoint_error(pts, kp)
    assert err[0] == pytest.approx((5 + 1) / 2) and np.isnan(err[1])  # the missing keypoint is not counted
    with pytest.raises(ValueError, match=r"expected \(B, K, 2\) and \(B, K, 3\), got \(2, 3, 2\) and \(2, 4, 3\)"):
        keypoint_error(pts, np.zeros((2, 4, 3)))


def test_per_test_set_lays_out_each_real_test_set():
    from dalnb.training import per_test_set

    rows = [{"round": 1, "mpjpe_mm": 200.0, "photos/n": 2, "photos/keypoint_err_px": 9.0, "h36m/pa_mpjpe_mm": 90.0}]
    out = per_test_set(rows)
    assert out == [
        {"round": 1, "test set": "synthetic", "mpjpe_mm": 200.0},
        {"round": 1, "test set": "h36m", "pa_mpjpe_mm": 90.0},
        {"round": 1, "test set": "photos", "n": 2, "keypoint_err_px": 9.0},
    ]
