"""Real sources (dalnb.data.sources): each KIND read from real files into crops of the one
schema; a missing source or one not of its kind fails at once naming the path; bad records are
skipped and named, the rest written; the writer streams, splits and resumes."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data
from real_sources import all_sources, densepose_coco_json, h36m_folder

from dalnb import load_samples
from dalnb.data.loaders import DataError
from dalnb.data.sources import KEYS, KINDS, SourcePlan, check_source, parse_source, write_source
from dalnb.data.sources import write as W
from dalnb.photos import mediapipe_python
from dalnb.study.inputs import load_real_tests, real_kinds

PLAN = SourcePlan(n_train=12, n_test=4, image_size=64, test_every=5, shard_size=4)


def write(tmp: Path, spec: str, plan: SourcePlan = PLAN) -> tuple[dict, list[dict], list[dict]]:
    src = parse_source(spec)
    rep = write_source(src, tmp / "train", tmp / "test", tmp / "report.json", plan)
    return rep, load_samples(tmp / "train"), load_samples(tmp / "test")


def test_parse_source_names_the_kinds(tmp_path):
    s = parse_source(f"coco={tmp_path}/a.json:{tmp_path}/imgs")
    assert (s.kind, s.path.name, s.extra.name) == ("coco", "a.json", "imgs")
    with pytest.raises(DataError, match="unknown kind 'densepose'.*densepose_coco, coco, mpii, h36m, photos"):
        parse_source("densepose=x.json")
    with pytest.raises(DataError, match="expected KIND=PATH"):
        parse_source("photos")


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_missing_source_fails_naming_its_path(kind, tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path}/nothing: no such file or folder \\(source {kind}: expected"):
        check_source(parse_source(f"{kind}={tmp_path}/nothing"))


@pytest.mark.parametrize(
    "kind, content, message",
    [
        ("densepose_coco", "[1, 2]", "starts with '\\[', expected '\\{'"),
        ("coco", "id,x,y\n1,2,3", "starts with 'i', expected '\\{'"),
        ("mpii", '{"images": []}', "starts with '\\{', expected '\\['"),
        ("h36m", '{"S": []}', "not an .npz archive"),
    ],
)
def test_a_source_not_of_its_kind_fails_at_once(kind, content, message, tmp_path):
    f = tmp_path / "file.json"
    f.write_text(content)
    with pytest.raises(DataError, match=f"{f}: {message}"):
        check_source(parse_source(f"{kind}={f}"))


def test_photos_must_be_a_folder_with_photos(tmp_path):
    (tmp_path / "notes.txt").write_text("no photo here")
    with pytest.raises(DataError, match=f"{tmp_path}: no .jpg, .jpeg or .png file in it"):
        check_source(parse_source(f"photos={tmp_path}"))
    with pytest.raises(DataError, match="not a folder"):
        check_source(parse_source(f"photos={tmp_path / 'notes.txt'}"))


def test_h36m_needs_its_cameras(tmp_path):
    npz = h36m_folder(tmp_path)
    (tmp_path / "cameras.pkl").unlink()
    with pytest.raises(DataError, match="cameras.pkl: no such file"):
        check_source(parse_source(f"h36m={npz}"))


def test_a_keypoints_file_is_not_densepose(tmp_path):
    coco = shared_data("05_keypoints_coco_mpii") / "coco" / "test_coco.json"
    with pytest.raises(DataError, match="none of its 14 annotations has DensePose fields"):
        write(tmp_path, f"densepose_coco={coco}")


def test_densepose_coco_streams_splits_and_skips_bad_records(tmp_path):
    path = densepose_coco_json(tmp_path / "dp", copies=8)
    d = json.loads(path.read_text())
    d["annotations"][2]["dp_I"][0] = 31  # out of DensePose's 1..24
    d["annotations"][3]["image_id"] = 99  # no such image
    d["annotations"][4]["dp_U"] = d["annotations"][4]["dp_U"][:-1]  # lengths differ
    d["annotations"].append(
        {"id": 7, "image_id": 1, "bbox": [0, 0, 1, 1], "keypoints": [0] * 51}
    )  # a keypoints-only person
    path.write_text(json.dumps({"annotations": d["annotations"], "images": d["images"]}))  # images after annotations
    rep, train, test = write(tmp_path, f"densepose_coco={path}")
    assert (rep["read"], rep["bad"], rep["unused"]) == (9, 3, {"no DensePose points": 1})
    msgs = "\n".join(rep["bad_records"])
    for i, why in (
        (2, "dp_I must lie in 1..24, got \\[\\d.0, 31.0\\]"),
        (3, "image_id 99 is not in the file's images table"),
        (4, "lengths differ"),
    ):
        assert f"{path} annotation {i} (id {100 + i})" in msgs
        assert __import__("re").search(why, msgs), (why, msgs)
    assert len(train) + len(test) == 5 and len(test) == 1  # usable people 0 (test), 1, 5, 6, 7
    s = test[0]
    assert set(s) == set(KEYS["densepose_coco"]) and s["image"].shape == (64, 64, 3)
    assert s["sample_id"] == "densepose-coco-100" and s["source"] == "densepose_coco"
    assert len(s["dense_xy"]) == 125 and s["dense_xy"].min() >= 0 and s["dense_xy"].max() <= 64


def test_coco_skips_a_bad_annotation_and_people_with_few_keypoints(tmp_path):
    src = shared_data("05_keypoints_coco_mpii") / "coco"
    d = json.loads((src / "test_coco.json").read_text())
    d["annotations"][1]["keypoints"] = d["annotations"][1]["keypoints"][:12]
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(d))
    rep, train, test = write(tmp_path, f"coco={path}:{src}")
    assert rep["bad"] == 1 and f"{path} annotation 1" in rep["bad_records"][0] and "51 numbers" in rep["bad_records"][0]
    assert rep["unused"].get("fewer than 6 labelled keypoints", 0) >= 1
    assert len(train) + len(test) == rep["read"] - rep["bad"] - sum(rep["unused"].values())
    assert all((s["keypoints2d"][:, 2] > 0).sum() >= 6 for s in train + test)


def test_mpii_skips_a_bad_record(tmp_path):
    src = shared_data("05_keypoints_coco_mpii") / "mpii"
    d = json.loads((src / "test_mpii.json").read_text())
    d[3]["joints"] = d[3]["joints"][:12]
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps(d))
    rep, train, test = write(tmp_path, f"mpii={path}:{src}")
    assert rep["bad"] == 1 and rep["bad_records"][0].startswith(f"{path} record 3: joints must be (16, 2)")
    assert len(train) + len(test) == 4 and set(train[0]) == set(KEYS["mpii"])


def test_h36m_test_subjects_are_its_test_set_and_a_bad_frame_is_skipped(tmp_path):
    npz = h36m_folder(tmp_path / "h36m")
    with np.load(npz) as z:
        d = {k: z[k] for k in z.files}
    d["S"][1, 3, 0] = np.nan
    np.savez(npz, **d)
    rep, train, test = write(tmp_path, f"h36m={npz}")
    assert rep["bad"] == 1 and "record 1" in rep["bad_records"][0] and "must be finite" in rep["bad_records"][0]
    assert sorted(s["subject"] for s in train) == ["S1", "S7", "S8"]
    assert sorted(s["subject"] for s in test) == ["S11", "S11", "S9", "S9"]
    assert test[0]["joints3d"].shape == (17, 3) and set(test[0]) == set(KEYS["h36m"])


def test_photos_a_text_file_named_jpg_costs_no_good_photo(tmp_path):
    if mediapipe_python() is None:
        pytest.skip("MediaPipe not installed (make creates .venv-mediapipe)")
    folder = tmp_path / "photos"
    folder.mkdir()
    good = sorted(shared_data("06_person_photos").glob("*.jpg"))[1:3]  # two in which MediaPipe finds a person
    for p in good:
        shutil.copy(p, folder / p.name)
    (folder / "AAA_notes.jpg").write_text("this is not a photo")
    rep, train, test = write(tmp_path, f"photos={folder}")
    assert rep["bad"] == 1 and rep["bad_records"][0].startswith(f"{folder / 'AAA_notes.jpg'}: not an image")
    people = train + test
    assert len(people) == 2 and {s["sample_id"] for s in people} == {f"photo-{p.stem}" for p in good}
    assert all((s["keypoints2d"][:, 2] >= 0.5).sum() >= 6 for s in people)


def test_a_killed_write_resumes_to_the_same_crops(tmp_path, monkeypatch):
    path = densepose_coco_json(tmp_path / "dp", copies=8)
    whole, _, _ = write(tmp_path / "whole", f"densepose_coco={path}")
    real = W.records

    def dies_after_five(src, cache):
        for i, r in enumerate(real(src, cache)):
            if i == 5:
                raise KeyboardInterrupt
            yield r

    monkeypatch.setattr(W, "records", dies_after_five)
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path / "resumed", f"densepose_coco={path}")
    assert (tmp_path / "resumed" / "report.partial.json").exists() and not (
        tmp_path / "resumed" / "report.json"
    ).exists()
    monkeypatch.setattr(W, "records", real)
    rep, train, test = write(tmp_path / "resumed", f"densepose_coco={path}")
    assert {k: rep[k] for k in ("read", "train", "test", "bad")} == {
        k: whole[k] for k in ("read", "train", "test", "bad")
    }
    again = load_samples(tmp_path / "whole" / "train")
    assert [s["sample_id"] for s in train] == [s["sample_id"] for s in again]
    assert all(np.array_equal(a["image"], b["image"]) for a, b in zip(train, again))


def test_every_kind_at_once_through_the_run_folder(tmp_path):
    from dalnb.config import apply_overrides, get_preset
    from dalnb.data.sources import prepare_sources
    from dalnb.run import Run

    if mediapipe_python() is None:
        pytest.skip("MediaPipe not installed (make creates .venv-mediapipe)")
    cfg = apply_overrides(get_preset("tiny"), {"data.sources": all_sources(tmp_path / "src")}).resolve()
    run = Run(tmp_path / "run")
    reps = prepare_sources(run, cfg, progress=False)
    assert [r["kind"] for r in reps] == list(KINDS) == real_kinds(run)
    train = load_samples(run.data("train"))  # the real crops sit inside the training folder
    assert {s["source"] for s in train} == set(KINDS)
    assert set(load_real_tests(run)) == {"densepose_coco", "coco", "mpii", "h36m", "photos"}
    # a source no longer named leaves the training set
    cfg2 = apply_overrides(cfg, {"data.sources": {"coco": cfg.data.sources["coco"]}})
    prepare_sources(run, cfg2, progress=False)
    assert real_kinds(run) == ["coco"] and {s["source"] for s in load_samples(run.data("train"))} == {"coco"}


@pytest.fixture(scope="module")
def real_chain(tmp_path_factory):
    """The chain (tiny preset) with every KIND of real source beside the renders, named as on the
    command line (``--source``), through papermill."""
    from dalnb.pipeline import _parse_sources, run_pipeline

    if mediapipe_python() is None:
        pytest.skip("MediaPipe not installed (make creates .venv-mediapipe)")
    tmp = tmp_path_factory.mktemp("real_chain")
    sources = _parse_sources([f"{k}={v}" for k, v in all_sources(tmp / "src").items()])
    results = run_pipeline(
        "tiny", tmp / "run", reports=tmp / "reports", extra_parameters={"overrides": {"data.sources": sources}}
    )
    return tmp, results


def _text(ipynb: Path) -> str:
    nb = json.loads(ipynb.read_text())
    return "\n".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for c in nb["cells"]
        for o in c.get("outputs", [])
    )


def test_the_chain_runs_on_every_kind_of_real_source(real_chain):
    tmp, results = real_chain
    assert [r.status for r in results] == ["ok"] * 6, [(r.name, r.error) for r in results]
    run = tmp / "run"
    from dalnb.run import Run

    assert real_kinds(Run(run)) == list(KINDS)
    fitted = {f.name for f in (run / "fits" / "round0").glob("fits_*.npz")}
    assert {f"fits_{k}_00000.npz" for k in KINDS} <= fitted  # registration fitted every source's images
    last = json.loads(sorted((run / "rounds").glob("round*/metrics.json"))[-1].read_text())
    for kind in ("coco", "mpii", "h36m", "photos"):  # every real test set with keypoints: measured in the image
        assert np.isfinite(last[f"{kind}/keypoint_err_px"]), kind
    assert np.isfinite(
        [last["densepose_coco/pixel_err"], last["h36m/pa_mpjpe_mm"], last["photos/keypoint_err_px"]]
    ).all()
    t01, t04, t05, t06 = (_text(r.ipynb) for r in (results[0], results[3], results[4], results[5]))
    assert all(k in t01 for k in KINDS) and "bad records" in t01
    assert "photos" in t04 and "keypoint_err_px" in t04
    assert "Human3.6M S9/S11 (4 frames), this run" in t05  # Table 1's rows on the test subjects
    assert "DensePose-COCO, held out" in t05  # Table 2's row on held-out DensePose people
    assert "DensePose-COCO only" in t06 and "Human3.6M only" in t06  # Table 3 on the paper's datasets
    from test_notebooks import check_reports_offline

    check_reports_offline(tmp / "reports" / "run")  # the real crops' pages stand alone offline too


def test_h36m_in_mmpose_layout_names_images_and_cameras(tmp_path):
    """mmpose keeps the npz, the images and cameras.pkl in three places: h36m=NPZ:IMAGES:CAMERAS."""
    h36m_folder(tmp_path / "h36m")
    (tmp_path / "ann" / "fps50").mkdir(parents=True)
    shutil.move(tmp_path / "h36m" / "h36m_body3d.npz", tmp_path / "ann" / "fps50" / "h36m_train.npz")
    shutil.move(tmp_path / "h36m" / "cameras.pkl", tmp_path / "ann" / "cameras.pkl")
    spec = f"h36m={tmp_path}/ann/fps50/h36m_train.npz:{tmp_path}/h36m:{tmp_path}/ann/cameras.pkl"
    src = check_source(parse_source(spec))
    assert parse_source(f"h36m={src.location()}") == src
    rep, train, test = write(tmp_path / "out", spec)
    assert (rep["bad"], len(train), len(test)) == (0, 4, 4)


def test_the_pipeline_refuses_a_bad_source_before_any_notebook(tmp_path, capsys):
    from dalnb.pipeline import main

    with pytest.raises(SystemExit, match=f"--source: {tmp_path}/none: no such file or folder \\(source photos"):
        main(["--preset", "tiny", "--run-dir", str(tmp_path / "run"), "--source", f"photos={tmp_path}/none"])
    with pytest.raises(SystemExit, match="unknown kind 'smpl'"):
        main(["--preset", "tiny", "--run-dir", str(tmp_path / "run"), "--source", "smpl=model.pkl"])
    assert not (tmp_path / "run" / "config").exists()
