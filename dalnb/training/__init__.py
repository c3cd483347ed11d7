"""The learning half (notebook 04): the train set, the fit store, regressor training,
prediction and evaluation, the deform-and-learn rounds and Table 4's baselines."""

from dalnb.training.baselines import ground_truth_fits, label_ceiling, one_long_round, single_step_baseline
from dalnb.training.config import RoundsConfig, TrainConfig
from dalnb.training.predict import (
    evaluate_model,
    load_regressor,
    mean_pose_error,
    predict,
    predict_in_image,
)
from dalnb.training.rounds import load_fits_list, per_test_set, regressor_path, round_dir, run_rounds
from dalnb.training.store import FitStore
from dalnb.training.train import train_regressor
from dalnb.training.trainset import TrainSet, build_trainset

__all__ = [
    "ground_truth_fits",
    "label_ceiling",
    "one_long_round",
    "single_step_baseline",
    "RoundsConfig",
    "TrainConfig",
    "evaluate_model",
    "load_regressor",
    "mean_pose_error",
    "predict",
    "predict_in_image",
    "load_fits_list",
    "regressor_path",
    "round_dir",
    "run_rounds",
    "per_test_set",
    "FitStore",
    "train_regressor",
    "TrainSet",
    "build_trainset",
]
