"""Registration on synthetic samples with known ground truth, and on bad input."""

import numpy as np
import pytest
import torch

from dalnb import metrics as M
from dalnb.data.synth import SynthConfig, make_samples
from dalnb.fitting import RegistrationConfig, load_fits, register, register_folder, save_fits


@pytest.fixture(scope="module")
def easy():
    """Bodies of our own model, orthographic camera, exact correspondences and depths."""
    s = make_samples(
        6, 21, SynthConfig(image_size=96, anny_fraction=0.0, perspective=False, truncation=0.0, occluder=0.0)
    )
    for x in s:
        x["keypoints_depth"] = x["gt_keypoints_depth"]
    return s


def _pa(body, fits, samples):
    H = body.keypoints(fits.vertices, "h36m17").numpy()
    return M.pa_mpjpe(H, np.stack([s["joints3d"] for s in samples]))


def test_fits_recover_ground_truth(body, easy):
    fits = register(body, easy, RegistrationConfig.with_iters(200))
    assert (fits.status == "ok").all()
    pa = _pa(body, fits, easy)
    rest = register(body, easy, RegistrationConfig.with_iters(1))  # barely moved from the rest pose
    assert pa.mean() < 0.035, pa
    assert pa.mean() < 0.5 * _pa(body, rest, easy).mean()
    # projected keypoints land on the annotations
    kp = fits.project(body.keypoints(fits.vertices, "coco17")).numpy()
    gt = np.stack([s["keypoints2d"] for s in easy])
    vis = gt[..., 2] > 0
    assert np.median(np.linalg.norm(kp - gt[..., :2], axis=-1)[vis]) < 2.0
    assert np.all(torch.linalg.det(fits.rotation).numpy() > 0)
    assert set(fits.history) >= {"dense", "keypoints", "total"}


def test_deterministic(body, easy):
    a = register(body, easy[:2], RegistrationConfig.with_iters(40))
    b = register(body, easy[:2], RegistrationConfig.with_iters(40))
    assert torch.equal(a.vertices, b.vertices)


def test_bad_samples_get_a_status_and_do_not_spoil_the_batch(body, easy, tmp_path):
    good = [dict(s) for s in easy[:2]]
    no_dense = {k: v for k, v in easy[2].items() if not k.startswith("dense_")}
    nothing = {"sample_id": "empty", "keypoints2d": np.zeros((17, 3), np.float32), "image": easy[0]["image"]}
    nan = dict(easy[3], dense_xy=np.full_like(easy[3]["dense_xy"], np.nan))
    far = dict(
        easy[4],
        dense_xy=easy[4]["dense_xy"] + 5000.0,
        keypoints2d=easy[4]["keypoints2d"] + np.array([5000.0, 0, 0], np.float32),
    )
    cfg = RegistrationConfig.with_iters(60)
    fits = register(body, good + [no_dense, nothing, nan, far], cfg)
    st = list(fits.status)
    assert st[:3] == ["ok", "ok", "ok"]
    assert (
        st[3].startswith("nothing usable")
        and "non-finite values in dense_xy" == st[4]
        and st[5].startswith("points far outside")
    )
    alone = register(body, good, cfg)
    assert torch.allclose(fits.vertices[:2], alone.vertices, atol=1e-5), "bad batch mates changed the good fits"
    # keypoints alone still fit
    kp = fits.project(body.keypoints(fits.vertices, "coco17")).numpy()[2]
    g = no_dense["keypoints2d"]
    assert np.median(np.linalg.norm(kp - g[:, :2], axis=1)[g[:, 2] > 0]) < 4.0
    save_fits(tmp_path / "fits_0.npz", fits)
    back = load_fits(tmp_path)
    assert np.isfinite(back.vertices.numpy()).all() and np.isfinite(back.camera.numpy()).all()
    assert list(back.status) == st


def test_register_folder_resumes(body, tmp_path):
    from dalnb.data.synth import generate

    generate(tmp_path / "s", 4, seed=2, cfg=SynthConfig(image_size=64, shard_size=2, anny_fraction=0.0), progress=False)
    cfg = RegistrationConfig.with_iters(20)
    fits = register_folder(body, tmp_path / "s", tmp_path / "f", cfg, progress=False)
    assert len(fits) == 4
    first = (tmp_path / "f" / "fits_shard_00000.npz").stat().st_mtime_ns
    (tmp_path / "f" / "fits_shard_00001.npz").unlink()
    register_folder(body, tmp_path / "s", tmp_path / "f", cfg, progress=False)
    assert (tmp_path / "f" / "fits_shard_00000.npz").stat().st_mtime_ns == first
    assert (tmp_path / "f" / "fits_shard_00001.npz").exists()


