"""The regressor, the fit store, training (resume, NaN, DDP) and the rounds."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import run_torchrun

from dalnb import rotations as rot
from dalnb.data.schema import SampleError
from dalnb.data.synth import SynthConfig, make_samples
from dalnb.fitting import RegistrationConfig, register
from dalnb.regressor import (
    LAYOUT,
    Prediction,
    Regressor,
    RegressorConfig,
    fits_to_params,
    mean_params,
    params_to_body,
    regressor_loss,
)
from dalnb.training import (
    FitStore,
    RoundsConfig,
    TrainConfig,
    build_trainset,
    predict,
    predict_in_image,
    regressor_path,
    run_rounds,
    train_regressor,
)
from dalnb.training.augment import Mirror, mirror_params

S = 48


@pytest.fixture(scope="module")
def samples():
    return make_samples(12, 5, SynthConfig(image_size=S, anny_fraction=0.0, n_dense=60))


@pytest.fixture(scope="module")
def fits(body, samples):
    return register(body, samples, RegistrationConfig.with_iters(40))


def small_cfg(**kw):
    return RoundsConfig(
        rounds=2,
        first_iters=20,
        later_iters=10,
        refine_iters=5,
        epochs_per_round=2,
        n_eval=4,
        train=TrainConfig(batch=4, lr=1e-3),
        regressor=RegressorConfig(image_size=S, hidden=64),
        **kw,
    )


def test_regressor_starts_from_mean_and_decodes(body):
    m = Regressor(RegressorConfig(image_size=S, hidden=32)).eval()
    x = m(torch.rand(2, 3, S, S))
    assert x.shape == (2, LAYOUT.dim)
    torch.testing.assert_close(x, mean_params(2))  # zero-initialised last layer: the mean, refined by nothing yet
    p = Prediction.from_flat(x)
    out = params_to_body(body, p)
    torch.testing.assert_close(p.rotation()[0], torch.diag(torch.tensor([1.0, -1.0, -1.0])))
    assert out.vertices.shape == (2, body.num_vertices, 3) and torch.isfinite(out.vertices).all()
    with pytest.raises(ValueError, match=r"expected \(B, 3, H, W\)"):
        m(torch.rand(2, S, S))
    with torch.no_grad():  # whatever the head outputs, the global rotation is proper (no reflections)
        m.head[-1].bias.normal_(0, 3, generator=torch.Generator().manual_seed(1))
    R = Prediction.from_flat(m(torch.rand(4, 3, S, S))).rotation()
    assert torch.allclose(torch.linalg.det(R), torch.ones(4), atol=1e-5)


def test_targets_round_trip_the_fit_parameters(body, fits):
    """fit -> regression target -> decoded parameters gives the fit's mesh and camera back."""
    p = fits_to_params(fits.pose, fits.segment_scales, fits.rotation, fits.camera, S)
    assert (p.quat[..., 3] >= 0).all()
    out = params_to_body(body, p)
    torch.testing.assert_close(out.vertices, fits.vertices, atol=2e-5, rtol=0)
    torch.testing.assert_close(p.pixel_camera(S), fits.camera, atol=1e-4, rtol=1e-5)


def test_loss_vanishes_at_the_target(body, fits, samples):
    """At the fit's own parameters the parameter loss is 0 and the dense/keypoint losses equal
    the fit's residuals (small); a perturbed prediction scores worse on every term."""
    from dalnb.training.train import _kp_support

    data = build_trainset(samples, S)
    tgt = fits_to_params(fits.pose, fits.segment_scales, fits.rotation, fits.camera / S, 1).flat()
    sup, reg = _kp_support(body)
    args = (data.dense_vertex, data.dense_xy, data.dense_w, data.keypoints, sup, reg, RegressorConfig())
    T = regressor_loss(body, tgt, tgt, *args)
    assert float(T["params"]) < 1e-9 and float(T["dense"]) < 2e-3 and float(T["keypoints"]) < 2e-3
    T2 = regressor_loss(
        body, tgt + 0.05 * torch.randn(tgt.shape, generator=torch.Generator().manual_seed(0)), tgt, *args
    )
    for k in ("params", "dense", "keypoints"):
        assert float(T2[k]) > 3 * float(T[k]), k


