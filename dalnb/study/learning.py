"""Where the learner's error goes: the regressor trained on true parameters against training bodies,
crop size, backbone, the 2D keypoint head, the renders' front cues and mirroring (``python -m dalnb.bench
learning``; notebook 06's learning curve).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["records", "variant", "table", "figure", "findings", "split_table", "split_findings"]

EPOCHS = 15  # the curve's training length; records of other lengths stand in the table
# the bench's knobs and their values where a record predates a knob
DEFAULTS = {"lr": 3e-4, "pool": "mean", "w_heatmap": 0.0, "w_keypoints": 1.0, "w_surface": 0.0, "turn_deg": 0.0}
DEFAULTS |= {"turn_scale": 0.0}
KNOBS = ["backbone", "image_size", "keypoint_head", "front_cues", "mirror", *DEFAULTS, "n_train", "epochs", "seed"]
SPLIT = {
    "pa_plane_mm": "residual in the image plane",
    "pa_depth_mm": "residual in depth",
    "pa_true_plane_mm": "PA-MPJPE, true image plane + its depths",
    "pa_flat_mm": "PA-MPJPE, true image plane flat",
}


def variant(r: pd.Series) -> str:
    """A record's learner in words, e.g. 'resnet18 96 px + keypoint head + front cues, mirrored'."""
    parts = [f"{r['backbone']} {int(r['image_size'])} px"]
    parts += ["keypoint head"] * bool(r["keypoint_head"]) + ["front cues"] * bool(r["front_cues"])
    parts += [f"heatmap loss {r['w_heatmap']:g}"] * bool(r["w_heatmap"])
    parts += [f"surface head {r['w_surface']:g}"] * bool(r["w_surface"])
    parts += [f"turned +-{r['turn_deg']:g} deg"] * bool(r["turn_deg"])
    parts += ["grid pool"] * (r["pool"] != "mean") + [f"lr {r['lr']:g}"] * (r["lr"] != DEFAULTS["lr"])
    parts += [f"mesh keypoints x{r['w_keypoints']:g}"] * (r["w_keypoints"] != DEFAULTS["w_keypoints"])
    return " + ".join(parts) + (", mirrored" if r["mirror"] else "")


def _all_records() -> pd.DataFrame:
    """Every record, a knob a record predates set to its value then (``DEFAULTS``)."""
    from dalnb.records import records_frame

    df = records_frame("learning")
    for k, v in DEFAULTS.items():
        if len(df):
            df[k] = df[k].fillna(v) if k in df else v
    return df


def records(machine: str | None = None) -> pd.DataFrame:
    """The newest record of each grid point (per machine), with its variant named and ``pa_repeats``: the
    test PA-MPJPE of every record of that point, oldest first (a point run again shows its spread)."""
    from dalnb.records import newest_rows

    df = _all_records()
    if not len(df):
        return df
    repeats = df.groupby([df[k].astype(str) for k in [*KNOBS, "machine"]])["pa_mpjpe_mm"].transform(
        lambda v: ", ".join(f"{x:.1f}" for x in v)
    )
    df = newest_rows(df.assign(pa_repeats=repeats), KNOBS)
    if machine is not None:
        df = df[df["machine"] == machine].copy()
    df["variant"] = df.apply(variant, axis=1)
    return df.sort_values(["variant", "train_bodies", "epochs"])


def table(df: pd.DataFrame) -> pd.DataFrame:
    cols = [
        *("variant", "train_bodies", "epochs", "images_seen", "pa_mpjpe_mm", "train_pa_mpjpe_mm", "mpjpe_mm"),
        *("torso_rot_over_90_pct", "train_torso_rot_over_90_pct", "keypoint_err_px", "train_images_per_s"),
        *("machine", "date"),
    ]
    return df.reindex(columns=cols).reset_index(drop=True)