def test_init_from_given_parameters(body, easy):
    """Starting at the truth and running zero iterations reproduces the truth."""
    from dalnb.rotations import axis_angle_to_matrix

    s = easy[:2]
    pose = torch.as_tensor(np.stack([x["gt_pose"] for x in s]))
    R = torch.as_tensor(np.stack([x["gt_rotation"] for x in s])) @ axis_angle_to_matrix(pose[:, 0])
    pose = pose.clone()
    pose[:, 0] = 0
    init = {
        "pose": pose,
        "segment_scales": torch.as_tensor(np.stack([x["gt_segment_scales"] for x in s])),
        "rotation": R,
        "camera": torch.as_tensor(np.stack([x["gt_camera"] for x in s])),
    }
    cfg = RegistrationConfig.with_iters(2)
    for st in cfg.stages:
        st.iters = 0
    fits = register(body, s, cfg, init=init)
    V = np.stack([x["vertices3d"] for x in s])
    assert M.pve(fits.vertices.numpy(), V).max() < 1e-3


def test_torchrun_shards_the_work(tmp_path):
    """Two processes under torchrun (gloo, CPU) split the shards and together fit them all."""
    from conftest import run_torchrun

    from dalnb.data.synth import generate

    generate(tmp_path / "s", 4, seed=2, cfg=SynthConfig(image_size=48, shard_size=1, anny_fraction=0.0), progress=False)
    script = tmp_path / "run.py"
    script.write_text(
        "import os, sys\nfrom dalnb import BodyModel\nfrom dalnb.fitting import RegistrationConfig, register_folder\n"
        "f = register_folder(BodyModel.default(), sys.argv[1], sys.argv[2], "
        "RegistrationConfig.with_iters(5), progress=False)\n"
        "open(os.path.join(sys.argv[2], 'rank' + os.environ['RANK'] + '.txt'), 'w').write(str(len(f)))\n"
    )
    run_torchrun(script, str(tmp_path / "s"), str(tmp_path / "f"))
    assert [(tmp_path / "f" / f"rank{k}.txt").read_text() for k in (0, 1)] == ["4", "4"]  # each rank sees all fits
    assert len(list((tmp_path / "f").glob("fits_*.npz"))) == 4


def test_missing_depths_are_nan_not_failures(body, easy):
    """The lifter marks missing keypoints' depths NaN: registration ignores those entries (the
    same fit as without them), and only an infinite depth fails the sample, by name."""
    from dalnb.fitting.batch import prepare_batch

    s = [dict(x) for x in easy[:2]]
    s[0]["keypoints_depth"] = s[0]["keypoints_depth"].copy()
    s[0]["keypoints_depth"][[0, 3, 15]] = np.nan
    b = prepare_batch(body, s, RegistrationConfig.with_iters(5))
    assert b.status == ["ok", "ok"] and b.kp_depth_w[0, [0, 3, 15]].eq(0).all() and torch.isfinite(b.kp_depth).all()
    expected = s[0]["keypoints2d"][:, 2] > 0
    expected[[0, 3, 15]] = False
    assert torch.equal(b.kp_depth_w[0].bool(), torch.as_tensor(expected))
    s[1]["keypoints_depth"] = np.full(17, np.inf, np.float32)
    f = register(body, s, RegistrationConfig.with_iters(5))
    assert f.status[0] == "ok" and "infinite values in keypoints_depth" in f.status[1]


def test_round_files_without_meshes_load_with_the_body(body, easy, tmp_path):
    f = register(body, easy[:2], RegistrationConfig.with_iters(5))
    save_fits(tmp_path / "f.npz", f, meshes=False)
    with pytest.raises(ValueError, match="saved without meshes"):
        load_fits(tmp_path / "f.npz")
    g = load_fits(tmp_path / "f.npz", body)
    torch.testing.assert_close(g.vertices, f.vertices, atol=1e-5, rtol=0)
    assert f.perspective is not None and torch.equal(g.perspective, f.perspective)
    torch.testing.assert_close(g.project(g.joints), f.project(f.joints))