def test_pose_weight_scales_only_the_quaternion_term(body, fits, samples):
    """RegressorConfig.w_pose multiplies the quaternions' smooth-L1 and nothing else: with only
    the pose perturbed the parameter loss scales with it; with only the camera perturbed it does not."""
    from dalnb.training.train import _kp_support

    data = build_trainset(samples, S)
    tgt = fits_to_params(fits.pose, fits.segment_scales, fits.rotation, fits.camera / S, 1).flat()
    sup, reg = _kp_support(body)
    args = (data.dense_vertex, data.dense_xy, data.dense_w, data.keypoints, sup, reg)
    noise = 0.05 * torch.randn(tgt.shape, generator=torch.Generator().manual_seed(0))
    only = {k: torch.zeros_like(tgt) for k in ("quat", "camera")}
    only["quat"][:, LAYOUT.quat] = noise[:, LAYOUT.quat]
    only["camera"][:, LAYOUT.camera] = noise[:, LAYOUT.camera]
    loss = {
        (k, w): float(regressor_loss(body, tgt + d, tgt, *args, RegressorConfig(w_pose=w))["params"])
        for k, d in only.items()
        for w in (1.0, 10.0)
    }
    assert loss[("quat", 1.0)] > 0 and loss[("quat", 10.0)] == pytest.approx(10 * loss[("quat", 1.0)], rel=1e-5)
    assert loss[("camera", 1.0)] > 0 and loss[("camera", 10.0)] == pytest.approx(loss[("camera", 1.0)], rel=1e-6)


def test_joint_losses_see_pose_and_shape_and_the_camera_frame_also_the_rotation(body, fits, samples):
    """The 3D joint terms vanish at the target; a prediction that differs only in its global
    rotation leaves the body-frame term at 0 and moves the camera-frame term, one that differs in
    pose moves both; off (weight 0) they are not computed and the total is the rest."""
    from dalnb.training.train import _kp_support

    data = build_trainset(samples, S)
    tgt = fits_to_params(fits.pose, fits.segment_scales, fits.rotation, fits.camera / S, 1).flat()
    sup, reg = _kp_support(body)
    args = (data.dense_vertex, data.dense_xy, data.dense_w, data.keypoints, sup, reg)
    on = RegressorConfig(w_joints=10.0, w_joints_camera=5.0)
    T = regressor_loss(body, tgt, tgt, *args, on)
    assert float(T["joints"]) < 1e-10 and float(T["joints_camera"]) < 1e-10
    turned = tgt.clone()
    R = Prediction.from_flat(tgt).rotation() @ rot.axis_angle_to_matrix(torch.tensor([[0.0, 0.5, 0.0]]))
    turned[:, LAYOUT.rot9] = R.reshape(-1, 9)
    T = regressor_loss(body, turned, tgt, *args, on)
    assert float(T["joints"]) < 1e-10 and float(T["joints_camera"]) > 1e-3
    posed = tgt.clone()
    posed[:, LAYOUT.quat] += 0.2 * torch.randn(posed[:, LAYOUT.quat].shape, generator=torch.Generator().manual_seed(2))
    T = regressor_loss(body, posed, tgt, *args, on)
    off = regressor_loss(body, posed, tgt, *args, RegressorConfig(w_joints=0.0, w_joints_camera=0.0))
    assert float(T["joints"]) > 1e-3 and float(T["joints_camera"]) > 1e-3 and "joints" not in off
    assert float(T["total"]) == pytest.approx(
        float(off["total"]) + 10 * float(T["joints"]) + 5 * float(T["joints_camera"]), rel=1e-5
    )


def test_mean_pose_error_is_the_error_of_one_body_for_all(body, fits, samples):
    """rounds.mean_pose_error: the targets' mean body (where the regressor starts) scored on
    samples with ground truth; equals the metric of that body placed in every sample, is
    larger than the fits' own error and is NaN without ground truth."""
    from dalnb.metrics import pa_mpjpe
    from dalnb.regressor import mean_target
    from dalnb.training import mean_pose_error

    tgt = fits_to_params(fits.pose, fits.segment_scales, fits.rotation, fits.camera / S, 1).flat()
    m = mean_target(tgt)
    assert torch.allclose(Prediction.from_flat(m[None]).quat.norm(dim=-1), torch.ones(1, 23))
    model = Regressor(RegressorConfig(image_size=S, hidden=32)).eval()
    model.set_mean(tgt)
    with torch.no_grad():
        out = predict(body, model, build_trainset(samples, S))  # a fresh head outputs its mean for every image
    gt = np.stack([s["joints3d"] for s in samples])
    want = pa_mpjpe(body.keypoints(out.vertices, "h36m17").numpy(), gt).mean() * 1000
    assert mean_pose_error(body, tgt, samples) == pytest.approx(want, rel=1e-4)
    own = pa_mpjpe(body.keypoints(fits.vertices, "h36m17").numpy(), gt).mean() * 1000
    assert mean_pose_error(body, tgt, samples) > own
    assert np.isnan(mean_pose_error(body, tgt, [{k: v for k, v in s.items() if k != "joints3d"} for s in samples]))


