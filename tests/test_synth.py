"""Synthetic samples: ground truth is consistent, generation is deterministic and resumable."""

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dalnb.body.skeleton import COCO17
from dalnb.data.schema import validate_sample
from dalnb.data.store import load_samples
from dalnb.data.synth import (
    SynthConfig,
    generate,
    iuv_image,
    make_samples,
    render_body,
    visibility_tolerance,
)

CFG = SynthConfig(image_size=96, anny_fraction=0.5, shard_size=4)


@pytest.fixture(scope="module")
def samples():
    return make_samples(8, 123, CFG)


def _project(s, pts):
    return s["gt_focal"] * pts[:, :2] / pts[:, 2:] + s["gt_center"]


def test_schema_and_keys(samples):
    for s in samples:
        validate_sample(s)
        assert s["image"].shape == (96, 96, 3) and s["image"].dtype == np.uint8
        assert 40 <= len(s["dense_xy"]) <= CFG.n_dense
    assert {s["shape_source"] for s in samples} == {"anny", "scales"}


def test_dense_points_project_onto_their_pixels_and_are_visible(samples, body):
    from dalnb.render import rasterize

    for s in samples:
        X = s["vertices3d"].astype(np.float64)
        p = _project(s, X[s["dense_vertex"]])
        assert np.abs(p - s["dense_xy"]).max() < 0.5
        uv = _project(s, X)
        fr = rasterize(torch.as_tensor(uv), torch.as_tensor(X[:, 2]), body.faces, 96, 96, perspective=True)
        pix = np.floor(s["dense_xy"]).astype(int)
        zbuf = fr.depth.numpy()[pix[:, 1], pix[:, 0]]
        zv = X[s["dense_vertex"], 2]
        assert np.all(zv <= zbuf + visibility_tolerance(zv, float(s["gt_focal"][0]))), (
            "a dense point's vertex is hidden"
        )
        assert s["mask"][pix[:, 1], pix[:, 0]].all()


def test_keypoints_and_joints_consistent(samples, body):
    for s in samples:
        X = torch.as_tensor(s["vertices3d"])[None]
        kp3 = body.keypoints(X, "coco17")[0].numpy()
        assert np.abs(_project(s, kp3) - s["keypoints2d"][:, :2]).max() < 1e-2
        assert np.allclose(body.keypoints(X, "h36m17")[0].numpy(), s["joints3d"], atol=1e-4)
        assert set(np.unique(s["keypoints2d"][:, 2])) <= {0.0, 1.0, 2.0}


def test_gt_parameters_reproduce_the_mesh(samples, body):
    """For segment-scale bodies, the stored pose, scales, rotation and camera give back the
    vertices (weak perspective: close to the perspective projection)."""
    for s in samples:
        if s["shape_source"] != "scales":
            continue
        out = body(
            torch.as_tensor(s["gt_pose"])[None],
            segment_scales=torch.as_tensor(s["gt_segment_scales"])[None],
            rotation=torch.as_tensor(s["gt_rotation"])[None],
        )
        V = out.vertices[0].numpy()
        X = s["vertices3d"]
        assert np.abs((V - V.mean(0)) - (X - X.mean(0))).max() < 1e-4
        wp = s["gt_camera"][0] * V[:, :2] + s["gt_camera"][1:]
        persp = _project(s, X.astype(np.float64))
        assert np.median(np.linalg.norm(wp - persp, axis=1)) < 0.05 * 96


def test_iuv_map_decodes_to_the_same_surface_point(body):
    rng = np.random.default_rng(0)
    v = body(torch.randn(1, 24, 3) * 0.2).vertices[0].double().numpy()
    rr = render_body(v, rng, SynthConfig(image_size=128, truncation=0.0, occluder=0.0))
    iuv = iuv_image(rr)
    m = rr.face >= 0
    # pixels whose face lies inside one part (seams are where parts meet)
    F = body.data.faces[rr.face[m]]
    inner = (body.parts[F] == body.parts[F][:, :1]).all(1)
    sp = body.charts.iuv_to_surface(iuv[m][inner].astype(np.float64))
    rest = body.data.vertices
    got = (rest[body.data.faces[sp.face]] * sp.bary[..., None]).sum(1)
    truth = (rest[F[inner]] * rr.bary[m][inner][..., None]).sum(1)
    err = np.linalg.norm(got - truth, axis=1)
    assert np.median(err) < 0.005 and np.percentile(err, 95) < 0.03


