"""Benchmark helpers that decide what a recorded run measured."""

import json

import numpy as np
import pytest

from dalnb.bench.rounds import (
    ANNOTATIONS,
    bench_config,
    record_config,
    record_regressor_path,
    rounds_config,
    spread,
)
from dalnb.study.table4 import CONFIG_KEYS


@pytest.mark.parametrize("n, f", [(10, 0.5), (7, 0.5), (9, 1 / 3), (5, 0.0), (5, 1.0), (3000, 0.5)])
def test_spread_picks_floor_n_f_evenly(n, f):
    m = spread(n, f)
    assert m.shape == (n,) and m.dtype == bool and m.sum() == int(np.floor(n * f + 1e-9))
    if 0 < f < 1:
        gaps = np.diff(np.flatnonzero(m))
        assert gaps.max() - gaps.min() <= 1  # evenly spread, not a block
    assert np.array_equal(m, spread(n, f))


def test_spread_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match=r"expected a number in \[0, 1\], got 1.5"):
        spread(4, 1.5)


def test_rounds_config_takes_the_overrides():
    cfg = rounds_config(bench_config("small", {"w_pose": 3.0, "w_joints": 0, "mirror": 0.5}))
    assert (
        cfg.regressor.w_pose == 3.0
        and cfg.regressor.w_joints == 0
        and cfg.train.mirror == 0.5
        and cfg.regressor.image_size == bench_config("small")["image_size"]
    )
    assert (
        rounds_config(bench_config("small")).regressor.w_pose == 10.0
        and rounds_config(bench_config("small")).regressor.w_joints_camera == 10.0
    )
    assert ANNOTATIONS["exact"]["keypoint_only"] == 0 and not ANNOTATIONS["exact"]["noise"]


def test_record_config_writes_the_fields_that_tell_two_runs_apart():
    """A record's config is CONFIG_KEYS, in order, with the overrides' values: table4_seeds
    compares runs by these fields, so one written but not compared (or the reverse) would pool
    different experiments as seeds of one."""
    c = bench_config("small", {"w_pose": 3.0, "mirror": 0.5, "hair": False, "n_train": 3000})
    rec = record_config("small", c, rounds_config(c), 0.03)
    assert tuple(rec) == CONFIG_KEYS
    assert (rec["w_pose"], rec["mirror"], rec["hair"], rec["robust_sigma_end"], rec["n_train"]) == (
        3.0,
        0.5,
        False,
        0.03,
        3000,
    )
    from dalnb.records import load_records

    newest = load_records("rounds")[-1]  # a recorded run of today's bench carries every config field
    assert set(CONFIG_KEYS) <= set(newest), set(CONFIG_KEYS) - set(newest)


def test_record_regressor_path_follows_the_benchs_folders(tmp_path):
    assert (
        record_regressor_path(tmp_path, {"setting": "rounds", "round": 3})
        == tmp_path / "rounds" / "round3" / "regressor.pt"
    )
    assert (
        record_regressor_path(tmp_path, {"setting": "one_long_round", "round": None})
        == tmp_path / "one_long_round" / "regressor.pt"
    )


def _rec(run, setting, rnd, mpjpe, **kw):
    return {
        "bench": "rounds",
        "run": run,
        "setting": setting,
        "round": rnd,
        "mpjpe_mm": mpjpe,
        "date": "2026-12-01",
        "preset": "small",
        **kw,
    }


