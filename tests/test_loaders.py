"""Loaders on the real files in ../shared/data (skipped with a reason when absent)."""

import json
import pickle

import numpy as np
import pytest
from conftest import shared_data

from dalnb.body import skeleton as sk
from dalnb.data import loaders as L
from dalnb.data.schema import SampleError, validate_sample
from dalnb.data.store import load_samples, load_samples_report, write_shard


def test_densepose_annotation_125_points_in_image_pixels(body):
    s = L.load_densepose_annotation(shared_data("01_densepose_annotations") / "demo_dp_single_ann.npz")
    validate_sample(s)
    assert s["dense_xy"].shape == (125, 2) and s["dense_iuv"].shape == (125, 3)
    h, w = s["image"].shape[:2]
    assert (s["dense_xy"] >= 0).all() and (s["dense_xy"][:, 0] < w).all() and (s["dense_xy"][:, 1] < h).all()
    parts = s["dense_iuv"][:, 0].astype(int)
    assert set(parts) <= set(range(1, 25)) and len(set(parts)) == 17
    # part level: every annotated part exists on our template with the same number
    for p in set(parts):
        assert (body.parts == p).sum() > 50


def test_iuv_png_decodes_to_parts_and_uv():
    d = shared_data("02_densepose_outputs")
    iuv = L.decode_iuv_png(d / "demo_im_IUV.png")
    assert iuv.shape == (600, 1116, 3)
    assert set(np.unique(iuv[..., 0]).astype(int)) == set(range(25))
    body = iuv[..., 0] > 0
    assert 0 <= iuv[..., 1][body].min() and iuv[..., 1][body].max() <= 1 and iuv[..., 2][body].max() <= 1
    assert iuv[..., 1:][~body].max() == 0
    with pytest.raises(L.DataError, match="wrong channel order"):
        L.decode_iuv_png(d / "demo_im_IUV.png", channel_order="rgb")
    r = L.load_densepose_iuv(d / "demo_im_IUV.png", d / "demo_im_INDS.png", d / "demo_im.jpg")
    assert len(r) >= 5
    for s in r:
        validate_sample(s)
        xy = s["dense_xy"].astype(int)
        assert (iuv[xy[:, 1], xy[:, 0], 0] == s["dense_iuv"][:, 0]).all()


def test_densepose_results_json():
    d = shared_data("02_densepose_outputs")
    r = L.load_densepose_results(d / "example_results.json", shared_data("05_keypoints_coco_mpii") / "coco")
    assert len(r) > 5
    s785 = [s for s in r if s["image_id"] == 785]
    assert len(s785) == 1 and s785[0]["image_path"].endswith("000000000785.jpg")
    x0, y0, bw, bh = s785[0]["bbox"]
    xy = s785[0]["dense_xy"]
    assert (xy[:, 0] >= x0).all() and (xy[:, 0] <= x0 + bw).all() and (xy[:, 1] <= y0 + bh).all()


def test_coco_keypoints_14_people():
    r = L.load_coco_keypoints(shared_data("05_keypoints_coco_mpii") / "coco" / "test_coco.json")
    assert len(r) == 14
    s = [x for x in r if "000000000785" in x["image_path"]][0]
    validate_sample(s)
    assert s["keypoints2d"].shape == (17, 3) and (s["keypoints2d"][:, 2] == 2).all()
    assert s["mask"].shape == (425, 640) and s["mask"].sum() > 20000
    nose, la = s["keypoints2d"][sk.COCO17.index("nose")], s["keypoints2d"][sk.COCO17.index("left_ankle")]
    assert nose[1] < la[1]


def test_mpii_parses():
    r = L.load_mpii(shared_data("05_keypoints_coco_mpii") / "mpii" / "test_mpii.json")
    assert len(r) == 5
    for s in r:
        validate_sample(s)
        k = s["keypoints2d"]
        assert (k[[sk.COCO17.index(n) for n in ("nose", "left_eye")], 2] == 0).all()
        assert (k[sk.COCO17.index("left_wrist"), :2] == s["keypoints_mpii"][L.MPII16.index("left_wrist"), :2]).all()


def test_h36m_projection_within_1px_and_split():
    d = shared_data("03_pose3d_h36m")
    r = L.load_h36m(d / "test_h36m_body3d.npz", d / "cameras.pkl")
    assert len(r) == 4 and {s["subject"] for s in r} == {"S1", "S5", "S7", "S8"}
    assert all(s["split"] == "train" for s in r) and L.h36m_split("S9") == "test"
    with open(d / "cameras.pkl", "rb") as f:
        cams = pickle.load(f)
    for s in r:
        cam = cams[(s["subject"], s["camera_id"])]
        p = L.project_h36m(s["joints3d"].astype(np.float64), cam)
        assert np.abs(p - s["keypoints2d_h36m"][:, :2]).max() < 1.0


