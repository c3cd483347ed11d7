"""Registration (explained in notebook 03): fit the rigged template to each sample's dense
correspondences and keypoints by gradient descent, batched. One room per idea: ``config``
(terms, weights, stages), ``batch`` (samples -> padded tensors), ``problem`` (parameters and
loss terms), ``optim`` (the loop), ``register``, ``result`` (fits and their files), ``folder``
(a folder of shards) and ``depth_prior`` (the lifter's depths as a soft prior)."""

from dalnb.fitting.batch import Batch, prepare_batch
from dalnb.fitting.config import (
    DEFAULT_WEIGHTS,
    SMOOTHNESS_TERMS,
    TERMS,
    RegistrationConfig,
    Stage,
    ablation_configs,
    default_stages,
)
from dalnb.fitting.depth_prior import (
    DEPTH_PRIOR_FILE,
    REGIME_NAMES,
    REGIMES,
    DepthPriorCheck,
    RegimeCheck,
    attach_lifted_depths,
    check_depth_prior,
    depth_regime,
    lifted_depth_regimes,
    use_lifted_depths,
    without_dense,
)
from dalnb.fitting.folder import register_folder
from dalnb.fitting.optim import adam_step, robust_scale, run_stage
from dalnb.fitting.problem import PARAM_SLICES, pose_prior_weights
from dalnb.fitting.register import register
from dalnb.fitting.result import FitResult, concat_fits, load_fits, save_fits, skin_parameters

__all__ = [
    "Batch",
    "prepare_batch",
    "DEFAULT_WEIGHTS",
    "SMOOTHNESS_TERMS",
    "TERMS",
    "RegistrationConfig",
    "Stage",
    "ablation_configs",
    "default_stages",
    "REGIMES",
    "DepthPriorCheck",
    "RegimeCheck",
    "attach_lifted_depths",
    "DEPTH_PRIOR_FILE",
    "REGIME_NAMES",
    "check_depth_prior",
    "depth_regime",
    "lifted_depth_regimes",
    "use_lifted_depths",
    "without_dense",
    "register_folder",
    "adam_step",
    "robust_scale",
    "run_stage",
    "PARAM_SLICES",
    "pose_prior_weights",
    "register",
    "FitResult",
    "concat_fits",
    "load_fits",
    "save_fits",
    "skin_parameters",
]
