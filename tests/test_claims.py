"""The claims scorecard: verdicts computed from numbers, saved per notebook, gathered by the index."""

import json

import numpy as np
import pandas as pd
import pytest

from dalnb.claims import (
    Claim,
    at_most,
    claims_frame,
    falls,
    load_claims,
    lower,
    save_claims,
    verdict,
)


def test_lower_and_falls_with_missing_figures():
    assert lower(1.0, 2.0) is True and lower(2.0, 1.0) is False and lower(1.0, 1.0) is False
    assert lower(float("nan"), 1.0) is None and lower(1.0, None) is None and lower(np.float32(1), np.inf) is None
    assert falls([3, 2, 1]) is True and falls([3, 2, 2.5]) is False and falls([3, 3]) is False
    assert falls([3, float("nan")]) is None and falls([1.0]) is None


def test_lower_in_every_needs_every_repeat():
    from dalnb.claims import lower_in_every

    assert lower_in_every([(189, 190), (185, 199)]) is True
    assert lower_in_every([(189, 190), (195, 190)]) is False  # one seed contradicts the gain
    assert lower_in_every([(189, float("nan")), (185, 199)]) is True
    assert lower_in_every([(float("nan"), 1.0)]) is None and lower_in_every([]) is None


def test_paired_margin_matches_the_statistics_module():
    import statistics

    from dalnb.claims import paired_margin

    pairs = [(186.5, 189.5), (193.6, 192.5), (190.0, float("nan")), (180.2, 191.0)]
    d = [186.5 - 189.5, 193.6 - 192.5, 180.2 - 191.0]
    m = paired_margin(pairs)
    assert m.n == 3 and m.mean == pytest.approx(statistics.mean(d)) and m.sd == pytest.approx(statistics.stdev(d))
    assert str(m) == f"{statistics.mean(d):+.1f} +- {statistics.stdev(d):.1f} (sd) mm over 3 seeds"
    one = paired_margin([(1.0, 3.0)])
    assert (one.mean, one.n) == (-2.0, 1) and np.isnan(one.sd) and str(one) == "-2.0 mm over 1 seed"
    assert paired_margin([]).n == 0 and str(paired_margin([(float("nan"), 1.0)])) == "no pair with two finite figures"


def test_at_most_is_a_goal_comparison():
    assert at_most(0.8, 0.8) is True and at_most(0.81, 0.8) is False and at_most(float("nan"), 0.8) is None
    assert falls(pd.Series([3.0, 2.0], index=[1, 2])) is True  # a table column indexed by round


def test_claim_checks_its_fields():
    c = Claim("error falls", "140 -> 106", "200 -> 190", np.float64(190) < np.float64(200))
    assert c.holds is True and type(c.holds) is bool and verdict(c.holds) == "holds"
    assert Claim("x", "p", "o", None).note == "no finite figure in this run"
    assert Claim("x", "p", "o", None, "no Human3.6M here").note == "no Human3.6M here"
    with pytest.raises(ValueError, match=r"Claim.holds: expected True, False, 'within noise' or None, got 'yes'"):
        Claim("x", "p", "o", "yes")
    with pytest.raises(ValueError, match="Claim.holds"):
        Claim("x", "p", "o", 1)  # a number is not a verdict
    with pytest.raises(ValueError, match="Claim.claim: expected a sentence"):
        Claim("  ", "p", "o", True)
    with pytest.raises(ValueError, match=r"Claim.ours: expected a str, got float"):
        Claim("x", "p", 1.5, True)


def test_fig7_claims_verdicts_follow_the_numbers():
    from dalnb.study.fig7 import fig7_claims

    cs = fig7_claims(
        {
            "full": 30.0,
            "without dense correspondences": 45.0,
            "without the stiff stage": 28.0,
            "without smoothness and limit terms": float("nan"),
        },
        "8 bodies",
    )
    by = {c.claim.split(" ")[0] + " " + c.claim.split(" ")[1]: c for c in cs}
    assert len(cs) == 3
    assert by["Dense correspondences"].holds is True and "45 mm" in by["Dense correspondences"].ours
    assert by["The stiff"].holds is False
    assert by["Scale smoothness"].holds is None
    with pytest.raises(ValueError, match="expected a 'full' entry"):
        fig7_claims({"without the stiff stage": 1.0}, "x")


def test_claims_round_trip_in_notebook_order(tmp_path):
    a = [Claim("later", "p", "o", False)]
    b = [Claim("first", "p", "o", True), Claim("second", "p", "o", None, "why")]
    save_claims(tmp_path, "06_ablations", a)
    save_claims(tmp_path, "02_cgan", b)
    got = load_claims(tmp_path)
    assert [(nb, c.claim) for nb, c in got] == [("02_cgan", "first"), ("02_cgan", "second"), ("06_ablations", "later")]
    assert got[1][1] == b[1]
    assert list(claims_frame(b)["verdict"]) == ["holds", "not measured here"]
    save_claims(tmp_path, "02_cgan", a)  # a re-run replaces the notebook's claims
    assert [c.claim for nb, c in load_claims(tmp_path) if nb == "02_cgan"] == ["later"]
    with pytest.raises(ValueError, match="expected at least one claim"):
        save_claims(tmp_path, "03_registration", [])
    (tmp_path / "claims" / "04_deform_and_learn.json").write_text(json.dumps([{"claim": "x"}]))
    with pytest.raises(ValueError, match=r"04_deform_and_learn.json: not a claims file"):
        load_claims(tmp_path)


