"""Registration (explained in notebook 03): fit the rigged template to each sample's dense
correspondences and keypoints by gradient descent, batched. One room per idea: ``config``
(terms, weights, stages), ``batch`` (samples -> padded tensors), ``problem`` (parameters and
loss terms), ``optim`` (the loop), ``register``, ``result`` (fits and their files), ``folder``
(a folder of shards) and ``depth_prior`` (the lifter's depths as a soft prior). Exported here:
what a user of registration calls; the rooms' own parts are imported from the room."""

from dalnb.fitting.config import RegistrationConfig, Stage, ablation_configs
from dalnb.fitting.depth_prior import (
    DEPTH_PRIOR_FILE,
    REGIME_NAMES,
    REGIMES,
    DepthPriorCheck,
    attach_lifted_depths,
    check_depth_prior,
    depth_regime,
    lifted_depth_regimes,
    use_lifted_depths,
    without_dense,
)
from dalnb.fitting.folder import register_folder
from dalnb.fitting.register import register
from dalnb.fitting.result import FitResult, concat_fits, load_fits, save_fits, skin_parameters

__all__ = [
    "RegistrationConfig",
    "Stage",
    "ablation_configs",
    "register",
    "register_folder",
    "FitResult",
    "concat_fits",
    "load_fits",
    "save_fits",
    "skin_parameters",
    "DEPTH_PRIOR_FILE",
    "REGIMES",
    "REGIME_NAMES",
    "DepthPriorCheck",
    "attach_lifted_depths",
    "check_depth_prior",
    "depth_regime",
    "lifted_depth_regimes",
    "use_lifted_depths",
    "without_dense",
]