def test_apply_net_dump_pickle_without_detectron2(tmp_path):
    """A stand-in pickle in apply_net.py dump's layout (classes from a 'densepose' module)."""
    import sys
    import types

    import torch

    mod = types.ModuleType("densepose.structures")
    pkg = types.ModuleType("densepose")

    class DensePoseChartResult:
        def __init__(self, labels, uv):
            self.labels, self.uv = labels, uv

    DensePoseChartResult.__module__ = "densepose.structures"
    DensePoseChartResult.__qualname__ = "DensePoseChartResult"
    mod.DensePoseChartResult = DensePoseChartResult
    sys.modules["densepose"], sys.modules["densepose.structures"] = pkg, mod
    try:
        labels = torch.zeros(40, 30, dtype=torch.int64)
        labels[5:35, 5:25] = 2
        uv = torch.rand(2, 40, 30)
        dump = [
            {
                "file_name": "x.jpg",
                "scores": torch.tensor([0.9, 0.1]),
                "pred_boxes_XYXY": torch.tensor([[10.0, 20.0, 40.0, 60.0], [0, 0, 5, 5]]),
                "pred_densepose": [DensePoseChartResult(labels, uv), DensePoseChartResult(labels, uv)],
            }
        ]
        with open(tmp_path / "dump.pkl", "wb") as f:
            pickle.dump(dump, f)
    finally:
        del sys.modules["densepose"], sys.modules["densepose.structures"]
    r = L.load_apply_net_dump(tmp_path / "dump.pkl")
    assert len(r) == 1
    s = r[0]
    assert (s["dense_iuv"][:, 0] == 2).all() and len(s["dense_xy"]) > 20
    assert (s["dense_xy"][:, 0] >= 15).all() and (s["dense_xy"][:, 1] >= 25).all()


# -- bad input ---------------------------------------------------------------------------


def _coco(tmp_path, anns, images=None):
    p = tmp_path / "ann.json"
    p.write_text(
        json.dumps(
            {"images": images or [{"id": 1, "file_name": "a.jpg", "height": 10, "width": 10}], "annotations": anns}
        )
    )
    return p


def test_bad_json_names_file_and_record(tmp_path):
    p = tmp_path / "trunc.json"
    p.write_text('{"images": [')
    with pytest.raises(L.DataError, match="trunc.json: malformed JSON"):
        L.load_coco_keypoints(p)
    p = _coco(tmp_path, [{"id": 7, "image_id": 1, "keypoints": [1, 2]}])
    with pytest.raises(L.DataError, match=r"ann.json annotation 0 \(id 7\): keypoints must hold 51"):
        L.load_coco_keypoints(p, require_image=False)
    p = _coco(tmp_path, [{"id": 8, "keypoints": [0] * 51}])
    with pytest.raises(L.DataError, match=r"annotation 0 \(id 8\): missing key 'image_id'"):
        L.load_coco_keypoints(p, require_image=False)
    p = _coco(tmp_path, [{"id": 9, "image_id": 1, "keypoints": [1] * 51}])
    with pytest.raises(L.DataError, match="image .*a.jpg not found"):
        L.load_coco_keypoints(p)


def test_skip_bad_skips_counts_and_reports(tmp_path):
    good = {"id": 1, "image_id": 1, "keypoints": [1, 1, 2] * 17}
    p = _coco(
        tmp_path, [good, {"id": 2, "image_id": 1, "keypoints": [1]}, {"id": 3, "keypoints": [0] * 51}, dict(good, id=4)]
    )
    r = L.load_coco_keypoints(p, require_image=False, skip_bad=True)
    assert len(r) == 2 and len(r.skipped) == 2 and "id 2" in r.skipped[0]
    dp = {
        "id": 5,
        "image_id": 1,
        "bbox": [0, 0, 10, 10],
        "dp_x": [1, 2],
        "dp_y": [1, 2],
        "dp_I": [1, 30],
        "dp_U": [0, 0],
        "dp_V": [0, 0],
    }
    r = L.load_densepose_coco(_coco(tmp_path, [dp]), require_image=False, skip_bad=True)
    assert len(r) == 0 and "dp_I must lie in 1..24" in r.skipped[0]


def test_store_bad_records_named_and_skippable(tmp_path):
    ok = {"keypoints2d": np.zeros((17, 3), np.float32), "sample_id": "a"}
    bad = {"keypoints2d": np.full((17, 3), np.nan, np.float32), "sample_id": "b"}
    write_shard(tmp_path / "s" / "shard_00000.npz", [ok, bad, ok])
    (tmp_path / "s" / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(SampleError, match=r"junk.npz: cannot read"):
        load_samples(tmp_path / "s")
    samples, rep = load_samples_report(tmp_path / "s", skip_bad=True)
    assert len(samples) == 2 and len(rep.skipped) == 2
    assert any("record 1 (b): keypoints2d: contains NaN" in m for m in rep.skipped)
    with pytest.raises(SampleError, match="dense_xy: expected shape"):
        validate_sample({"dense_xy": np.zeros((5, 3), np.float32)})
    with pytest.raises(SampleError, match="size P=4 disagrees"):
        validate_sample({"dense_xy": np.zeros((5, 2), np.float32), "dense_vertex": np.zeros(4, np.int64)})
    with pytest.raises(FileNotFoundError, match="no such sample folder"):
        load_samples(tmp_path / "nope")


def test_densepose_loader_on_a_keypoints_file_says_what_it_expected():
    """A COCO keypoints json has no DensePose fields: the DensePose loader says so, naming the
    file, instead of returning no samples."""
    path = shared_data("05_keypoints_coco_mpii") / "coco" / "test_coco.json"
    with pytest.raises(L.DataError, match=r"test_coco.json: none of its 14 annotations has DensePose fields"):
        L.load_densepose_coco(path, require_image=False)
