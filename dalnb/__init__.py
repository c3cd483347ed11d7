"""dalnb: deform-and-learn (Yoshiyasu & Gamez, arXiv 1907.11955) as a notebook study.

    from dalnb import BodyModel, load_samples, register, fit_photos

    body = BodyModel.default()                 # the open rigged template (CPU)
    samples = load_samples("runs/dev/data/test")
    fits = register(body, samples)             # fits.vertices (N, V, 3), fits.status
    results = fit_photos(["me.jpg"], "out/")   # fit .npz, mesh .obj and overlay .png per photo

Beside them: ``Run`` (a run folder), ``StudyConfig`` / ``get_preset`` (the typed presets),
``run_rounds`` (deform-and-learn), ``load_regressor``, ``predict_in_image`` and
``evaluate_model``.
"""

from dalnb.body.model import BodyModel, BodyOutput
from dalnb.config import StudyConfig, get_preset
from dalnb.data.store import load_samples
from dalnb.fitting import FitResult, RegistrationConfig, load_fits, register, save_fits
from dalnb.photos import fit_photos
from dalnb.run import Run
from dalnb.training import (
    RoundsConfig,
    evaluate_model,
    load_regressor,
    predict_in_image,
    run_rounds,
)

__all__ = [
    "BodyModel",
    "BodyOutput",
    "load_samples",
    "register",
    "fit_photos",
    "FitResult",
    "RegistrationConfig",
    "load_fits",
    "save_fits",
    "Run",
    "StudyConfig",
    "get_preset",
    "RoundsConfig",
    "run_rounds",
    "load_regressor",
    "predict_in_image",
    "evaluate_model",
]
__version__ = "0.1.0"