def test_noise_model_flags_and_stores_settings():
    cfg = SynthConfig(image_size=64, noise_px=3.0, outlier_rate=0.2, swap_rate=0.2, anny_fraction=0.0)
    s = make_samples(4, 5, cfg)
    assert all(np.allclose(x["noise"], [3.0, 0.2, 0.2]) for x in s)
    assert sum(x["dense_outlier"].sum() for x in s) > 0 and sum(x["dense_swapped"].sum() for x in s) > 0
    clean = make_samples(
        4, 5, SynthConfig(image_size=64, anny_fraction=0.0)
    )  # the noise has its own stream: same renders
    for a, b in zip(s, clean):
        assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["keypoints2d"], b["keypoints2d"])
        same = ~(a["dense_outlier"] | a["dense_swapped"])
        assert np.array_equal(a["dense_vertex"][same], b["dense_vertex"][same]) and not np.array_equal(
            a["dense_xy"], b["dense_xy"]
        )
        assert np.median(np.linalg.norm(a["dense_xy"][same] - b["dense_xy"][same], axis=1)) < 3 * 3.0


def test_hair_covers_the_back_and_top_of_the_head_not_the_face():
    from dalnb.data.synth.scene import head_geometry
    from dalnb.render.shade import hair_vertices

    rest, head, eye_y, ear_y, ear_z = head_geometry()
    hair = hair_vertices(rest, head, eye_y, ear_y, ear_z, hairline=0.05, nape=0.04)
    assert hair.any() and not (hair & ~head).any()
    hv = np.flatnonzero(head)
    crown = hv[np.argmax(rest[hv, 1])]
    at_ears = hv[np.abs(rest[hv, 1] - ear_y) < 0.01]
    back, face = (
        at_ears[np.argmin(rest[at_ears, 2])],
        at_ears[np.argmax(rest[at_ears, 2])],
    )  # back of the head, the face
    assert hair[crown] and hair[back] and not hair[face]


def test_hair_changes_only_head_pixels_of_the_same_renders():
    """Hair has a random stream of its own: with and without it, the same bodies, annotations and
    background; only pixels of the body (its head) differ, in most samples."""
    with_hair = make_samples(6, 8, SynthConfig(image_size=64, anny_fraction=0.0, occluder=0.0))
    bald = make_samples(6, 8, SynthConfig(image_size=64, anny_fraction=0.0, occluder=0.0, hair=False))
    changed = 0
    for a, b in zip(with_hair, bald):
        for k in ("keypoints2d", "dense_xy", "dense_vertex", "mask", "joints3d"):
            assert np.array_equal(a[k], b[k]), k
        diff = np.abs(a["image"].astype(int) - b["image"].astype(int)).max(-1) > 0
        assert not (diff & ~a["mask"]).any()
        if diff.any():
            changed += 1
            ys, xs = np.nonzero(diff)
            ears = a["keypoints2d"][[COCO17.index("left_ear"), COCO17.index("right_ear")], :2]
            assert np.linalg.norm(np.stack([xs, ys], 1)[:, None] - ears[None], axis=-1).min(1).max() < 0.2 * 64
    assert changed >= 3, changed


def test_keypoint_noise_moves_only_the_keypoints():
    """A detector's error on the 2D keypoints: about the asked spread, the visibility flags and
    everything else as the clean draw of the same seed (the noise has a stream of its own)."""
    noisy = make_samples(6, 5, SynthConfig(image_size=64, keypoint_noise_px=2.0, noise_px=1.0, anny_fraction=0.0))
    clean = make_samples(6, 5, SynthConfig(image_size=64, noise_px=1.0, anny_fraction=0.0))
    d = np.concatenate([a["keypoints2d"][:, :2] - b["keypoints2d"][:, :2] for a, b in zip(noisy, clean)])
    assert 1.6 < d.std() < 2.4 and abs(d.mean()) < 0.5, (d.std(), d.mean())
    for a, b in zip(noisy, clean):
        assert np.array_equal(a["keypoints2d"][:, 2], b["keypoints2d"][:, 2])
        for k in ("image", "dense_xy", "dense_vertex", "keypoints3d", "gt_keypoints_depth"):
            assert np.array_equal(a[k], b[k]), k


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("shard_*.npz"))}


def test_same_seed_gives_byte_identical_shards(tmp_path):
    cfg = SynthConfig(image_size=48, shard_size=3, anny_fraction=0.3)
    generate(tmp_path / "a", 7, seed=9, cfg=cfg, workers=1, progress=False)
    generate(tmp_path / "b", 7, seed=9, cfg=cfg, workers=2, progress=False)
    da, db = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert len(da) == 3 and da == db
    generate(tmp_path / "c", 7, seed=10, cfg=cfg, workers=1, progress=False)
    assert _digest(tmp_path / "c") != da
    assert len(load_samples(tmp_path / "a")) == 7