def test_index_shows_the_scorecard(tmp_path):
    from dalnb.report import write_index

    run = tmp_path / "run"
    save_claims(
        run,
        "04_deform_and_learn",
        [
            Claim("Test error falls <round> after round", "140 -> 106 mm", "214 -> 194 mm", True),
            Claim("Ratio", "0.76", "0.91", False),
            Claim("Human3.6M", "106 mm", "-", None, "no data"),
        ],
    )
    page = write_index(tmp_path / "reports", [], "tiny", run).read_text()
    assert "The paper's claims in this run" in page
    assert "Test error falls &lt;round&gt; after round" in page  # escaped
    assert "<td class='vtrue'>holds</td>" in page and "<td class='vfalse'>does not hold</td>" in page
    assert "<td class='vnone'>not measured here</td><td>no data</td>" in page
    empty = write_index(tmp_path / "reports2", [], "tiny", tmp_path / "no_claims").read_text()
    assert "The paper's claims in this run" not in empty


def test_a_gain_inside_the_spread_between_repeats_is_within_noise():
    from dalnb.claims import NOISE, beyond, verdict

    assert beyond(5.0, 2.0) is True and beyond(-5.0, 2.0) is False
    assert beyond(1.8, 2.3) == NOISE and beyond(-1.0, 2.3) == NOISE and verdict(NOISE) == "within noise"
    assert beyond(1.8, None) is True and beyond(1.8, float("nan")) is True  # no repeats measured: the sign decides
    assert beyond(float("nan"), 1.0) is None
    c = Claim("x", "p", "o", beyond(1.0, 3.0))
    assert c.holds == NOISE and Claim(c.claim, c.paper, c.ours, c.holds) == c
    with pytest.raises(ValueError, match="expected True, False, 'within noise' or None"):
        Claim("x", "p", "o", "maybe")


def test_findings_count_the_verdicts_and_quote_the_run():
    from dalnb.claims import NOISE, findings

    text = findings(
        [Claim("A", "p", "3 mm", True), Claim("B", "p", "1 mm", NOISE), Claim("C", "p", "x", None, "why")],
        extra=["Fits: 28 mm."],
    )
    assert text.startswith("Of the 3 claims measured here: 1 holds, 1 within noise, 1 not measured here.")
    assert "- **B**: within noise. This run: 1 mm." in text and "(why)" in text and text.endswith("Fits: 28 mm.")


def test_a_round_s_fall_inside_the_seed_spread_is_within_noise():
    from dalnb.claims import NOISE
    from dalnb.study.rounds import falls_beyond, rounds_claims

    mpjpe = pd.Series([232.0, 222.0, 220.2], index=[1, 2, 3])
    assert falls_beyond(mpjpe, {2: 5.4, 3: 2.3}) == NOISE  # 1.8 mm into round 3, sd 2.3
    assert falls_beyond(mpjpe, {2: 5.4, 3: 1.0}) is True and falls_beyond(mpjpe, None) is True
    assert falls_beyond(pd.Series([220.0, 230.0], index=[1, 2]), {2: 5.0}) is False
    tab = pd.DataFrame(
        {
            "mpjpe_mm": mpjpe,
            "pa_mpjpe_mm": [101, 99, 100.5],
            "mean_pose_pa_mpjpe_mm": [109, 109, 101],
            "store_fit_pa_mpjpe_mm": [28, 24, 23.6],
            "fits_replaced": [0, 500, 300],
            "n": [200] * 3,
        }
    )
    claims = rounds_claims(tab, "small", {"n": 2, "fall": {2: 5.4, 3: 2.3}, "store": 0.5, "mean_body": 0.9})
    assert [c.holds for c in claims] == [NOISE, False, True, NOISE]
    assert "sd over the 2 recorded seeds" in claims[0].note


def test_seed_spread_reads_the_recorded_repeats():
    from dalnb.records import load_records
    from dalnb.study.table4 import seed_spread

    spread = seed_spread(load_records("rounds"), "real")
    assert spread["n"] >= 2 and set(spread["fall"]) == {2, 3} and all(v > 0 for v in spread["fall"].values())
    assert seed_spread([], "real") == {}


def test_pose_source_table_means_each_source_apart():
    """Mean regressor and refined PA-MPJPE per pose source with the body count; samples without a pose source
    (real crops) are left out, not counted under a guess."""
    from dalnb.study.table1 import pose_source_table

    per = pd.DataFrame(
        {
            "pose source": ["mocap", "mocap", "limits", None],
            "PA-MPJPE regressor (mm)": [80.0, 100.0, 150.0, 999.0],
            "PA-MPJPE refined (mm)": [60.0, 70.0, 90.0, 999.0],
        }
    )
    tab = pose_source_table(per)
    assert tab.loc["mocap"].tolist() == [90.0, 65.0, 2] and tab.loc["limits"].tolist() == [150.0, 90.0, 1]
    assert list(tab.index) == ["limits", "mocap"]
