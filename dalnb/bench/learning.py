"""``python -m dalnb.bench learning``: where the learner's error goes (notebook 06's learning curve).

The regressor trained on the renders' **true** parameters (``training.label_ceiling``: what
perfect registration would give), from scratch, at one point of the grid per call: training
renders (``n_train``; the bodies in our own shape space train, about 70 %), epochs, crop size,
backbone, the 2D keypoint head, the renders' front/back cues and mirroring. Each record: test
PA-MPJPE, MPJPE, torso heading error (median, share over 90 degrees) and keypoint error on 200
held-out anny bodies; the same on 200 of the training bodies (the generalisation gap); training
images seen and the training throughput (images/s, forward and backward).

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
    from dalnb.training.predict import evaluate_model, load_regressor
    from dalnb.training.rounds import regressor_path

    args = dict(n_train=n_train, epochs=epochs, image_size=image_size, backbone=backbone, keypoint_head=keypoint_head)
    args |= dict(front_cues=front_cues, hair=hair, mirror=mirror, n_test=n_test, seed=seed)

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
        regressor=replace(rc.regressor, backbone=backbone, image_size=image_size, keypoint_head=keypoint_head),
        train=replace(rc.train, mirror=mirror),
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
        "seed": seed,
        **{k: row[k] for k in keys},
        **{f"train_{k}": fit[k] for k in keys},
        "train_images_per_s": n_bodies * epochs / seconds,
        "seconds": seconds,
    }
    return [emit("learning", rec)]