def test_table4_takes_the_newest_run_with_baselines_per_kind_of_annotations():
    from dalnb.study.table4 import table4_runs

    recs = [
        _rec("a", "rounds", 1, 200),
        _rec("a", "single_step", None, 230),
        _rec("a", "one_long_round", None, 210),
        _rec("b", "rounds", 1, 190),
        _rec("b", "rounds", 2, 180),  # newer, but without baselines
        _rec("r", "rounds", 1, 220, annotations="real"),
        _rec("r", "rounds", 2, 205, annotations="real"),
        _rec("r", "rounds", 1, 221, annotations="real"),  # resumed: round 1 recorded again
        _rec("r", "single_step", None, 245, annotations="real"),
        _rec("r", "one_long_round", None, 250, annotations="real"),
    ]
    t = table4_runs(recs)
    assert set(t) == {"exact", "real"}
    assert [(r["setting"], r["round"], r["mpjpe_mm"]) for r in t["exact"]] == [
        ("rounds", 1, 200),
        ("single_step", None, 230),
        ("one_long_round", None, 210),
    ]
    assert [(r["setting"], r["round"], r["mpjpe_mm"]) for r in t["real"]] == [
        ("rounds", 1, 221),
        ("rounds", 2, 205),
        ("single_step", None, 245),
        ("one_long_round", None, 250),
    ]
    assert table4_runs(recs[3:5]) == {}


def test_table4_seeds_gathers_the_newest_runs_config_across_seeds():
    from dalnb.study.table4 import table4_seeds

    cfg = {"w_pose": 10.0, "w_joints": 10.0, "w_joints_camera": 10.0}
    recs = [
        _rec("s0", "rounds", 1, 200, annotations="real", **cfg),
        _rec("s0", "single_step", None, 230, annotations="real", **cfg),
        _rec("s0", "one_long_round", None, 201, annotations="real", **cfg),
        _rec(
            "old", "rounds", 1, 210, annotations="real", seed=1, w_pose=10.0, w_joints=10.0
        ),  # another config: not a repeat
        _rec("old", "single_step", None, 230, annotations="real", seed=1, w_pose=10.0, w_joints=10.0),
        _rec("s1", "rounds", 1, 195, annotations="real", seed=1, **cfg),
        _rec("s1", "single_step", None, 231, annotations="real", seed=1, **cfg),
        _rec("s1", "one_long_round", None, 190, annotations="real", seed=1, **cfg),
        _rec("e", "rounds", 1, 180, **cfg),
        _rec("e", "single_step", None, 230, **cfg),
    ]
    t = table4_seeds(recs)
    assert set(t) == {"real", "exact"} and list(t["exact"]) == [0]
    assert list(t["real"]) == [0, 1]  # seed 0 has no seed field; "old" differs in w_joints_camera
    assert [r["mpjpe_mm"] for r in t["real"][0]] == [200, 230, 201] and [r["mpjpe_mm"] for r in t["real"][1]] == [
        195,
        231,
        190,
    ]


def test_table4_margins_puts_each_seeds_last_round_beside_its_baselines():
    from dalnb.study.table4 import table4_margins

    m = table4_margins(
        {
            0: [_rec("s0", "rounds", 1, 200), _rec("s0", "rounds", 2, 189), _rec("s0", "single_step", None, 230)],
            3: [
                _rec("s3", "rounds", 1, 199),
                _rec("s3", "single_step", None, 231),
                _rec("s3", "one_long_round", None, 190),
            ],
        }
    )
    assert [(r["seed"], r["run"], r["rounds"], r["rounds_mpjpe_mm"], r["single_step_mpjpe_mm"]) for r in m] == [
        (0, "s0", 2, 189, 230),
        (3, "s3", 1, 199, 231),
    ]
    assert np.isnan(m[0]["one_long_round_mpjpe_mm"]) and m[1]["one_long_round_mpjpe_mm"] == 190
    assert (m[0]["single_step_margin_mm"], m[1]["one_long_round_margin_mm"]) == (189 - 230, 199 - 190) and np.isnan(
        m[0]["one_long_round_margin_mm"]
    )


