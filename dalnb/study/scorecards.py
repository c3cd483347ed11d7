"""The notebooks' scorecards: notebook 05's and notebook 06's claims, gathered from the result modules."""

from __future__ import annotations

import pandas as pd

from dalnb.claims import Claim, at_most
from dalnb.study import paper as P
from dalnb.study.fig7 import fig7_claims, shape_claim
from dalnb.study.lifter import lifter_claim
from dalnb.study.table3 import table3_claim
from dalnb.study.table4 import table4_claims

__all__ = ["evaluation_claims", "ablation_claims"]


def evaluation_claims(
    row: dict, n: int, last: int, densepose: tuple[float, float] | None, h36m: pd.DataFrame | None
) -> list[Claim]:
    """Notebook 05's scorecard."""
    ratio = row["refined_pixel_err"] / row["pixel_err"]
    real_dp = (
        f"; one real DensePose-COCO person {densepose[0]:.1f} -> {densepose[1]:.1f} px (part level)"
        if densepose
        else ""
    )
    frames = ""
    if h36m is not None:
        g = h36m.groupby("method")[["MPJPE (mm)", "PA-MPJPE (mm)"]].mean()
        figs = ", ".join(f"{m} {r['MPJPE (mm)']:.0f} / {r['PA-MPJPE (mm)']:.0f} mm" for m, r in g.iterrows())
        frames = f"; {h36m['frame'].nunique()} real Human3.6M frames: {figs}"
    return [
        Claim(
            "Test-time refinement lowers the per-pixel error",
            f"Table 2: {P.PIXEL_REGRESSOR_PX} -> {P.PIXEL_REFINED_PX} px on DensePose-COCO ({P.PIXEL_RATIO:.2f}x)",
            f"{row['pixel_err']:.2f} -> {row['refined_pixel_err']:.2f} px ({ratio:.2f}x) on {n} held-out "
            f"synthetic bodies{real_dp}",
            at_most(ratio, 0.7),
            "goal here: at most 0.7x",
        ),
        Claim(
            f"Trained without any 3D label, the regressor reaches about {P.ROUNDS5_MPJPE_MM:.0f} mm MPJPE on "
            "Human3.6M, like methods trained with unpaired 3D",
            f"Tables 1 and 4: {P.ROUNDS5_MPJPE_MM:.0f} mm MPJPE (Human3.6M); HMR with unpaired 3D "
            f"{P.HMR_UNPAIRED_MM[0]:.0f} mm",
            f"round {last}: {row['mpjpe_mm']:.0f} / {row['pa_mpjpe_mm']:.0f} mm MPJPE / PA-MPJPE on {n} "
            f"held-out synthetic "
            f"anny bodies, refined {row['refined_mpjpe_mm']:.0f} / {row['refined_pa_mpjpe_mm']:.0f} mm{frames}",
            None,
            "not comparable: no Human3.6M training or test set here (the real frames check the protocol, not "
            "the accuracy)",
        ),
    ]


def ablation_claims(t3, bench, repeats, fig7, shape, lifter_records, study_n: int, prior: str) -> list[Claim]:
    """Notebook 06's scorecard."""
    claims = [table3_claim(t3), *table4_claims(bench, repeats)]
    claims += fig7_claims(
        fig7.set_index("registration")["pa_mpjpe_mm"].to_dict(), f"{study_n} held-out bodies, depth prior: {prior}"
    )
    return claims + [shape_claim(shape), lifter_claim(lifter_records)]
