import math

import numpy as np
import pytest
import torch

from dalnb.lifter import (
    DegenerateInput,
    LifterConfig,
    lift_depths,
    normalize_2d,
    orientation_loss,
    ratio_loss,
    rotate_y,
    symmetry_loss,
    template_ratios,
    train_lifter,
)


@pytest.fixture(scope="module")
def template_kp(body):
    """COCO-17 of the template facing a camera: camera frame x right, y down, z forward."""
    kp = body.keypoints(body.v_template[None], "coco17")[0].double()
    return kp * torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)


def test_missing_keypoints_are_masked_not_leaked(template_kp):
    kp = torch.cat([template_kp[None, :, :2] * 100 + 200, torch.ones(1, 17, 1, dtype=torch.float64)], -1).float()
    a = kp.clone()
    a[0, 9] = torch.tensor([0.0, 0.0, 0.0])  # missing, stored as zeros
    b = kp.clone()
    b[0, 9] = torch.tensor([1e6, -1e6, 0.0])  # missing, garbage
    (xa, ma, _), (xb, mb, _) = normalize_2d(a), normalize_2d(b)
    assert torch.equal(xa, xb) and torch.equal(ma, mb) and ma[0, 9] == 0
    L = train_lifter(np.concatenate([kp.numpy()] * 40), LifterConfig(steps=2, batch=8, hidden=32, blocks=1))
    da, db = lift_depths(L, a), lift_depths(L, b)
    assert np.isnan(da[0, 9]) and np.allclose(np.nan_to_num(da), np.nan_to_num(db))
    assert abs(np.nanmean(da[0, [11, 12]])) < 1e-5  # depth relative to the hip midpoint


def test_degenerate_input_raises():
    kp = torch.zeros(2, 17, 3)
    kp[..., 2] = 1
    with pytest.raises(DegenerateInput, match="degenerate"):
        normalize_2d(kp)
    with pytest.raises(ValueError, match=r"expected \(B, 17, 3\)"):
        normalize_2d(torch.zeros(2, 16, 3))
    one = torch.zeros(1, 17, 3)
    one[0, 0] = torch.tensor([5.0, 5.0, 1.0])
    with pytest.raises(DegenerateInput, match="fewer than 2"):
        normalize_2d(one)


def test_mirror_ambiguity_and_the_orientation_prior(template_kp):
    p = template_kp[None]
    mirror = p * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    th = torch.tensor([0.7], dtype=torch.float64)
    # a pose rotated by +theta and its depth-mirror rotated by -theta project identically
    assert torch.allclose(rotate_y(p, th)[..., :2], rotate_y(mirror, -th)[..., :2])
    m = torch.ones(1, 17, dtype=torch.float64)
    assert float(orientation_loss(p, m)) == 0 and float(orientation_loss(mirror, m)) > 0.005


def test_geometric_losses_zero_on_the_template(template_kp):
    p = template_kp[None]
    r = torch.as_tensor(template_ratios(), dtype=torch.float64)
    assert float(ratio_loss(p, r)) < 1e-12 and float(symmetry_loss(p)) < 1e-6
    stretched = p.clone()
    stretched[0, 9] = stretched[0, 7] + 2 * (stretched[0, 9] - stretched[0, 7])  # left forearm twice as long
    assert float(symmetry_loss(stretched)) > 1e-3 and float(ratio_loss(stretched, r)) > 1e-3
    assert torch.allclose(rotate_y(p, torch.tensor([math.pi / 3], dtype=torch.float64)).norm(dim=-1), p.norm(dim=-1))


