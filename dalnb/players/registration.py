"""The registration player (notebook 03): the fit's state every few iterations (``register(...,
keep_every=k)``), each drawn over its image with the dense points and keypoints, beside the
loss curves with a marker at that iteration; a slider steps through them."""

from __future__ import annotations

import numpy as np

from dalnb.players.page import figure_image, frame_player, jpeg

__all__ = ["registration_frames", "registration_player"]


def registration_frames(body, samples: list[dict], fits, width: float = 9.0) -> tuple[list[str], list[str]]:
    """One picture per kept state of ``fits`` (``fits.frames``) and its label: the meshes over
    the images with the dense points (cyan) and keypoints (green), and the loss curves."""
    import matplotlib.pyplot as plt

    from dalnb.viz import overlay_mesh

    if not fits.frames:
        raise ValueError("registration_frames: the fits kept no states (register with keep_every > 0)")
    hist = {k: np.asarray(v) for k, v in fits.history.items() if k not in ("active", "total")}
    hist = {k: v for k, v in hist.items() if v.max() > 0}
    total = np.asarray(fits.history["total"])
    n = len(samples)
    frames, labels = [], []
    for snap in fits.frames:
        fig, axes = plt.subplots(1, n + 1, figsize=(width, width / (n + 1.6) * 1.3), width_ratios=[1] * n + [1.6])
        for ax, s, v, c in zip(axes[:n], samples, snap["vertices"], snap["camera"]):
            ax.imshow(overlay_mesh(s["image"], v, body.faces, c))
            if len(s.get("dense_xy", [])):
                ax.scatter(*np.asarray(s["dense_xy"]).T, s=1.5, c="cyan", alpha=0.6, linewidths=0)
            k = np.asarray(s["keypoints2d"])
            ax.scatter(*k[k[:, 2] > 0, :2].T, s=8, c="lime", marker="x", linewidths=0.8)
            ax.axis("off")
        ax = axes[n]
        for k, v in hist.items():
            ax.plot(v, lw=1, label=k)
        ax.axvline(snap["iteration"], color="k", lw=1.5)
        ax.set(yscale="log", xlabel="iteration")
        ax.set_title("loss per term (unweighted)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=5, ncol=2)
        fig.tight_layout()
        frames.append(jpeg(figure_image(fig, dpi=64), quality=75))
        it = min(snap["iteration"], len(total) - 1)
        labels.append(f"iteration {snap['iteration']} of {len(total)}: total loss {total[it]:.3g}")
    return frames, labels


def registration_player(body, samples: list[dict], fits, height: int = 300):
    """The player: a slider over the kept states (plays offline in the HTML report too)."""
    frames, labels = registration_frames(body, samples, fits)
    return frame_player(
        [frames], [labels], title="registration player: drag the slider", step="iteration", height=height
    )
