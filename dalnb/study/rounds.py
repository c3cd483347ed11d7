"""Fig. 8 and 9, the rounds: notebook 04's claims, judged from the rounds' own metrics rows and
weighed against the spread the recorded rounds benchmark shows between seeds
(``study.table4.seed_spread``)."""

from __future__ import annotations

import pandas as pd

from dalnb.claims import NOISE, Claim, at_most, beyond, falls
from dalnb.study import paper as P

__all__ = ["rounds_claims", "falls_beyond"]


def falls_beyond(values: pd.Series, spread: dict[int, float] | None) -> bool | str | None:
    """Whether a value falls every round by more than its spread between seeds (``spread``: round
    -> sd of that round's fall): False when a round rises by more than it, ``NOISE`` when some
    fall is inside it; without spreads, ``falls``."""
    if not spread:
        return falls(values)
    fall = -values.diff().iloc[1:]
    verdicts = [beyond(f, spread.get(int(r), spread[max(spread)])) for r, f in fall.items()]
    if None in verdicts:
        return None
    if False in verdicts:
        return False
    return NOISE if NOISE in verdicts else True


def _spread_note(spread: dict, what: str) -> str:
    return f"{what}; the spread is the sd over the {spread['n']} recorded seeds of bench rounds" if spread else what


def rounds_claims(tab: pd.DataFrame, preset: str, spread: dict | None = None) -> list[Claim]:
    """Fig. 8 / Table 4's claims from one row per round (``run_rounds``' metrics, indexed by
    round); ``spread``: ``seed_spread`` of the recorded benchmark, so that a gain no larger than
    the spread between seeds reads "within noise"."""
    spread = spread or {}
    mpjpe, store = tab["mpjpe_mm"], tab["store_fit_pa_mpjpe_mm"]
    several = len(tab) > 1  # a comparison across rounds needs two
    note = "" if several else "one round only"
    where = f"{int(tab['n'].iloc[-1])} held-out anny bodies, {preset} preset"
    ratio = mpjpe.iloc[-1] / mpjpe.iloc[0]
    last = tab.iloc[-1]
    fall = -mpjpe.diff().iloc[1:]
    fell = "; ".join(
        f"round {r}: {f:+.1f} mm"
        + (f" (sd {spread['fall'].get(int(r), max(spread['fall'].values())):.1f})" if spread else "")
        for r, f in fall.items()
    )
    gap = last["mean_pose_pa_mpjpe_mm"] - last["pa_mpjpe_mm"]
    store_gain = store.iloc[0] - store.iloc[-1]
    return [
        Claim(
            "Test error falls round after round",
            f"Table 4: {P.ROUND1_MPJPE_MM:.0f} mm MPJPE after one round, {P.ROUNDS5_MPJPE_MM:.0f} mm after five "
            "(Human3.6M)",
            " -> ".join(f"{v:.1f}" for v in mpjpe) + f" mm MPJPE over {len(tab)} rounds ({where}); falls {fell}",
            falls_beyond(mpjpe, spread.get("fall")) if several else None,
            _spread_note(spread, "each round's fall weighed against its spread") if several else note,
        ),
        Claim(
            "The last round's error is about three quarters of the first's",
            f"{P.ROUNDS5_MPJPE_MM:.0f} / {P.ROUND1_MPJPE_MM:.0f} = {P.ROUNDS_RATIO:.2f} (goal here: at most 0.8)",
            f"{ratio:.2f} after {len(tab)} rounds",
            at_most(ratio, 0.8) if several else None,
            note,
        ),
        Claim(
            "Registration started from the ConvNet finds better fits than from the rest pose (the fit store improves)",
            "later rounds start registration from the ConvNet; a fit store keeps each sample's best fit",
            f"median fit PA-MPJPE {store.iloc[0]:.1f} -> {store.iloc[-1]:.1f} mm on the training images, "
            f"{int(tab['fits_replaced'].iloc[1:].sum())} fits replaced after round 1",
            beyond(store_gain, spread.get("store")) if several else None,
            _spread_note(spread, "the improvement weighed against its spread") if several else note,
        ),
        Claim(
            "The ConvNet learns each image's body from the fits, not their average (implicit in the paper)",
            "the regressor predicts pose and shape per image",
            f"PA-MPJPE {last['pa_mpjpe_mm']:.1f} mm against {last['mean_pose_pa_mpjpe_mm']:.1f} mm for the fits' "
            f"mean body given to every image (round {tab.index[-1]})",
            beyond(gap, spread.get("mean_body")),
            _spread_note(spread, "the lead weighed against its spread"),
        ),
    ]
