"""Table 3 (notebook 06): what each training source gives the regressor, one long round per source."""

from __future__ import annotations

import pandas as pd

from dalnb.claims import Claim, lower

__all__ = ["source_table", "real_source_table", "table3_claim"]


def source_table(body, train: list[dict], test: list[dict], out_dir, rc, first_fits, epochs: int) -> pd.DataFrame:
    """Table 3: one long round on mocap poses only, sampled poses only, and half of each (as many
    images each)."""
    from dalnb.training import one_long_round

    by = {src: [s for s in train if s.get("pose_source") == src] for src in ("mocap", "limits")}
    k = min(len(v) for v in by.values())
    subsets = {
        "mocap poses only": by["mocap"][:k],
        "sampled poses only": by["limits"][:k],
        "mixed (half each)": by["mocap"][: (k + 1) // 2] + by["limits"][: k // 2],
    }
    rows = []
    for name, sub in subsets.items():
        out = out_dir / name.split(" ")[0]
        r = one_long_round(body, sub, test, out, rc, first_fits, epochs, progress=False, setting=name)
        rows.append(
            {
                "training poses": name,
                "images": len(sub),
                **{c: r[c] for c in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pixel_err")},
            }
        )
    return pd.DataFrame(rows)


def real_source_table(
    body, train: list[dict], test: tuple[str, list[dict]], out_dir, rc, first_fits, epochs: int
) -> pd.DataFrame | None:
    """Table 3 on the paper's datasets: one long round on DensePose-COCO images only, Human3.6M
    frames only, and half of each (as many images each), measured on ``test`` (name, samples);
    None unless the run has both sources."""
    from dalnb.data.sources import source_of
    from dalnb.training import one_long_round

    by = {k: [s for s in train if source_of(s) == k] for k in ("densepose_coco", "h36m")}
    if not all(by.values()):
        return None
    k = min(len(v) for v in by.values())
    subsets = {
        "DensePose-COCO only": by["densepose_coco"][:k],
        "Human3.6M only": by["h36m"][:k],
        "both (half each)": by["densepose_coco"][: (k + 1) // 2] + by["h36m"][: k // 2],
    }
    rows = []
    for name, sub in subsets.items():
        r = one_long_round(body, sub, test[1], out_dir / name.split(" ")[0], rc, first_fits, epochs, False, name)
        rows.append(
            {
                "training images": name,
                "images": len(sub),
                "test set": f"{test[0]} ({len(test[1])})",
                **{c: r.get(c) for c in ("mpjpe_mm", "pa_mpjpe_mm", "keypoint_err_px")},
            }
        )
    return pd.DataFrame(rows)


def table3_claim(t3: pd.DataFrame) -> Claim:
    mixed = t3[t3["training poses"].str.startswith("mixed")].iloc[0]
    single = t3[~t3["training poses"].str.startswith("mixed")]
    figs = "; ".join(f"{r['training poses']} {r['pa_mpjpe_mm']:.0f} mm" for _, r in t3.iterrows())
    return Claim(
        "Mixing training sources beats any single one",
        "Table 3: the mixed training set gives the lowest error",
        f"{figs} PA-MPJPE ({int(mixed['images'])} images each)",
        lower(mixed["pa_mpjpe_mm"], single["pa_mpjpe_mm"].min()),
    )
