"""Notebook 04's claims, judged from the rounds' own metrics rows."""

from __future__ import annotations

import pandas as pd

from dalnb.claims import Claim, at_most, falls, lower

__all__ = ["rounds_claims"]


def rounds_claims(tab: pd.DataFrame, preset: str) -> list[Claim]:
    """Fig. 8 / Table 4's claims from one row per round (``run_rounds``' metrics, indexed by round)."""
    mpjpe, store = tab["mpjpe_mm"], tab["store_fit_pa_mpjpe_mm"]
    several = len(tab) > 1  # a comparison across rounds needs two
    note = "" if several else "one round only"
    step = -mpjpe.diff().iloc[1:]  # each round's fall (mm); one run's, so a fall under a mm says little
    small_fall = (f"into round {step.idxmin()} the MPJPE changes by {-step.min():+.1f} mm, one run's figure; notebook 06 "
                  "repeats the rounds with several seeds" if several and step.min() < 1 else note)  # fmt: skip
    where = f"{int(tab['n'].iloc[-1])} held-out anny bodies, {preset} preset"
    ratio = mpjpe.iloc[-1] / mpjpe.iloc[0]
    last = tab.iloc[-1]
    return [
        Claim("Test error falls round after round", "Table 4: 140 mm MPJPE after one round, 106 mm after five (Human3.6M)",
              " -> ".join(f"{v:.1f}" for v in mpjpe) + f" mm MPJPE over {len(tab)} rounds ({where})", falls(mpjpe), small_fall),
        Claim("The last round's error is about three quarters of the first's", "106 / 140 = 0.76 (goal here: at most 0.8)",
              f"{ratio:.2f} after {len(tab)} rounds", at_most(ratio, 0.8) if several else None, note),
        Claim("Registration started from the ConvNet finds better fits than from the rest pose (the fit store improves)",
              "later rounds start registration from the ConvNet; a fit store keeps each sample's best fit",
              f"median fit PA-MPJPE {store.iloc[0]:.0f} -> {store.iloc[-1]:.0f} mm on the training images, "
              f"{int(tab['fits_replaced'].iloc[1:].sum())} fits replaced after round 1",
              lower(store.iloc[-1], store.iloc[0]) if several else None, note),
        Claim("The ConvNet learns each image's body from the fits, not their average (implicit in the paper)",
              "the regressor predicts pose and shape per image",
              f"PA-MPJPE {last['pa_mpjpe_mm']:.0f} mm against {last['mean_pose_pa_mpjpe_mm']:.0f} mm for the fits' mean body "
              f"given to every image (round {tab.index[-1]})", lower(last["pa_mpjpe_mm"], last["mean_pose_pa_mpjpe_mm"])),
    ]  # fmt: skip