def test_headings_around_a_given_start(body, easy):
    """From given parameters whose heading is wrong by 180 degrees, the stiff stage's headings
    around the given rotation find the right one; the full fit alone from there does not."""
    from dalnb import rotations as rot

    good = register(body, easy, RegistrationConfig.with_iters(200))
    turned = good.take(list(range(len(good))))
    turned.rotation = good.rotation @ rot.axis_angle_to_matrix(torch.tensor([0.0, np.pi, 0.0]))
    with_headings = register(body, easy, RegistrationConfig.with_iters(60), init=turned)
    without = register(body, easy, RegistrationConfig.with_iters(60).without_stiff_stage(), init=turned)
    e_good, e_with, e_without = (_pa(body, f, easy).mean() for f in (good, with_headings, without))
    assert e_with < e_good + 0.01 and e_without > e_with + 0.02, (e_good, e_with, e_without)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.9, 0.8)])
def test_adam_step_matches_torch_adam(betas):
    """The loop's Adam on parameter rows is torch.optim.Adam, per-column learning rates, frozen
    rows and the registration's own betas (``RegistrationConfig.adam_betas``) included."""
    from dalnb.fitting.optim import adam_step

    g = torch.Generator().manual_seed(0)
    p0 = torch.randn(5, 7, generator=g)
    lr = torch.tensor([0.1, 0.1, 0.1, 0.02, 0.02, 0.0, 0.3])
    rows = torch.tensor([True, True, False, True, True])
    ours, m, v = p0.clone(), torch.zeros(5, 7), torch.zeros(5, 7)
    ref = [p0[:, :3].clone().requires_grad_(), p0[:, 3:5].clone().requires_grad_(), p0[:, 6:].clone().requires_grad_()]
    opt = torch.optim.Adam(
        [{"params": [ref[0]], "lr": 0.1}, {"params": [ref[1]], "lr": 0.02}, {"params": [ref[2]], "lr": 0.3}],
        betas=betas,
    )
    for k in range(1, 6):
        grad = torch.randn(5, 7, generator=g)
        adam_step(ours, grad, m, v, k, lr, torch.ones(5, dtype=torch.bool), betas=betas)
        for r, sl in zip(ref, (slice(0, 3), slice(3, 5), slice(6, 7))):
            r.grad = grad[:, sl].clone()
        opt.step()
    torch.testing.assert_close(ours[:, :3], ref[0].detach())
    torch.testing.assert_close(ours[:, 3:5], ref[1].detach())
    torch.testing.assert_close(ours[:, 6:], ref[2].detach())
    assert torch.equal(ours[:, 5], p0[:, 5])  # lr 0: untouched
    before = ours.clone()
    adam_step(ours, torch.randn(5, 7, generator=g), m, v, 6, lr, rows, betas=betas)
    assert torch.equal(ours[2], before[2]) and not torch.equal(ours[0], before[0])


def test_adam_betas_are_checked():
    from dalnb.fitting import RegistrationConfig

    assert RegistrationConfig().adam_betas == (0.9, 0.8)
    for bad in ((0.9, 1.0), (0.9,), (-0.1, 0.9)):
        with pytest.raises(ValueError, match="adam_betas"):
            RegistrationConfig(adam_betas=bad)


def test_perspective_strength_follows_the_camera_distance(body):
    """Exact correspondences rendered by a perspective camera at 2.5 m and at 8 m: the fitted
    kappa (1 / distance) is larger for the near camera, and projecting with it reproduces the
    keypoints better than the weak-perspective part of the same fit."""
    out = {}
    for d in (2.5, 8.0):
        s = make_samples(
            4, 5, SynthConfig(image_size=128, anny_fraction=0.0, truncation=0.0, occluder=0.0, distance_m=(d, d))
        )
        for x in s:
            x["keypoints_depth"] = x["gt_keypoints_depth"]
        fits = register(body, s, RegistrationConfig.with_iters(300))
        kp = body.keypoints(fits.vertices, "coco17")
        gt = np.stack([x["keypoints2d"] for x in s])
        vis = gt[..., 2] > 0
        err = lambda P: np.linalg.norm(P.numpy() - gt[..., :2], axis=-1)[vis].mean()  # noqa: E731
        weak = fits.take(slice(None))
        weak.perspective = None
        out[d] = (float(fits.perspective[:, 0].median()), err(fits.project(kp)), err(weak.project(kp)))
    assert out[2.5][0] > out[8.0][0] + 0.05, out
    assert 0.1 < out[2.5][0] < 0.5, out
    assert out[2.5][1] < out[2.5][2], out