def test_killed_run_resumes(tmp_path):
    """Kill a generator after its first shard; a second run finishes with the same bytes as an
    uninterrupted run and leaves no temporary files."""
    script = (
        "import sys; from dalnb.data.synth import SynthConfig, generate\n"
        "generate(sys.argv[1], 60, seed=3, cfg=SynthConfig(image_size=48, shard_size=2, anny_fraction=0.0), "
        "progress=False)\n"
    )
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", script, str(out)])
    t0 = time.time()
    while time.time() - t0 < 120 and len(list(out.glob("shard_*.npz"))) < 1:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    n_before = len(list(out.glob("shard_*.npz")))
    assert 1 <= n_before < 30, n_before
    generate(out, 60, seed=3, cfg=SynthConfig(image_size=48, shard_size=2, anny_fraction=0.0), progress=False)
    generate(
        tmp_path / "ref", 60, seed=3, cfg=SynthConfig(image_size=48, shard_size=2, anny_fraction=0.0), progress=False
    )
    assert _digest(out) == _digest(tmp_path / "ref")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="another config"):
        generate(out, 60, seed=4, cfg=SynthConfig(image_size=48, shard_size=2), progress=False)


def test_keypoints_only_projects_like_the_renderer():
    """The lifter's unrendered pool: keypoints are the perspective projection of the 3D
    keypoints with the returned camera, flagged 0 exactly when outside the crop, with bone
    proportions of real bodies (upper arm shorter than the torso side)."""
    import numpy as np

    from dalnb.data.synth import SynthConfig, keypoints_only

    r = keypoints_only(64, 3, SynthConfig(image_size=64, anny_fraction=0.25))
    kp2, X, cam = r["keypoints2d"], r["keypoints3d"].astype(np.float64), r["camera"].astype(np.float64)
    uv = cam[:, None, :1] * X[..., :2] / X[..., 2:] + cam[:, None, 1:3]
    np.testing.assert_allclose(kp2[..., :2], uv, atol=1e-3)
    inside = ((uv >= 0) & (uv < 64)).all(-1)
    assert np.array_equal(kp2[..., 2] > 0, inside) and inside.mean() > 0.8
    assert (X[..., 2] > 1.5).all()  # in front of the camera, metres away
    arm = np.linalg.norm(X[:, 5] - X[:, 7], axis=-1)
    side = np.linalg.norm(X[:, 5] - X[:, 11], axis=-1)
    assert (arm < side).mean() > 0.9


def test_front_cues_lie_on_the_front_of_the_face_and_top():
    """Eyes, brows and lips on the face (in front of the ears), the V-neck and the chest print on
    the front of the torso, between the shoulders."""
    from dalnb.body import skeleton as sk
    from dalnb.data.synth.scene import cached_body, front_cue_geometry, head_geometry

    rest, head, eye_y, ear_y, ear_z = head_geometry()
    cues = front_cue_geometry()
    seg = np.asarray(cached_body().data.skin_weights).argmax(1)
    kp = np.asarray(cached_body().data.coco_regressor, np.float64) @ rest
    shoulders = kp[[COCO17.index("left_shoulder"), COCO17.index("right_shoulder")]]
    for name in ("eyes", "brows", "mouth"):
        v = cues[name]
        assert v.sum() >= 5 and head[v].all() and (rest[v, 2] > ear_z + 0.05).all(), name
    for name in ("vneck", "print"):
        v = cues[name]
        assert v.sum() >= 10 and (seg[v] != sk.joint_index("head")).all(), name
        assert (rest[v, 2] > shoulders[:, 2].mean()).all() and (np.abs(rest[v, 0]) < shoulders[0, 0]).all(), name
    assert (rest[cues["eyes"], 1] > rest[cues["mouth"], 1].max()).all()
    assert (rest[cues["vneck"], 1] > rest[cues["print"], 1].max()).all()


def test_front_cues_change_only_body_pixels_of_the_same_renders():
    """Front cues have a random stream of their own: the same bodies, annotations and background."""
    cfg = SynthConfig(image_size=96, anny_fraction=0.0, occluder=0.0, truncation=0.0)
    a_s = make_samples(6, 9, cfg)
    b_s = make_samples(6, 9, SynthConfig(**{**cfg.__dict__, "front_cues": False}))
    changed = 0
    for a, b in zip(a_s, b_s):
        for k in ("keypoints2d", "dense_xy", "dense_vertex", "mask", "joints3d"):
            assert np.array_equal(a[k], b[k]), k
        diff = np.abs(a["image"].astype(int) - b["image"].astype(int)).max(-1) > 0
        assert not (diff & ~a["mask"]).any()
        changed += bool(diff.any())
    assert changed >= 4, changed
