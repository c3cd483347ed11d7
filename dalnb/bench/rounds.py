"""``python -m dalnb.bench rounds``: deform-and-learn round over round (the paper's Table 4 / Fig. 8).

Synthetic training renders (70 % mocap poses, 30 % anny bodies) and a held-out test set of
anny-phenotype bodies. One JSON object per round with ``round``, ``mpjpe_mm``, ``pa_mpjpe_mm``,
``pve_mm``, ``pixel_err`` and the torso rotation error (``torso_rot_median_deg``,
``torso_rot_over_90_pct``: the heading) of the regressor alone, plus the same after test-time refinement
(``refined_*``), then the two baselines trained as long as all rounds together: the
single-step baseline (all losses, no registration) and one long round (round 1's fits only).

``--set annotations=real`` trains on real-like annotations instead of the renders' exact dense
points (``ANNOTATIONS``); the test set is the same either way. ``--set hair=false`` renders every
head bald (``SynthConfig.hair``; the hair ablation: ``benchmarks/rounds_hair.jsonl``).

Settings: a StudyConfig preset (``--set preset=small``, the default: what ``make demo`` runs;
``--set preset=full`` for one GPU) with flat overrides on top (``bench_config``), e.g.
``--set n_train=3000 --set image_size=64``. The run lives in
``work_dir`` (default ``~/.cache/dalnb/bench_rounds/<config hash>``) and resumes after a crash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from dalnb.bench import emit, register_bench
from dalnb.data.synth import DENSEPOSE_NOISE


def bench_config(preset: str, overrides: dict | None = None) -> dict:
    """The bench's flat settings: StudyConfig preset ``preset`` (what the notebooks run) with the
    bench's ``--set`` overrides on top (e.g. ``n_train=3000``, ``image_size=64``, ``w_pose=3``)."""
    from dalnb.config import get_preset

    cfg = get_preset(preset).resolve()
    r, d = cfg.rounds, cfg.data
    c = dict(
        n_train=d.n_train,
        n_test=d.n_test,
        image_size=d.image_size,
        backbone=r.regressor.backbone,
        rounds=r.rounds,
        epochs_per_round=r.epochs_per_round,
        batch=r.train.batch,
        lr=r.train.lr,
        mirror=r.train.mirror,
        workers=d.workers,
        first_iters=r.first_iters,
        later_iters=r.later_iters,
        refine_iters=r.refine_iters,
        hair=d.synth.hair,
    )
    unknown = sorted(set(overrides or {}) - set(c) - {"annotations", "w_pose", "w_joints", "w_joints_camera"})
    if unknown:
        raise ValueError(f"bench rounds: unknown settings {unknown}; expected some of {sorted(c)}")
    return {**c, **(overrides or {})}


#: The training set's annotations. "exact": every render's dense points as drawn. "real": DensePose-like dense points
#: (``DENSEPOSE_NOISE``, the top level of notebook 06's noise ablation) on half the images, keypoints and a person
#: mask alone on the other half, as MPII or LSP give them (the paper mixes both kinds of sources).
ANNOTATIONS = {
    "exact": {"noise": {}, "keypoint_only": 0.0},
    "real": {"noise": DENSEPOSE_NOISE, "keypoint_only": 0.5},
}


def spread(n: int, fraction: float) -> np.ndarray:
    """(n,) bool: floor(n * fraction) of n items, evenly spread and the same every time (item i
    where floor((i + 1) f) > floor(i f))."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction: expected a number in [0, 1], got {fraction}")
    i = np.arange(n)
    return np.floor((i + 1) * fraction) > np.floor(i * fraction)


def record_config(preset: str, c: dict, cfg, robust_sigma_end: float) -> dict:
    """The config fields of a ``rounds`` record (``CONFIG_KEYS``, in order): preset ``preset``'s
    settings ``c`` with their overrides, ``cfg`` = ``rounds_config(c)``, and the registration's
    robust scale at a fit's end."""
    return {
        "preset": preset,
        **{k: c[k] for k in ("n_train", "n_test", "image_size", "backbone", "epochs_per_round", "batch", "lr")},
        "mirror": cfg.train.mirror,
        **{k: getattr(cfg.regressor, k) for k in ("w_pose", "w_joints", "w_joints_camera")},
        "robust_sigma_end": robust_sigma_end,
        "hair": bool(c["hair"]),
    }


def record_regressor_path(work_dir: str | Path, record: dict) -> Path:
    """The regressor a ``rounds`` record describes, in its run's ``work_dir``: each setting
    (rounds, single_step, one_long_round) trains in the folder named after it."""
    from dalnb.training import regressor_path

    return regressor_path(Path(work_dir) / record["setting"], record["round"])