def test_depth_prior_check_keeps_depths_only_where_they_help(body, easy, tmp_path):
    """Notebook 03's gate, per regime (dense points + keypoints, keypoints only): exact depths make
    the fits better (kept); the same depths with the wrong sign make them worse (dropped). The
    decision round-trips through depth_prior.json and picks which samples get the depths."""
    from dalnb.fitting import (
        DEPTH_PRIOR_FILE,
        REGIMES,
        attach_lifted_depths,
        check_depth_prior,
        depth_regime,
        lifted_depth_regimes,
        use_lifted_depths,
        without_dense,
    )
    from dalnb.io import atomic_write_npz

    ids = np.array([s["sample_id"] for s in easy])
    gt = np.stack([s["gt_keypoints_depth"] for s in easy])
    atomic_write_npz(tmp_path / "exact.npz", {"sample_id": ids, "keypoints_depth": gt})
    atomic_write_npz(tmp_path / "flipped.npz", {"sample_id": ids, "keypoints_depth": -gt})
    cfg = RegistrationConfig.with_iters(80)
    assert (
        use_lifted_depths(tmp_path) and lifted_depth_regimes(tmp_path) == REGIMES
    )  # nothing measured yet: the paper's setting
    good = check_depth_prior(body, easy, tmp_path / "exact.npz", cfg, save_to=tmp_path)
    assert good.n == len(easy) and set(good.regimes) == set(REGIMES)
    for r, c in good.regimes.items():
        assert c.use_lifted and c.pa_mpjpe_lifted < c.pa_mpjpe_2d_only, (r, c)
        # exact depths are camera-frame (the file does not say otherwise); taken up to a tilt they still help
        assert c.frame == "camera" and c.other["frame"] == "untilted" and c.other["pa_mpjpe_mm"] < c.pa_mpjpe_2d_only
    assert {"PA-MPJPE lifted, camera (mm)", "MPJPE lifted, untilted (mm)"} <= set(good.rows()[0])
    assert lifted_depth_regimes(tmp_path) == REGIMES
    bad = check_depth_prior(body, easy, tmp_path / "flipped.npz", cfg, save_to=tmp_path)
    for r, c in bad.regimes.items():
        assert not c.use_lifted and c.pa_mpjpe_lifted > c.pa_mpjpe_2d_only, (r, c)
    assert (
        bad.helped == () and lifted_depth_regimes(tmp_path) == () and not use_lifted_depths(tmp_path, "keypoints_only")
    )
    # which samples get depths: only those of the chosen regimes
    plain = [{k: v for k, v in s.items() if k != "keypoints_depth"} for s in easy[:2]]
    mixed = [plain[0], without_dense(plain[1])]
    assert [depth_regime(s) for s in mixed] == ["dense", "keypoints_only"]
    got = attach_lifted_depths(mixed, tmp_path / "exact.npz", ("keypoints_only",))
    assert "keypoints_depth" not in got[0] and np.array_equal(got[1]["keypoints_depth"], gt[1])
    assert got[1]["keypoints_depth_frame"] == "camera"
    atomic_write_npz(tmp_path / "lifted.npz", {"sample_id": ids, "keypoints_depth": gt, "frame": np.array("untilted")})
    assert attach_lifted_depths(mixed, tmp_path / "lifted.npz")[0]["keypoints_depth_frame"] == "untilted"
    assert "dense_xy" not in got[1] and "mask" in got[1] and "dense_xy" in easy[1]
    with pytest.raises(ValueError, match="regimes"):
        attach_lifted_depths(mixed, tmp_path / "exact.npz", ("sparse",))
    with pytest.raises(ValueError, match="regime"):
        use_lifted_depths(tmp_path, "sparse")
    (tmp_path / DEPTH_PRIOR_FILE).write_text("{}")
    with pytest.raises(ValueError, match="depth_prior.json"):
        use_lifted_depths(tmp_path)
    with pytest.raises(ValueError, match="joints3d"):
        check_depth_prior(
            body, [{k: v for k, v in s.items() if k != "joints3d"} for s in easy], tmp_path / "exact.npz", cfg
        )


def test_robust_scale_narrows_while_the_body_bends():
    from dalnb.fitting import Stage
    from dalnb.fitting.optim import robust_scale

    cfg = RegistrationConfig.with_iters(100)
    rigid, full = cfg.stages
    assert [robust_scale(cfg, rigid, i) for i in (0, rigid.iters - 1)] == [cfg.robust_sigma] * 2
    assert robust_scale(cfg, full, 0) == pytest.approx(cfg.robust_sigma)
    assert robust_scale(cfg, full, full.iters - 1) == pytest.approx(cfg.robust_sigma_end)
    mid = [robust_scale(cfg, full, i) for i in range(full.iters)]
    assert all(a >= b for a, b in zip(mid, mid[1:]))
    fixed = RegistrationConfig.with_iters(100, robust_sigma_end=None)
    assert robust_scale(fixed, full, full.iters - 1) == fixed.robust_sigma
    assert robust_scale(RegistrationConfig(robust_sigma=None), Stage("s", 10, 0.1, ("pose",)), 9) is None


