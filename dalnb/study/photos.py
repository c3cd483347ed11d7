"""The photos (notebook 05): registration refines the regressor's prediction on in-the-wild photos."""

from __future__ import annotations

import numpy as np

from dalnb.claims import Claim, at_most

__all__ = ["photos_claim"]


def photos_claim(refined: list[dict], from_rest: list[dict]) -> Claim:
    """In-the-wild photos: the median keypoint reprojection error (px, against MediaPipe) of the
    regressor's prediction refined by registration, beside registration from the rest pose
    (notebook 03) on the same photos; rows as ``photos.photo_rows`` gives them."""
    key = "keypoint reprojection error (px)"

    def median(rows):
        ok = [r[key] for r in rows if r["status"] == "ok" and np.isfinite(r[key])]
        return (float(np.median(ok)) if ok else float("nan")), len(ok)

    (a, n_a), (b, n_b) = median(refined), median(from_rest)
    text = "The method works on in-the-wild photos: registration refines the regressor's prediction"
    paper = "qualitative results on in-the-wild photos"
    if not refined:
        return Claim(text, paper, "no photos or no MediaPipe here", None, "photos are read from ../shared/data")
    ours = f"median keypoint error {a:.1f} px from the regressor ({n_a} of {len(refined)} photos fitted)"
    if from_rest:
        ours += f" against {b:.1f} px from the rest pose ({n_b} of {len(from_rest)}, notebook 03)"
    note = "agreement with MediaPipe's keypoints, not 3D accuracy: the photos have no 3D truth"
    return Claim(text, paper, ours, at_most(a, b) if from_rest else None, note)