def test_mirrored_batch_is_the_mirrored_body(body, fits, samples):
    """Mirroring a training batch (TrainConfig.mirror): the mirrored target's mesh is the
    mirror image of the fit's, vertex for vertex (the template is symmetric), it explains the
    mirrored dense points and keypoints as well as the fit explains the originals, and
    mirroring twice changes nothing."""
    from dalnb.training.train import _kp_support

    data = build_trainset(samples, S)
    tgt = fits_to_params(fits.pose, fits.segment_scales, fits.rotation, fits.camera / S, 1).flat()
    mir = Mirror.of(body)
    assert torch.equal(mir.vertex_map[mir.vertex_map], torch.arange(body.num_vertices))
    which = torch.arange(len(samples)) % 2 == 0
    img, t2, dv, dxy, kp = mir.batch(data.images.float(), tgt, data.dense_vertex, data.dense_xy, data.keypoints, which)
    assert torch.equal(img[0], data.images[0].float().flip(-1)) and torch.equal(img[1], data.images[1].float())
    torch.testing.assert_close(t2[1::2], tgt[1::2])
    V = params_to_body(body, Prediction.from_flat(tgt)).vertices
    Vm = params_to_body(body, Prediction.from_flat(mirror_params(tgt))).vertices
    torch.testing.assert_close(Vm[:, mir.vertex_map], V * torch.tensor([-1.0, 1.0, 1.0]), atol=2e-5, rtol=0)
    torch.testing.assert_close(mirror_params(mirror_params(tgt)), tgt)
    sup, reg = _kp_support(body)
    T0 = regressor_loss(
        body, tgt, tgt, data.dense_vertex, data.dense_xy, data.dense_w, data.keypoints, sup, reg, RegressorConfig()
    )
    T1 = regressor_loss(body, t2, t2, dv, dxy, data.dense_w, kp, sup, reg, RegressorConfig())
    assert abs(float(T1["dense"]) - float(T0["dense"])) < 1e-5 and float(T1["keypoints"]) < 2e-3
    wrong = regressor_loss(body, tgt, tgt, dv, dxy, data.dense_w, kp, sup, reg, RegressorConfig())  # unmirrored targets
    assert float(wrong["dense"]) > 10 * float(T1["dense"])


def test_fit_store_accepts_only_improvements(fits):
    st = FitStore(fits.sample_ids)
    assert st.update(fits, 1) == len(fits)
    worse = fits.take(list(range(len(fits))))
    worse.losses = {"total": fits.losses["total"] * 2}
    worse.pose = worse.pose + 1
    assert st.update(worse, 2) == 0 and torch.equal(st.pose, fits.pose.float())
    better = fits.take([0, 1])
    better.losses = {"total": fits.losses["total"][:2] / 2}
    better.status = np.array(["ok", "diverged (non-finite fit)"])
    assert st.update(better, 3) == 1  # a failed fit never enters, however low its loss
    assert st.round.tolist()[:3] == [3, 1, 1]


def test_bad_image_is_named_or_skipped(samples):
    bad = [dict(s) for s in samples[:3]]
    bad[1]["image"] = bad[1]["image"][:, :-5]
    with pytest.raises(SampleError, match=bad[1]["sample_id"]):
        build_trainset(bad, S)
    ts = build_trainset(bad, S, skip_bad=True)
    assert len(ts) == 2 and ts.skipped == [bad[1]["sample_id"]]


def test_nan_loss_stops_and_names_the_step(body, samples, tmp_path):
    m = Regressor(RegressorConfig(image_size=S, hidden=32))
    with torch.no_grad():
        m.head[-1].bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 0"):
        train_regressor(
            body, m, build_trainset(samples, S), None, TrainConfig(epochs=1, batch=4), ckpt=tmp_path / "c.pt"
        )
    assert not (tmp_path / "c.pt").exists()