def figure(df: pd.DataFrame):
    """Test (solid) and training-set (dashed) PA-MPJPE, test MPJPE and the share of test bodies whose heading
    is off by more than 90 degrees, against the training bodies, one line per learner (``EPOCHS`` epochs)."""
    import matplotlib.pyplot as plt

    n = df[df["epochs"] == EPOCHS]["variant"].nunique()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8 + 0.17 * ((n + 1) // 2)))
    for i, (name, g) in enumerate(df[df["epochs"] == EPOCHS].groupby("variant")):
        c = f"C{i}"
        axes[0].plot(g["train_bodies"], g["pa_mpjpe_mm"], "o-", color=c, label=name)
        axes[0].plot(g["train_bodies"], g["train_pa_mpjpe_mm"], "o--", color=c, alpha=0.5)
        axes[1].plot(g["train_bodies"], g["mpjpe_mm"], "o-", color=c)
        axes[2].plot(g["train_bodies"], g["torso_rot_over_90_pct"], "o-", color=c)
    axes[0].set(ylabel="PA-MPJPE (mm): test solid, training bodies dashed")
    axes[1].set(ylabel="test MPJPE (mm)")
    axes[2].set(ylabel="test heading off > 90 deg (%)")
    ticks = sorted(int(b) for b in df["train_bodies"].unique())
    for ax in axes:
        ax.set(xscale="log", xlabel="training bodies (true parameters)")
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
    handles, labels = axes[0].get_legend_handles_labels()
    rows = (len(labels) + 1) // 2
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle("The regressor's learning curve: trained on true parameters, tested on held-out anny bodies")
    fig.tight_layout(rect=(0, 0.045 * rows, 1, 1))  # the legend below the panels, clear of the lines
    return fig


def findings(df: pd.DataFrame) -> str:
    """What the curve says, in sentences computed from the records: the reference learner's PA-MPJPE
    against its training bodies (mm per tripling of the bodies, from a least-squares line in log
    bodies) and every other point beside the reference learner's at the same renders."""
    import numpy as np

    curve = df[df["epochs"] == EPOCHS]
    if not len(curve):
        return "No record at the curve's training length."
    ref = curve.groupby("variant")["train_bodies"].nunique().idxmax()  # the learner with the most points
    line = curve[curve["variant"] == ref].sort_values("train_bodies")
    out = [
        f"**{ref}**, {EPOCHS} epochs: test PA-MPJPE "
        + " → ".join(f"{r.pa_mpjpe_mm:.1f}" for r in line.itertuples())
        + " mm over "
        + " → ".join(f"{r.train_bodies}" for r in line.itertuples())
        + " training bodies (training bodies: "
        + " → ".join(f"{r.train_pa_mpjpe_mm:.1f}" for r in line.itertuples())
        + " mm)."
    ]
    if len(line) >= 2:
        slope = np.polyfit(np.log(line["train_bodies"]) / np.log(3), line["pa_mpjpe_mm"], 1)[0]
        out.append(f"That is {slope:+.1f} mm per tripling of the training bodies.")
    base, items = line.set_index("n_train"), []
    for r in df[(df["variant"] != ref) | (df["epochs"] != EPOCHS)].itertuples():
        if r.n_train not in base.index:
            continue
        b = base.loc[r.n_train]
        items.append(
            f"- {r.variant}, {r.epochs} epochs, {r.train_bodies} bodies: {r.pa_mpjpe_mm:.1f} mm "
            f"({r.pa_mpjpe_mm - b.pa_mpjpe_mm:+.1f} against the reference; training bodies "
            f"{r.train_pa_mpjpe_mm:.1f} mm), heading off > 90 deg on {r.torso_rot_over_90_pct:.1f} % "
            f"(reference {b.torso_rot_over_90_pct:.1f} %)."
        )
    again = df[df["pa_repeats"].str.contains(",")] if "pa_repeats" in df else df.iloc[:0]
    for r in again.itertuples():
        out.append(
            f"Run again with the same settings ({r.variant}, {r.epochs} epochs, {r.train_bodies} bodies), the "
            f"learner scored {r.pa_repeats} mm: differences of that size between points are run-to-run noise."
        )
    return " ".join(out) + (
        "\n\nThe other points, beside the reference at the same renders:\n\n" + "\n".join(items) if items else ""
    )


def split_table(df: pd.DataFrame) -> pd.DataFrame:
    """Where each learner's test PA-MPJPE lies (records that measured it, ``metrics.depth_split``): the
    aligned residual's image-plane and depth parts, the PA-MPJPE with the true image plane and the
    predicted depths, and with the true image plane flat (what the image plane alone gives), with the
    keypoint head's own 2D error and the mesh's keypoints' (pixels of the crop)."""
    have = df[df["pa_plane_mm"].notna()] if "pa_plane_mm" in df else df.iloc[:0]
    cols = ["variant", "train_bodies", "epochs", "pa_mpjpe_mm", *SPLIT, "keypoint_head_err_px", "keypoint_err_px"]
    names = {k: f"{v} (mm)" for k, v in SPLIT.items()} | {"pa_mpjpe_mm": "PA-MPJPE (mm)"}
    names |= {"keypoint_head_err_px": "keypoint head (px)", "keypoint_err_px": "mesh keypoints (px)"}
    return have.reindex(columns=cols).rename(columns=names).reset_index(drop=True)


def split_findings(df: pd.DataFrame) -> str:
    """The split in sentences for the learner with the lowest test PA-MPJPE among those measured."""
    t = df[df["pa_plane_mm"].notna()] if "pa_plane_mm" in df else df.iloc[:0]
    if not len(t):
        return "No record measured where the error lies: python -m dalnb.bench learning --record."
    r = t.loc[t["pa_mpjpe_mm"].idxmin()]
    per_axis = r["pa_plane_mm"] / 2**0.5  # the image plane has two axes, depth one
    ratio = r["pa_depth_mm"] / per_axis
    where = (
        "depth more than the image plane"
        if ratio > 1.15
        else "the image plane more than depth"
        if ratio < 1 / 1.15
        else "about as much along each image axis as in depth"
    )
    return (
        f"**{r['variant']}** ({r['train_bodies']} bodies, {r['epochs']} epochs): PA-MPJPE {r['pa_mpjpe_mm']:.1f} mm. "
        f"After the alignment a joint is off by {r['pa_plane_mm']:.1f} mm in the image plane ({per_axis:.1f} mm per "
        f"axis) and {r['pa_depth_mm']:.1f} mm in depth: the error lies {where}. With the true image plane and "
        f"its own depths it would score {r['pa_true_plane_mm']:.1f} mm; the true image plane alone, flat, "
        f"{r['pa_flat_mm']:.1f} mm. Its keypoint head's keypoints are {r['keypoint_head_err_px']:.1f} px from the "
        f"annotations in a {int(r['image_size'])}-px crop ({r['keypoint_err_px']:.1f} px for the mesh's keypoints)."
    )
