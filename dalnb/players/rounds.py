"""The rounds comparer (notebook 04): for a chosen test image, each round's regressor body and its
refinement beside the truth, with their errors on that image; a picker chooses the image, a
slider the round."""

from __future__ import annotations

import numpy as np

from dalnb.players.page import figure_image, frame_player, jpeg

__all__ = ["rounds_frames", "rounds_comparer"]

UP = np.array([1.0, -1.0, -1.0])  # camera frame (y down, z forward) -> a viewer's (y up)


def _frame(body, s: dict, pred, ref, i: int, err: tuple[float, float], r: int) -> str:
    import matplotlib.pyplot as plt

    from dalnb.metrics import procrustes_align
    from dalnb.viz import draw_mesh, overlay_mesh

    fig, axes = plt.subplots(1, 5, figsize=(10, 2.6))
    for ax, f, name in ((axes[0], pred, "regressor"), (axes[1], ref, "refined")):
        ax.imshow(overlay_mesh(s["image"], f.vertices[i], body.faces, f.camera[i]))
        ax.set_title(f"round {r} {name}", fontsize=8)
        ax.axis("off")
    gt = np.asarray(s["vertices3d"], np.float64)
    meshes = [procrustes_align(f.vertices[i : i + 1].double().numpy(), gt[None])[0] for f in (pred, ref)] + [gt]
    names = [f"regressor {err[0]:.0f} mm", f"refined {err[1]:.0f} mm", "truth"]
    for ax, v, name in zip(axes[2:], meshes, names):
        draw_mesh(ax, v * UP, body.faces, "front")
        ax.set_title(name, fontsize=8)
    fig.tight_layout()
    return jpeg(figure_image(fig))


def rounds_frames(body, samples: list[dict], regressors: dict, refine_iters: int, device=None, seed: int = 0):
    """Pictures ``[image][round]``, labels and the images' names; ``regressors``: round -> model.
    Errors are PA-MPJPE (mm) on that image, bodies Procrustes-aligned to the truth."""
    from dalnb.metrics import pa_mpjpe
    from dalnb.training import evaluate_model

    gt = np.stack([s["joints3d"] for s in samples])
    frames = [[] for _ in samples]
    labels = [[] for _ in samples]
    for r, model in regressors.items():
        _, pred, ref = evaluate_model(body, model, samples, refine_iters, device, seed)
        errs = [pa_mpjpe(body.keypoints(f.vertices, "h36m17").numpy(), gt) * 1000 for f in (pred, ref)]
        for i, s in enumerate(samples):
            frames[i].append(_frame(body, s, pred, ref, i, (errs[0][i], errs[1][i]), r))
            labels[i].append(f"round {r}: PA-MPJPE {errs[0][i]:.0f} mm regressor, {errs[1][i]:.0f} mm refined")
    return frames, labels, [str(s["sample_id"]) for s in samples]


def rounds_comparer(body, samples: list[dict], regressors: dict, refine_iters: int, device=None, seed: int = 0):
    """The comparer: pick a test image, slide through the rounds (plays offline in the report)."""
    frames, labels, names = rounds_frames(body, samples, regressors, refine_iters, device, seed)
    return frame_player(
        frames, labels, names, title="rounds comparer: pick an image, drag the slider", step="round", height=290
    )