def test_killed_run_resumes_to_the_same_result(body, samples, monkeypatch, tmp_path):
    train, test = samples[:8], samples[8:]
    ref = run_rounds(body, train, test, tmp_path / "a", small_cfg(), progress=False)
    import dalnb.training.train as R

    real, calls = R.atomic_torch_save, []

    def dying(path, state):  # the process dies right after round 2's first checkpoint
        real(path, state)
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(R, "atomic_torch_save", dying)
    with pytest.raises(KeyboardInterrupt):
        run_rounds(body, train, test, tmp_path / "b", small_cfg(), progress=False)
    assert not (tmp_path / "b" / "round2" / "metrics.json").exists()
    monkeypatch.setattr(R, "atomic_torch_save", real)
    again = run_rounds(body, train, test, tmp_path / "b", small_cfg(), progress=False)
    for a, b in zip(ref, again):
        for k in ("mpjpe_mm", "pa_mpjpe_mm", "pixel_err", "refined_pixel_err", "fits_replaced"):
            assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-6), k
    wa = torch.load(tmp_path / "a" / "round2" / "regressor.pt", weights_only=False)["model"]
    wb = torch.load(tmp_path / "b" / "round2" / "regressor.pt", weights_only=False)["model"]
    assert regressor_path(tmp_path / "b", 2) == tmp_path / "b" / "round2" / "regressor.pt"  # where the notebooks look
    assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-6) for k in wa)
    rows = [json.loads((tmp_path / "b" / f"round{r}" / "metrics.json").read_text()) for r in (1, 2)]
    assert [r["round"] for r in rows] == [1, 2] and rows[1]["train_samples"] == 8
    assert all(np.isfinite(r["mean_pose_pa_mpjpe_mm"]) for r in rows)


def test_prediction_in_the_original_image(body, samples):
    """predict_in_image crops around the keypoints; its camera maps back to the original
    pixels: projecting with it equals projecting in the crop and undoing the crop."""
    from dalnb.data.crop import crop_sample

    m = Regressor(RegressorConfig(image_size=32, hidden=32)).eval()
    s = samples[0]
    full = predict_in_image(body, m, [s])
    c = crop_sample(s, 32)
    inner = predict(body, m, build_trainset([c], 32))
    x0, y0, side = c["crop_box"]
    P = full.vertices[0, :50]
    a = full.camera[0, 0] * P[:, :2] + full.camera[0, 1:]
    b = (inner.camera[0, 0] * P[:, :2] + inner.camera[0, 1:]) * (side / 32) + torch.tensor([x0, y0])
    torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-4)


def test_crop_moves_annotations_with_the_pixels(samples):
    from dalnb.data.crop import crop_sample

    s = dict(samples[1])
    img = np.zeros_like(s["image"])
    x, y = np.round(s["keypoints2d"][0, :2]).astype(int)
    img[y - 1 : y + 2, x - 1 : x + 2] = 255  # a bright dot on the nose keypoint
    s["image"] = img
    c = crop_sample(s, 96)
    u, v = c["keypoints2d"][0, :2]
    yy, xx = np.nonzero(c["image"][..., 0] > 100)
    assert abs(xx.mean() - u) < 2.5 and abs(yy.mean() - v) < 2.5


def test_ddp_training_under_torchrun(tmp_path):
    """Two CPU processes (gloo) train one model: both ranks end with the same weights, which
    moved away from the start."""
    script = tmp_path / "ddp.py"
    script.write_text(
        "import os, sys, torch\nfrom dalnb import BodyModel\nfrom dalnb.data.synth import SynthConfig, make_samples\n"
        "from dalnb.regressor import Regressor, RegressorConfig\nfrom dalnb.training import TrainConfig, "
        "build_trainset, train_regressor\n"
        "torch.manual_seed(0)\nm = Regressor(RegressorConfig(image_size=32, hidden=32))\n"
        "w0 = torch.cat([p.detach().flatten() for p in m.parameters()]).clone()\n"
        "d = build_trainset(make_samples(8, 3, SynthConfig(image_size=32, anny_fraction=0.0, n_dense=30)), 32)\n"
        "train_regressor(BodyModel.default(), m, d, None, TrainConfig(epochs=2, batch=2), ckpt=sys.argv[1] + '/c.pt')\n"
        "w = torch.cat([p.detach().flatten() for p in m.parameters()])\n"
        "torch.save({'w': w, 'moved': float((w - w0).abs().max())}, sys.argv[1] + '/rank' + "
        "os.environ['RANK'] + '.pt')\n"
    )
    run_torchrun(script, str(tmp_path))
    a, b = (torch.load(tmp_path / f"rank{k}.pt") for k in (0, 1))
    assert torch.equal(a["w"], b["w"]) and a["moved"] > 1e-4
    assert torch.load(tmp_path / "c.pt", weights_only=False)["epoch"] == 2


