"""Registration settings: the loss terms and their default weights, stages as data (free
parameters, weights, learning rate, iterations) and ``RegistrationConfig``; the paper's Fig. 7
ablations as configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

TERMS = (
    "dense",
    "part_dense",
    "keypoints",
    "keypoint_depth",
    "silhouette",
    "scale_smooth",
    "scale_prior",
    "pose_prior",
    "joint_smooth",
    "joint_limits",
    "determinant",
)


DEFAULT_WEIGHTS: dict[str, float] = {
    "dense": 1.0,
    "part_dense": 0.5,
    "keypoints": 1.0,
    "keypoint_depth": 0.05,
    "silhouette": 0.1,
    "scale_smooth": 3e-3,
    "scale_prior": 1e-3,
    "pose_prior": 2e-5,
    "joint_smooth": 1e-4,
    "joint_limits": 1e-3,
    "determinant": 1.0,
}


@dataclass
class Stage:
    name: str
    iters: int
    lr: float
    free: tuple[str, ...]  # of "rotation", "camera", "perspective", "pose", "scales"
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    lr_end: float = 0.05  # the learning rate decays (cosine) to this fraction of `lr` over the stage


def default_stages(iters: int = 300, stiff_fraction: float = 0.1) -> list[Stage]:
    """A stiff stage (rotation and camera only) then the full fit, ``iters`` in all."""
    n_stiff = max(int(round(iters * stiff_fraction)), 1)
    return [
        Stage("stiff", n_stiff, 0.05, ("rotation", "camera")),
        Stage("full", iters - n_stiff, 0.06, ("rotation", "camera", "perspective", "pose", "scales")),
    ]


@dataclass
class RegistrationConfig:
    stages: list[Stage] = field(default_factory=default_stages)
    yaw_hypotheses: int = 4  # headings tried in the first stage
    robust_sigma: float | None = (
        0.1  # Geman-McClure scale on 2D residuals (normalised units: 0.1 = 10 % of the person); None = squared
    )
    # the 2D residuals' scale falls (cosine) from robust_sigma to this over each stage that bends the body (graduated
    # non-convexity: wide while the pose is far off, narrow once it is close, so that outliers and swapped points stop
    # pulling); None keeps robust_sigma. Narrower helps noisy points and starts to cost exact ones; notebook 06's
    # noise ablation compares squared residuals, a fixed and a narrowing scale
    robust_sigma_end: float | None = 0.03
    tol: float = 1e-4  # a sample stops when its loss improved by less than tol (relative) over `patience` iterations
    patience: int = 30
    chunk_size: int = 512
    part_candidates: int = 48  # candidate vertices per part for part-level DensePose points
    silhouette_points: int = 256  # surface samples (spread by area) kept inside the mask
    coverage_points: int = 64  # pixels sampled inside the mask that want a surface sample near them
    coverage_every: int = 10  # iterations between searches for each mask pixel's nearest surface sample
    silhouette_sigma: float | None = 0.05  # Geman-McClure scale on the distance outside the mask (normalised units)
    seed: int = 0
    device: str | None = None
    compile: bool = False  # torch.compile the loss terms (CPU: ~2-3x per iteration, 30-60 s to compile each new shape)
    twist_prior: float = 5.0  # pose-prior weight of twists about the bone, relative to 1 for swings
    collar_prior: float = 5.0  # pose-prior weight of the collars (2D cannot tell them from the shoulders)
    # Adam's (beta1, beta2). A short memory of squared gradients (0.8 against torch's 0.999) keeps the steps
    # from shrinking once the data terms are met and only the weak terms (priors, limits) still pull, which is
    # where a 2D-only fit finds its depth
    adam_betas: tuple[float, float] = (0.9, 0.8)

    def __post_init__(self):
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            raise ValueError(
                f"RegistrationConfig.adam_betas: expected (beta1, beta2), each in [0, 1), got {self.adam_betas!r}"
            )

    @classmethod
    def with_iters(cls, iters: int, **kw) -> RegistrationConfig:
        return cls(stages=default_stages(iters), **kw)

    @classmethod
    def refinement(cls, iters: int, **kw) -> RegistrationConfig:
        """Test-time refinement from a prediction: a short rigid stage that tries the predicted
        heading and its half turn about the vertical (the 2D keypoints, left and right, tell which
        fits; pose and shape stay the prediction's), then the full fit."""
        return cls(stages=default_stages(iters, stiff_fraction=0.2), yaw_hypotheses=2, **kw)

    def without_stiff_stage(self) -> RegistrationConfig:
        """All iterations in the full fit, from the facing-the-camera rest pose (paper Fig. 7)."""
        n = sum(s.iters for s in self.stages)
        full = replace(self.stages[-1], iters=n)
        return replace(self, stages=[full], yaw_hypotheses=1)

    def stage_rows(self) -> list[dict]:
        """One row per stage: iterations, learning rate, free parameters and non-zero weights."""
        return [
            {
                "stage": s.name,
                "iterations": s.iters,
                "learning rate": s.lr,
                "free": ", ".join(s.free),
                **{f"w_{k}": v for k, v in s.weights.items() if v},
            }
            for s in self.stages
        ]

    def without(self, *terms: str) -> RegistrationConfig:
        """The same config with some loss terms switched off (ablations)."""
        return replace(
            self,
            stages=[
                replace(s, weights={k: (0.0 if k in terms else v) for k, v in s.weights.items()}) for s in self.stages
            ],
        )


SMOOTHNESS_TERMS = ("scale_smooth", "joint_smooth", "joint_limits", "pose_prior", "scale_prior")


def ablation_configs(base: RegistrationConfig) -> dict[str, RegistrationConfig]:
    """The paper's Fig. 7 ablations: registration without one ingredient at a time."""
    return {
        "full": base,
        "without dense correspondences": base.without("dense", "part_dense"),
        "without smoothness and limit terms": base.without(*SMOOTHNESS_TERMS),
        "without the stiff stage": base.without_stiff_stage(),
    }
