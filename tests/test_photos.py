"""Fitting real photos: MediaPipe keypoints and mask (real detector, real photos) -> fit."""

import numpy as np
import pytest
from conftest import shared_data

from dalnb.photos import detect, fit_photos, mediapipe_python

pytestmark = pytest.mark.skipif(
    mediapipe_python() is None, reason="MediaPipe not installed (make creates .venv-mediapipe)"
)


def test_fit_real_photos_reports_keypoint_error(tmp_path):
    photos = sorted(shared_data("06_person_photos").glob("*.jpg"))[:4]
    res = fit_photos(photos, tmp_path)
    ok = [r for r in res if r.status == "ok"]
    assert len(ok) >= 2
    for r in ok:
        assert r.n_keypoints >= 8
        assert 0 < r.keypoint_error_px < 8.0, r
        for p in (r.fit_path, r.mesh_path, r.overlay_path):
            assert p and (tmp_path / p.split("/")[-1]).stat().st_size > 1000
        with np.load(r.fit_path) as z:
            assert np.isfinite(z["vertices"]).all() and z["status"][0] == "ok"
    for r in res:
        assert r.status == "ok" or r.status == "no person detected" or r.status.startswith("nothing usable")


def test_lifted_depths_reach_photo_fits_only_in_chosen_regimes(tmp_path):
    """With a lifter, the photos (keypoints and mask only: the 'keypoints_only' regime) are
    registered with its depths as the soft prior, and their fitted depths move toward them; with
    the prior kept to the dense regime they are not."""
    from dalnb.data.synth import SynthConfig, keypoints_only
    from dalnb.lifter import LifterConfig, lift_depths, train_lifter

    pool = keypoints_only(256, (0, 5), SynthConfig(image_size=64, anny_fraction=0.0))["keypoints2d"]
    lifter = train_lifter(pool, LifterConfig(steps=30, hidden=64, batch=32, device="cpu"))
    photos = sorted(shared_data("06_person_photos").glob("*.jpg"))[:3]
    with_prior = fit_photos(photos, tmp_path / "a", lifter=lifter, depth_regimes=("keypoints_only",))
    without = fit_photos(photos, tmp_path / "b", lifter=lifter, depth_regimes=("dense",))
    det = detect(photos, tmp_path / "a")
    pairs = [(a, b) for a, b in zip(with_prior, without) if a.status == "ok" and b.status == "ok"]
    assert len(pairs) >= 2
    for a, b in pairs:
        assert a.depth_prior and not b.depth_prior
        kp = det[a.path]["keypoints2d"].copy()
        kp[:, 2] = kp[:, 2] >= 0.5
        target = lift_depths(lifter, kp[None])[0]
        ok = np.isfinite(target)
        gap = lambda r: np.abs(r.keypoints_depth[ok] - target[ok]).mean()  # noqa: E731
        assert gap(a) < gap(b), (a.path, gap(a), gap(b))


def test_detector_output_is_coco_ordered(tmp_path):
    p = shared_data("05_keypoints_coco_mpii") / "coco" / "000000000785.jpg"
    d = detect([p], tmp_path)[str(p)]
    assert d["found"] and d["mask"].shape == (425, 640) and d["mask"].sum() > 5000
    from dalnb.data.loaders import load_coco_keypoints

    gt = [s for s in load_coco_keypoints(p.parent / "test_coco.json") if s["image_path"].endswith(p.name)][0][
        "keypoints2d"
    ]
    conf = d["keypoints2d"][:, 2] > 0.5
    # MediaPipe's keypoints agree with COCO's human annotation on this skier (limb joints)
    err = np.linalg.norm(d["keypoints2d"][conf, :2] - gt[conf, :2], axis=1)
    assert conf.sum() >= 10 and np.median(err) < 15


def test_a_bad_file_costs_no_good_photo(tmp_path):
    """A text file named .jpg and a missing path beside a real photo: the photo is fitted, the
    others say why not, in the order given, and the summary names each."""
    good = sorted(shared_data("06_person_photos").glob("*.jpg"))[1]  # [0] has no person MediaPipe finds
    fake = tmp_path / "notes.jpg"
    fake.write_text("not an image")
    res = fit_photos([fake, good, tmp_path / "gone.jpg"], tmp_path / "out")
    assert [r.path for r in res] == [str(fake), str(good), str(tmp_path / "gone.jpg")]
    assert res[1].status == "ok" and np.isfinite(res[1].keypoint_error_px)
    assert res[0].status.startswith("not an image (UnidentifiedImageError") and res[2].status.startswith("no such file")
    from dalnb.photos import load_photo_rows

    rows = load_photo_rows(tmp_path / "out")
    assert [r["status"][:12] for r in rows] == ["not an image", "ok", "no such file"]