def test_final_finetune_on_a_subset(body, samples, tmp_path):
    train, test = samples[:8], samples[8:]
    cfg = replace(small_cfg(), rounds=1, epochs_per_round=1, finetune_epochs=1, finetune_where={"pose_source": "mocap"})
    rows = run_rounds(body, train, test, tmp_path, cfg, progress=False)
    n_mocap = sum(s["pose_source"] == "mocap" for s in train)
    assert 0 < n_mocap < len(train)
    assert (
        rows[-1]["finetune"]
        and rows[-1]["train_samples"] == n_mocap
        and (tmp_path / "finetune" / "regressor.pt").exists()
    )
    with pytest.raises(ValueError, match="no fitted training sample matches"):
        run_rounds(
            body, train, test, tmp_path / "x", replace(cfg, finetune_where={"pose_source": "nothing"}), progress=False
        )


def test_rounds_under_torchrun(tmp_path):
    """Two CPU processes run the rounds together: registration split over the ranks (each
    rank's share written, then all fits in sample order), DDP training, identical metrics on
    both ranks."""
    script = tmp_path / "rounds.py"
    script.write_text(
        "import json, os, sys\nfrom dalnb import BodyModel\nfrom dalnb.data.synth import SynthConfig, make_samples\n"
        "from dalnb.regressor import RegressorConfig\nfrom dalnb.training import RoundsConfig, TrainConfig, "
        "run_rounds\n"
        "s = make_samples(10, 5, SynthConfig(image_size=32, anny_fraction=0.0, n_dense=30))\n"
        "cfg = RoundsConfig(rounds=2, first_iters=10, later_iters=5, refine_iters=0, epochs_per_round=1, n_eval=2,\n"
        "                   train=TrainConfig(batch=2), regressor=RegressorConfig(image_size=32, hidden=32))\n"
        "rows = run_rounds(BodyModel.default(), s[:8], s[8:], sys.argv[1], cfg, progress=False)\n"
        "json.dump(rows, open(os.path.join(sys.argv[1], 'rank' + os.environ['RANK'] + '.json'), 'w'))\n"
    )
    run_torchrun(script, str(tmp_path))
    a, b = (json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1))
    assert [x["mpjpe_mm"] for x in a] == pytest.approx([x["mpjpe_mm"] for x in b], rel=1e-6)
    assert a[0]["fits_replaced"] == 8 and {p.name for p in (tmp_path / "round1").glob("fits*.npz")} == {
        "fits.npz",
        "fits.rank0.npz",
        "fits.rank1.npz",
    }
    from dalnb import BodyModel
    from dalnb.fitting import load_fits

    f = load_fits(tmp_path / "round2" / "fits.npz", BodyModel.default())
    assert len(f) == 8 and len(set(f.sample_ids)) == 8


def test_ground_truth_fits_rebuild_each_render_s_body_and_camera(body):
    """The true parameters as fits: skinned, they give the render's camera-frame vertices (up to a
    translation) and project onto its dense points within weak perspective's error."""
    from dalnb.data.synth import SynthConfig, make_samples
    from dalnb.fitting import skin_parameters
    from dalnb.training import ground_truth_fits

    ss = make_samples(6, 5, SynthConfig(image_size=96, anny_fraction=0.5, truncation=0.0))
    fits = ground_truth_fits(ss)
    kept = [s for s in ss if s["shape_source"] == "scales"]
    assert fits.sample_ids == [s["sample_id"] for s in kept] and 0 < len(kept) < len(ss)
    V, _ = skin_parameters(body, fits.pose, fits.segment_scales, fits.rotation)
    for v, s, cam in zip(V.numpy(), kept, fits.camera.numpy()):
        truth = s["vertices3d"]
        assert np.abs((v - v.mean(0)) - (truth - truth.mean(0))).max() < 1e-4
        px = cam[0] * v[s["dense_vertex"], :2] + cam[1:]
        assert np.linalg.norm(px - s["dense_xy"], axis=1).mean() < 2.0
    with pytest.raises(ValueError, match="no sample with gt_pose"):
        ground_truth_fits([{k: v for k, v in s.items() if k != "gt_pose"} for s in ss])