def test_registration_bench_keypoint_setting_is_how_a_photo_comes(capsys):
    """Setting (d): keypoints alone with a detector's error, the person mask, the exact keypoint
    depths; the bench registers and scores it like the others."""
    from dalnb.bench.registration import bench_registration, benchmark_samples

    name = "d_noisy_keypoints_with_depth"
    s = benchmark_samples(3, name, image_size=64)
    clean = benchmark_samples(3, "a_exact_with_depth", image_size=64)
    for a, b in zip(s, clean):
        assert "dense_xy" not in a and "dense_vertex" not in a and a["mask"].any()
        np.testing.assert_array_equal(a["keypoints_depth"], a["gt_keypoints_depth"])
        assert 0 < np.abs(a["keypoints2d"][:, :2] - b["keypoints2d"][:, :2]).mean() < 10
    (rec,) = bench_registration(n=3, iters=(20,), settings=(name,), kinds=("accuracy",), device="cpu")
    assert rec["setting"] == name and rec["n"] == 3 and np.isfinite(rec["pa_mpjpe_mm"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["setting"] == name


def test_records_frame_keeps_the_newest_record_per_setting_and_machine(tmp_path, monkeypatch):
    from dalnb import records

    m1, m2 = {"cpu": "A", "cores": 2}, {"cpu": "B", "cores": 16}
    lines = [
        {"setting": "x", "v": 1, "machine": m1},
        {"setting": "y", "v": 2, "machine": m1},
        {"setting": "x", "v": 3, "machine": m1},
        {"setting": "x", "v": 4, "machine": m2},
    ]
    (tmp_path / "demo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    monkeypatch.setattr(records, "RECORD_DIR", str(tmp_path))
    assert list(records.records_frame("demo")["v"]) == [1, 2, 3, 4]
    assert list(records.records_frame("demo", newest=("setting",))["v"]) == [2, 3, 4]


def test_learning_findings_give_the_slope_per_tripling_and_each_point_beside_the_reference():
    import pandas as pd

    from dalnb.study import learning

    rows = [
        dict(n_train=n, train_bodies=b, epochs=15, pa_mpjpe_mm=pa, train_pa_mpjpe_mm=pa, torso_rot_over_90_pct=20.0)
        for n, b, pa in ((300, 100, 100.0), (900, 300, 94.0), (2700, 900, 88.0))
    ]
    df = pd.DataFrame(rows).assign(variant="ref")
    other = dict(rows[1], variant="wide", pa_mpjpe_mm=91.0, torso_rot_over_90_pct=10.0)
    text = learning.findings(pd.concat([df, pd.DataFrame([other])]))
    assert "-6.0 mm per tripling" in text and "91.0 mm (-3.0 against the reference" in text
    assert learning.findings(df.assign(epochs=30)) == "No record at the curve's training length."
    again = df.assign(pa_repeats=["100.0", "93.0, 94.0", "88.0"])
    assert "scored 93.0, 94.0 mm: differences of that size" in learning.findings(again)


def test_learning_split_findings_say_where_the_error_lies():
    import pandas as pd

    from dalnb.study import learning

    row = dict(variant="ref", train_bodies=900, epochs=15, image_size=96, pa_mpjpe_mm=80.0, pa_true_plane_mm=70.0)
    row |= dict(pa_flat_mm=93.0, keypoint_head_err_px=5.0, keypoint_err_px=6.0)
    even = pd.DataFrame([dict(row, pa_plane_mm=60.0, pa_depth_mm=44.0)])  # 42.4 mm per image axis
    assert "about as much along each image axis as in depth" in learning.split_findings(even)
    deep = pd.DataFrame([dict(row, pa_plane_mm=40.0, pa_depth_mm=60.0)])
    assert "depth more than the image plane" in learning.split_findings(deep)
    assert list(learning.split_table(deep).columns)[3] == "PA-MPJPE (mm)"
    assert learning.split_findings(deep.drop(columns="pa_plane_mm")).startswith("No record measured")


def test_bench_rounds_runs_the_study_presets_with_its_overrides():
    from dalnb.config import get_preset

    small = get_preset("small").resolve()
    c = bench_config("small", {"n_train": 3000})
    assert (
        c["n_train"] == 3000 and c["image_size"] == small.data.image_size and c["mirror"] == small.rounds.train.mirror
    )
    assert bench_config("full")["backbone"] == get_preset("full").rounds.regressor.backbone
    with pytest.raises(ValueError, match="unknown settings \\['n_trian'\\]"):
        bench_config("small", {"n_trian": 3})
