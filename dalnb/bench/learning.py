"""``python -m dalnb.bench learning``: where the learner's error goes (notebook 06's learning curve).

The regressor trained on the renders' **true** parameters (``training.label_ceiling``: what
perfect registration would give), from scratch, at one point of the grid per call: training
renders (``n_train``; the bodies in our own shape space train, about 70 %), epochs, crop size,
backbone, the 2D heads and their losses, the renders' front/back cues, mirroring and in-plane turns,
the learning rate and the pooling. Each record: test
PA-MPJPE, MPJPE, torso heading error (median, share over 90 degrees) and keypoint error on 200
held-out anny bodies, with where the PA-MPJPE lies (``training.predict.error_split``: the aligned
residual in the image plane and in depth, the true image plane with the predicted depths, the true
image plane flat) and the keypoint head's own 2D error; the same on 200 of the training bodies (the
generalisation gap); training images seen and the training throughput (images/s, forward and
backward).

    python -m dalnb.bench learning --record --set n_train=3600 --set epochs=15 --set keypoint_head=true

Renders are cached by what made them under ``runs/bench/learning/``; the trained regressor is
left there too (``regressor-<digest of the arguments>.pt``) for a closer look.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import replace
from pathlib import Path

from dalnb.bench import emit, register_bench

CACHE = Path("runs") / "bench" / "learning"


def renders(n: int, seed: tuple, synth) -> list[dict]:
    """``make_samples(n, seed, synth)``, cached by its arguments (written then renamed)."""
    from dataclasses import asdict

    from dalnb.data.synth import make_samples
    from dalnb.io import atomic_write_bytes, plain
    from dalnb.paths import resolve
    from dalnb.steps import digest

    path = resolve(CACHE) / f"renders-{n}-{digest({'seed': seed, 'synth': plain(asdict(synth))})}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    samples = make_samples(n, seed, synth)
    atomic_write_bytes(path, pickle.dumps(samples, protocol=pickle.HIGHEST_PROTOCOL))
    return samples


@register_bench("learning")
def bench_learning(
    n_train: int = 1200,
    epochs: int = 15,
    image_size: int = 96,
    backbone: str = "resnet18",
    keypoint_head: bool = True,
    front_cues: bool = True,
    hair: bool = True,
    mirror: float = 0.0,
    lr: float = 3e-4,
    pool: str = "mean",
    w_heatmap: float = 0.0,
    w_keypoints: float = 1.0,
    w_surface: float = 0.0,
    turn_deg: float = 0.0,
    turn_scale: float = 0.0,
    n_test: int = 200,
    seed: int = 0,
    device: str | None = None,
    **_,
) -> list[dict]:
    import shutil
    import tempfile

    import torch

    from dalnb.body.model import BodyModel
    from dalnb.config import get_preset
    from dalnb.paths import resolve
    from dalnb.steps import digest
    from dalnb.training import label_ceiling
    from dalnb.training.baselines import ground_truth_fits
    from dalnb.training.predict import error_split, evaluate_model, keypoint_head_error, load_regressor, predict
    from dalnb.training.rounds import regressor_path
    from dalnb.training.trainset import build_trainset

    args = dict(n_train=n_train, epochs=epochs, image_size=image_size, backbone=backbone, keypoint_head=keypoint_head)
    args |= dict(front_cues=front_cues, hair=hair, mirror=mirror, n_test=n_test, seed=seed, lr=lr, pool=pool)
    args |= dict(w_heatmap=w_heatmap, w_keypoints=w_keypoints, w_surface=w_surface)
    args |= dict(turn_deg=turn_deg, turn_scale=turn_scale)

    cfg = get_preset("small").resolve()
    data = cfg.data
    synth = replace(data.synth, image_size=image_size, front_cues=front_cues, hair=hair)
    train = renders(n_train, (seed, 1), replace(synth, anny_fraction=data.train_anny_fraction, store_vertices=False))
    test = renders(n_test, (seed, 2), replace(synth, anny_fraction=1.0, store_vertices=True))
    rc = cfg.rounds
    rc = replace(
        rc,
        n_eval=n_test,
        refine_iters=0,
        device=device,
        regressor=replace(
            rc.regressor,
            backbone=backbone,
            image_size=image_size,
            keypoint_head=keypoint_head,
            pool=pool,
            w_heatmap=w_heatmap,
            w_keypoints=w_keypoints,
            w_surface=w_surface,
        ),
        train=replace(rc.train, mirror=mirror, lr=lr, turn_deg=turn_deg, turn_scale=turn_scale),
    )
    body = BodyModel.default()
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        row = label_ceiling(body, train, test, out, rc, epochs, progress=False)
        seconds = time.perf_counter() - t0
        model = load_regressor(regressor_path(out))
        shutil.copyfile(regressor_path(out), resolve(CACHE) / f"regressor-{digest(args)}.pt")
        keep = set(ground_truth_fits(train).sample_ids)
        seen = [s for s in train if str(s["sample_id"]) in keep][:n_test]
        fit, _, _ = evaluate_model(body, model, seen, 0, device)
        test_set = build_trainset(test, image_size)
        split = error_split(body, predict(body, model, test_set, device=device), test)
        head_px = keypoint_head_error(model, test_set)
    n_bodies = int(row["train_samples"])
    keys = ("pa_mpjpe_mm", "mpjpe_mm", "torso_rot_median_deg", "torso_rot_over_90_pct", "keypoint_err_px")
    rec = {
        "n_train": n_train,
        "train_bodies": n_bodies,
        "epochs": epochs,
        "images_seen": n_bodies * epochs,
        "image_size": image_size,
        "backbone": backbone,
        "keypoint_head": keypoint_head,
        "front_cues": front_cues,
        "hair": hair,
        "mirror": mirror,
        "lr": lr,
        "pool": pool,
        "w_heatmap": w_heatmap,
        "w_keypoints": w_keypoints,
        "w_surface": w_surface,
        "turn_deg": turn_deg,
        "turn_scale": turn_scale,
        "seed": seed,
        **{k: row[k] for k in keys},
        **{f"train_{k}": fit[k] for k in keys},
        **{f"pa_{k}_mm": v for k, v in split.items() if k != "whole"},
        "keypoint_head_err_px": head_px,
        "train_images_per_s": n_bodies * epochs / seconds,
        "seconds": seconds,
    }
    return [emit("learning", rec)]
