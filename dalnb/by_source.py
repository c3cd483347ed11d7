"""Results split by where the samples came from: the synthetic renders and each real source
(``dalnb.data.sources``). Real samples have no 3D truth (Human3.6M frames excepted): for them the
fits are measured in the image, by keypoint reprojection error and, where DensePose points are
annotated, per-pixel error."""

from __future__ import annotations

import numpy as np

from dalnb.data.sources import source_of
from dalnb.fitting import FitResult
from dalnb.metrics import evaluate

__all__ = ["align_fits", "rows_by_source", "real_rows", "fit_overlays", "pick_by_source"]


def align_fits(fits: FitResult, samples: list[dict]) -> FitResult:
    """The fits of ``samples``, in their order (``FitResult.take_ids``)."""
    return fits.take_ids([s["sample_id"] for s in samples])


def pick_by_source(samples: list[dict], n: int, real_only: bool = True) -> list[dict]:
    """Up to ``n`` samples taking each source in turn (so every source shows), in their order."""
    groups: dict[str, list[dict]] = {}
    for s in samples:
        if not (real_only and source_of(s) == "synthetic"):
            groups.setdefault(source_of(s), []).append(s)
    out, k = [], 0
    while len(out) < n and any(k < len(g) for g in groups.values()):
        out += [g[k] for g in groups.values() if k < len(g)][: n - len(out)]
        k += 1
    return out


def rows_by_source(body, fits: FitResult, samples: list[dict]) -> list[dict]:
    """One row per source: samples, fits ok and ``metrics.evaluate``'s errors on that source
    (``fits`` in any order, matched by sample_id)."""
    fits = align_fits(fits, samples)
    rows = []
    for src in dict.fromkeys(source_of(s) for s in samples):
        idx = [i for i, s in enumerate(samples) if source_of(s) == src]
        rows.append({"source": src, **evaluate(body, fits.take(idx), [samples[i] for i in idx])})
    return rows


def real_rows(rows: list[dict]) -> list[dict]:
    """``training.per_test_set`` rows of the real test sets only."""
    return [r for r in rows if r["test set"] != "synthetic"]


def fit_overlays(body, samples: list[dict], fits: dict[str, FitResult], title: str, size: float = 2.2):
    """A grid: one column per sample, one row per labelled set of fits (e.g. the rounds), each
    fit drawn over its image with its keypoints and its keypoint error in the title."""
    import matplotlib.pyplot as plt

    from dalnb.metrics import keypoint_error
    from dalnb.viz import draw_sample, overlay_mesh

    fig, axes = plt.subplots(
        len(fits), len(samples), figsize=(size * len(samples), size * 1.1 * len(fits)), squeeze=False
    )
    for row, (label, f) in zip(axes, fits.items()):
        f = align_fits(f, samples)
        proj = f.project(body.keypoints(f.vertices, "coco17")).detach().numpy()
        err = keypoint_error(proj, np.stack([s["keypoints2d"] for s in samples]))
        for j, (ax, s) in enumerate(zip(row, samples)):
            img = overlay_mesh(s["image"], f.vertices[j], body.faces, f.camera[j])
            draw_sample(ax, dict(s, image=img), points=False, title=f"{label}: {err[j]:.1f} px")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