def rounds_config(c: dict, device: str | None = None, seed: int = 0):
    """The bench's flat config ``c`` (``bench_config``) as a ``RoundsConfig``."""
    from dalnb.regressor import RegressorConfig
    from dalnb.training import RoundsConfig, TrainConfig

    reg = RegressorConfig(
        backbone=c["backbone"],
        image_size=c["image_size"],
        **{k: float(c[k]) for k in ("w_pose", "w_joints", "w_joints_camera") if k in c},
    )
    train = TrainConfig(batch=c["batch"], lr=c["lr"], mirror=float(c["mirror"]))
    return RoundsConfig(
        rounds=c["rounds"],
        first_iters=c["first_iters"],
        later_iters=c["later_iters"],
        refine_iters=c["refine_iters"],
        epochs_per_round=c["epochs_per_round"],
        n_eval=c["n_test"],
        train=train,
        regressor=reg,
        seed=seed,
        device=device,
    )


@register_bench("rounds")
def bench_rounds(
    preset: str = "small",
    device: str | None = None,
    work_dir: str | None = None,
    baselines: bool = True,
    seed: int = 0,
    **overrides,
) -> list[dict]:
    from dalnb.body.model import BodyModel
    from dalnb.data.store import load_samples
    from dalnb.data.synth import SynthConfig, generate
    from dalnb.fitting import RegistrationConfig, load_fits, without_dense
    from dalnb.training import one_long_round, round_dir, run_rounds, single_step_baseline

    c = bench_config(preset, overrides)
    kind = c.get("annotations", "exact")
    if kind not in ANNOTATIONS:
        raise ValueError(f"annotations: expected one of {list(ANNOTATIONS)}, got {kind!r}")
    ann = ANNOTATIONS[kind]
    sigma_end = (
        RegistrationConfig.robust_sigma_end
    )  # the rounds register with the defaults: the robust scale at a fit's end
    key = hashlib.sha1(json.dumps([c, seed, sigma_end], sort_keys=True).encode()).hexdigest()[:10]
    wd = Path(work_dir or Path.home() / ".cache" / "dalnb" / "bench_rounds" / f"{preset}-{key}")
    body = BodyModel.default()
    S = c["image_size"]
    hair = bool(c["hair"])  # renders with hair (SynthConfig.hair)
    generate(
        wd / "data" / "train",
        c["n_train"],
        seed,
        SynthConfig(image_size=S, anny_fraction=0.3, store_vertices=False, hair=hair, **ann["noise"]),
        workers=c["workers"],
        progress=False,
    )
    generate(
        wd / "data" / "test",
        c["n_test"],
        seed + 1,
        SynthConfig(image_size=S, anny_fraction=1.0, truncation=0.0, hair=hair),
        workers=c["workers"],
        progress=False,
    )
    train, test = load_samples(wd / "data" / "train"), load_samples(wd / "data" / "test")
    kp_only = spread(len(train), ann["keypoint_only"])
    train = [without_dense(s) if k else s for s, k in zip(train, kp_only)]
    cfg = rounds_config(c, device, seed)
    base = {
        **record_config(preset, c, cfg, sigma_end),
        "annotations": kind,
        "seed": seed,
        "run": wd.name,
        "device": device or ("cuda" if _cuda() else "cpu"),
    }
    keys = (
        "mpjpe_mm",
        "pa_mpjpe_mm",
        "pve_mm",
        "pixel_err",
        "torso_rot_median_deg",
        "torso_rot_over_90_pct",
        "refined_mpjpe_mm",
        "refined_pa_mpjpe_mm",
        "refined_pve_mm",
        "refined_pixel_err",
        "refined_torso_rot_median_deg",
        "refined_torso_rot_over_90_pct",
        "mean_pose_pa_mpjpe_mm",
        "train_fit_pa_mpjpe_mm",
        "store_fit_pa_mpjpe_mm",
        "fits_replaced",
        "predict_s_per_image",
        "refine_s_per_image",
        "seconds",
    )
    out = []
    for row in run_rounds(
        body, train, test, wd / "rounds", cfg, progress=False
    ):  # each setting in wd / its name: record_regressor_path
        out.append(
            emit("rounds", {"setting": "rounds", "round": row["round"], **{k: _r(row.get(k)) for k in keys}, **base})
        )
    if baselines:
        total = cfg.rounds * cfg.epochs_per_round

        def record(setting: str, row: dict) -> None:
            out.append(
                emit(
                    "rounds",
                    {"setting": setting, "round": None, "epochs": total, **{k: _r(row.get(k)) for k in keys}, **base},
                )
            )

        record("single_step", single_step_baseline(body, train, test, wd / "single_step", cfg, total, progress=False))
        first_fits = load_fits(round_dir(wd / "rounds", 1) / "fits.npz", body)
        record(
            "one_long_round",
            one_long_round(body, train, test, wd / "one_long_round", cfg, first_fits, total, progress=False),
        )
    return out


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _r(v):
    return round(v, 3) if isinstance(v, float) else v