def test_narrowing_scale_discounts_outliers_and_swaps(body):
    """20 % of the dense points moved to random body pixels and 10 % given the mirror vertex:
    the kernel narrowed to robust_sigma_end fits closer than the same kernel held at robust_sigma."""
    from dataclasses import replace

    s = make_samples(
        8,
        31,
        SynthConfig(
            image_size=96,
            anny_fraction=0.0,
            perspective=False,
            truncation=0.0,
            occluder=0.0,
            noise_px=2.0,
            outlier_rate=0.2,
            swap_rate=0.1,
        ),
    )
    for x in s:
        x["keypoints_depth"] = x["gt_keypoints_depth"]
    cfg = RegistrationConfig.with_iters(150)
    narrowed = _pa(body, register(body, s, cfg), s)
    fixed = _pa(body, register(body, s, replace(cfg, robust_sigma_end=None)), s)
    assert narrowed.mean() < 0.95 * fixed.mean(), (narrowed.mean(), fixed.mean())


def test_annotations_of_the_wrong_shape_get_a_status_naming_what_was_expected(body, easy):
    """Keypoints of shape (12, 3), dense points whose vertex list is shorter: each such sample says
    what was expected and what it got; the others are fitted as if alone."""
    good = [dict(s) for s in easy[:2]]
    short_kp = dict(easy[2], keypoints2d=easy[2]["keypoints2d"][:12])
    mismatched = dict(easy[3], dense_vertex=easy[3]["dense_vertex"][:-5])
    flat = dict(easy[4], dense_xy=easy[4]["dense_xy"].ravel())
    cfg = RegistrationConfig.with_iters(30)
    fits = register(body, [*good, short_kp, mismatched, flat], cfg)
    st = list(fits.status)
    assert st[:2] == ["ok", "ok"] and st[2] == "keypoints2d: expected shape (17, 3), got (12, 3)"
    assert st[3].startswith("dense points disagree in number")
    assert st[4].startswith("dense_xy: expected shape (None, 2), got (")
    alone = register(body, good, cfg)
    assert torch.allclose(fits.vertices[:2], alone.vertices, atol=1e-5)


def test_untilted_depth_prior_ignores_a_wrong_global_tilt(body, easy):
    """Exact keypoint depths plus a tilt (a plane in x, y: the depths of a body leaning 20 degrees more
    towards the camera), keypoints only: as camera-frame depths the tilt pulls the fit away from the truth;
    as depths known up to a global tilt (``keypoints_depth_frame="untilted"``, a lifter's) the fit stays about
    as accurate as with the exact depths. An unknown frame is the sample's own failure, by name."""
    kp = [{k: v for k, v in s.items() if not k.startswith("dense_")} for s in easy[:3]]
    lean = [np.tan(np.radians(20)) * (x[:, 1] - x[[11, 12], 1].mean()) for x in (s["keypoints3d"] for s in kp)]
    tilted = [dict(s, keypoints_depth=s["gt_keypoints_depth"] + d) for s, d in zip(kp, lean)]
    untilted = [dict(s, keypoints_depth_frame="untilted") for s in tilted]
    exact = [dict(s, keypoints_depth=s["gt_keypoints_depth"]) for s in kp]
    gt_R = np.stack([s["gt_rotation"] for s in kp])

    def fit(samples):
        f = register(body, samples, RegistrationConfig.with_iters(150))
        c = (np.einsum("bij,bij->b", f.rotation.numpy(), gt_R) - 1) / 2
        return _pa(body, f, samples).mean(), np.degrees(np.arccos(np.clip(c, -1, 1))).mean()

    (pa_exact, ang_exact), (pa_cam, ang_cam), (pa_untilted, ang_untilted) = map(fit, (exact, tilted, untilted))
    assert ang_cam > ang_untilted + 3, (ang_cam, ang_untilted, ang_exact)
    assert pa_cam > 1.5 * pa_untilted and pa_untilted < pa_exact + 0.01, (pa_cam, pa_untilted, pa_exact)
    wrong = dict(untilted[0], keypoints_depth_frame="world")
    bad = register(body, [wrong, untilted[1]], RegistrationConfig.with_iters(5))
    assert "keypoints_depth_frame" in bad.status[0] and "world" in bad.status[0] and bad.status[1] == "ok"
