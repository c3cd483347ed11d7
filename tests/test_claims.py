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
    fig7_claims,
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
    with pytest.raises(ValueError, match=r"Claim.holds: expected True, False or None, got 'yes'"):
        Claim("x", "p", "o", "yes")
    with pytest.raises(ValueError, match="Claim.holds"):
        Claim("x", "p", "o", 1)  # a number is not a verdict
    with pytest.raises(ValueError, match="Claim.claim: expected a sentence"):
        Claim("  ", "p", "o", True)
    with pytest.raises(ValueError, match=r"Claim.ours: expected a str, got float"):
        Claim("x", "p", 1.5, True)


def test_fig7_claims_verdicts_follow_the_numbers():
    cs = fig7_claims({"full": 30.0, "without dense correspondences": 45.0, "without the stiff stage": 28.0,
                      "without smoothness and limit terms": float("nan")}, "8 bodies")  # fmt: skip
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
    save_claims(run, "04_deform_and_learn", [Claim("Test error falls <round> after round", "140 -> 106 mm", "214 -> 194 mm", True),
                                             Claim("Ratio", "0.76", "0.91", False), Claim("Human3.6M", "106 mm", "-", None, "no data")])  # fmt: skip
    page = write_index(tmp_path / "reports", [], "tiny", run).read_text()
    assert "The paper's claims in this run" in page
    assert "Test error falls &lt;round&gt; after round" in page  # escaped
    assert "<td class='vtrue'>holds</td>" in page and "<td class='vfalse'>does not hold</td>" in page
    assert "<td class='vnone'>not measured here</td><td>no data</td>" in page
    empty = write_index(tmp_path / "reports2", [], "tiny", tmp_path / "no_claims").read_text()
    assert "The paper's claims in this run" not in empty
