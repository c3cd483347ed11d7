"""Where the learner's error goes: the regressor trained on true parameters against training bodies,
crop size, backbone, the 2D keypoint head, the renders' front cues and mirroring (``python -m dalnb.bench
learning``; notebook 06's learning curve).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["records", "variant", "table", "figure"]

KNOBS = ["backbone", "image_size", "keypoint_head", "front_cues", "mirror", "n_train", "epochs", "seed"]


def variant(r: pd.Series) -> str:
    """A record's learner in words, e.g. 'resnet18 96 px + keypoint head + front cues, mirrored'."""
    parts = [f"{r['backbone']} {int(r['image_size'])} px"]
    parts += ["keypoint head"] * bool(r["keypoint_head"]) + ["front cues"] * bool(r["front_cues"])
    return " + ".join(parts) + (", mirrored" if r["mirror"] else "")


def records(machine: str | None = None) -> pd.DataFrame:
    """The newest record of each grid point (per machine), with its variant named."""
    from dalnb.records import records_frame

    df = records_frame("learning")
    if not len(df):
        return df
    if machine is not None:
        df = df[df["machine"] == machine]
    df = df.drop_duplicates([*KNOBS, "machine"], keep="last").copy()
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
    is off by more than 90 degrees, against the training bodies, one line per learner (15 epochs)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for i, (name, g) in enumerate(df.groupby("variant")):
        c = f"C{i}"
        axes[0].plot(g["train_bodies"], g["pa_mpjpe_mm"], "o-", color=c, label=name)
        axes[0].plot(g["train_bodies"], g["train_pa_mpjpe_mm"], "o--", color=c, alpha=0.5)
        axes[1].plot(g["train_bodies"], g["mpjpe_mm"], "o-", color=c)
        axes[2].plot(g["train_bodies"], g["torso_rot_over_90_pct"], "o-", color=c)
    axes[0].set(ylabel="PA-MPJPE (mm): test solid, training bodies dashed")
    axes[1].set(ylabel="test MPJPE (mm)")
    axes[2].set(ylabel="test heading off > 90 deg (%)")
    for ax in axes:
        ax.set(xscale="log", xlabel="training bodies (true parameters)")
    axes[0].legend(fontsize=7)
    fig.suptitle("The regressor's learning curve: trained on true parameters, tested on held-out anny bodies")
    fig.tight_layout()
    return fig
