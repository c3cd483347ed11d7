"""Fitting the template to photos: MediaPipe keypoints and person mask (in its own environment),
then registration, per photo a fit, a mesh and an overlay."""

from dalnb.photos.detect import BLAZEPOSE33, detect, mediapipe_python, unreadable
from dalnb.photos.fit import PhotoFit, fit_photos, load_photo_rows, photo_rows, show_overlays

__all__ = [
    "PhotoFit",
    "detect",
    "fit_photos",
    "mediapipe_python",
    "BLAZEPOSE33",
    "photo_rows",
    "show_overlays",
    "load_photo_rows",
    "unreadable",
]
