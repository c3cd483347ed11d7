"""dalnb: deform-and-learn (Yoshiyasu & Gamez, arXiv 1907.11955) as a notebook study.

Public API (see ARCHITECTURE.md): ``BodyModel``; later issues add ``load_samples``,
``register`` and ``fit_photos``.
"""
from dalnb.body.model import BodyModel, BodyOutput

__all__ = ["BodyModel", "BodyOutput"]
__version__ = "0.1.0"