def test_checkpoint_resume_matches_uninterrupted(tmp_path, template_kp):
    rng = np.random.default_rng(0)
    base = torch.cat([template_kp[:, :2] * 100 + 200, torch.ones(17, 1, dtype=torch.float64)], -1).numpy()
    pool = np.stack(
        [base + np.concatenate([rng.normal(0, 3, (17, 2)), np.zeros((17, 1))], 1) for _ in range(64)]
    ).astype(np.float32)
    cfg = dict(batch=16, hidden=32, blocks=1, checkpoint_every=5, dropout=0.0)
    ref = train_lifter(pool, LifterConfig(steps=10, **cfg))
    train_lifter(pool, LifterConfig(steps=5, **cfg), ckpt=tmp_path / "l.pt")  # "killed" after 5 steps
    res = train_lifter(pool, LifterConfig(steps=10, **cfg), ckpt=tmp_path / "l.pt")
    for a, b in zip(ref.gen.state_dict().values(), res.gen.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
    assert len(res.history["g_total"]) == 10
    assert ref.resumed_at == 0 and res.resumed_at == 5
    again = train_lifter(pool, LifterConfig(steps=10, **cfg), ckpt=tmp_path / "l.pt")  # finished: nothing left to train
    assert again.resumed_at == 10 and len(again.history["g_total"]) == 10


def test_test_time_flip_makes_the_lift_mirror_equivariant(template_kp):
    """With ``test_flip`` the depths of a mirrored pose (x -> -x, left <-> right) are the mirrored
    depths of the pose; without it a trained network only approximates that."""
    from dataclasses import replace

    from dalnb.lifter import MIRROR

    assert sorted(MIRROR) == list(range(17)) and all(MIRROR[MIRROR[k]] == k for k in range(17)) and MIRROR[0] == 0
    rng = np.random.default_rng(3)
    kp = template_kp[None, :, :2].numpy() * 100 + 200 + rng.normal(0, 8, (16, 17, 2))  # jittered poses, pixels
    kp = np.concatenate([kp, np.ones((16, 17, 1))], -1).astype(np.float32)
    mirrored = kp[:, MIRROR].copy()
    mirrored[..., 0] = 400 - mirrored[..., 0]
    L = train_lifter(np.concatenate([kp] * 4), LifterConfig(steps=20, batch=16, hidden=32, blocks=1))
    assert L.cfg.test_flip
    assert np.allclose(lift_depths(L, mirrored), lift_depths(L, kp)[:, MIRROR], atol=1e-5)
    L.cfg = replace(L.cfg, test_flip=False)
    assert not np.allclose(lift_depths(L, mirrored), lift_depths(L, kp)[:, MIRROR], atol=1e-3)


def test_written_depths_come_back_in_the_lifters_frame(tmp_path, template_kp):
    """``write_depths`` stores the lifter's depths by sample_id with their frame ("untilted": 2D cannot tell
    the lifter the body's lean or heading); ``attach_depths`` gives both back, NaN for a sample with too few
    keypoints to lift."""
    from dalnb.data.store import attach_depths
    from dalnb.lifter import LIFTED_FRAME, write_depths

    kp = torch.cat([template_kp[:, :2] * 100 + 200, torch.ones(17, 1, dtype=torch.float64)], -1).float().numpy()
    L = train_lifter(np.stack([kp] * 16), LifterConfig(steps=2, batch=8, hidden=32, blocks=1))
    few = kp.copy()
    few[1:, 2] = 0
    samples = [{"sample_id": "a", "keypoints2d": kp}, {"sample_id": "b", "keypoints2d": few}]
    got = attach_depths(samples, write_depths(L, samples, tmp_path / "d.npz"))
    assert LIFTED_FRAME == "untilted" and [s["keypoints_depth_frame"] for s in got] == ["untilted"] * 2
    np.testing.assert_allclose(got[0]["keypoints_depth"], lift_depths(L, kp[None])[0], atol=1e-6)
    assert np.isnan(got[1]["keypoints_depth"]).all()


def test_lift_table_splits_by_pose_source(template_kp):
    """The exact 3D scores 0 mm on every subset; zero depth scores the same as ``evaluate_lift`` on each
    subset, and a subset absent from the test set has no column."""
    from dalnb.study.lifter import evaluate_lift, lift_table

    g = np.random.default_rng(0)
    gt = template_kp.numpy()[None] + g.normal(0, 0.05, (6, 17, 3))
    zero = gt.copy()
    zero[..., 2] = 0
    mask, src = np.ones((6, 17)), np.array(["mocap"] * 4 + ["limits"] * 2)
    tab = lift_table({"exact": gt, "zero": zero}, gt, mask, src).set_index("method")
    assert np.allclose(tab.loc["exact", ["pa_mpjpe_mm", "PA-MPJPE, mocap poses (mm)"]], 0, atol=1e-6)
    assert np.isclose(
        tab.loc["zero", "PA-MPJPE, joint-limit poses (mm)"], evaluate_lift(zero[4:], gt[4:], mask[4:])["pa_mpjpe_mm"]
    )
    assert "PA-MPJPE, joint-limit poses (mm)" not in lift_table({"zero": zero[:4]}, gt[:4], mask[:4], src[:4])
