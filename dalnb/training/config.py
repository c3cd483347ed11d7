"""Settings of the learning half: ``TrainConfig`` (one regressor training) and ``RoundsConfig``
(the deform-and-learn rounds: registration budgets, epochs, evaluation, the regressor).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from dalnb.regressor import (
    RegressorConfig,
)


@dataclass
class TrainConfig:
    epochs: int = 4
    batch: int = 32
    lr: float = 3e-4  # AdamW, from scratch
    weight_decay: float = 1e-4
    seed: int = 0
    device: str | None = None
    bf16: bool = True  # autocast on GPU
    flip_jitter_px: float = 0.0  # random translation of the crop (pixels, applied to targets too)
    # probability of training on a sample's mirror image (image, annotations and targets; training.augment.Mirror):
    # twice the bodies for the same renders (bench learning: the true-parameter ceiling, benchmarks/learning.jsonl)
    mirror: float = 0.5
    # in-plane augmentation (training.augment.Turn): each training image turned by up to this many degrees
    # about the crop's centre and scaled by up to 1 +- turn_scale, annotations and targets alike; 0: off
    turn_deg: float = 0.0
    turn_scale: float = 0.0


@dataclass
class RoundsConfig:
    rounds: int = 3
    first_iters: int = 300  # registration from the rest pose (round 1)
    later_iters: int = 300  # from the regressor's prediction (rounds 2..R)
    refine_iters: int = 50  # test-time refinement
    epochs_per_round: int = 4
    n_eval: int = 200  # test samples evaluated per round
    finetune_epochs: int = 0  # optional final fine-tune on a subset (the paper fine-tunes on Human3.6M only)
    finetune_where: dict = field(default_factory=dict)  # sample key -> value, e.g. {"pose_source": "mocap"}
    train: TrainConfig = field(default_factory=TrainConfig)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)
    seed: int = 0
    device: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> RoundsConfig:
        d = dict(d)
        tr = TrainConfig(**d.pop("train", {}))
        rg = RegressorConfig(**d.pop("regressor", {}))
        return cls(train=tr, regressor=rg, **d)

    def to_dict(self) -> dict:
        return asdict(self)

    def training_key(self, epochs: int) -> dict:
        """What a regressor trained for ``epochs`` epochs is made from (``steps.Ledger`` keys):
        the training and regressor settings and the seed (not the device)."""
        train = {k: v for k, v in asdict(self.train).items() if k not in ("device", "seed")}
        return {"epochs": epochs, "train": train, "regressor": asdict(self.regressor), "seed": self.seed}
