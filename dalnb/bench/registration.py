"""``python -m dalnb.bench registration``: accuracy and speed of registration.

Accuracy on a held-out synthetic set of anny-phenotype bodies, from the rest pose, within the
paper's first-round budget of 300 iterations, in four settings: (a) exact correspondences and
exact keypoint depths, (b) the same with DensePose-like noise, (c) 2D only, (d) keypoints alone
(no dense points) with a detector's error on them, the person mask and exact keypoint depths,
which is how a photo comes from MediaPipe (notebook 03; a photo's depths are the lifter's). PA-MPJPE on
Human3.6M-17 joints regressed from both meshes with the same regressor; per-vertex error after
Procrustes alignment. Speed: 100 iterations, 200 dense points + 17 keypoints.
"""

from __future__ import annotations

import time

import torch

from dalnb.bench import emit, register_bench
from dalnb.data.synth import DENSEPOSE_NOISE
from dalnb.study.registration import evaluate_fits

SETTINGS = {
    "a_exact_with_depth": dict(noise_px=0.0, outlier_rate=0.0, swap_rate=0.0, depth=True),
    "b_noisy_with_depth": dict(**DENSEPOSE_NOISE, depth=True),
    "c_2d_only": dict(noise_px=0.0, outlier_rate=0.0, swap_rate=0.0, depth=False),
    "d_noisy_keypoints_with_depth": dict(
        noise_px=0.0, outlier_rate=0.0, swap_rate=0.0, depth=True, keypoint_noise_px=3.0, dense=False
    ),
}


def benchmark_samples(n: int, setting: str, seed: int = 1234, image_size: int = 128) -> list[dict]:
    from dalnb.data.synth import SynthConfig, make_samples
    from dalnb.fitting import without_dense

    st = SETTINGS[setting]
    cfg = SynthConfig(
        image_size=image_size,
        anny_fraction=1.0,
        noise_px=st["noise_px"],
        outlier_rate=st["outlier_rate"],
        swap_rate=st["swap_rate"],
        keypoint_noise_px=st.get("keypoint_noise_px", 0.0),
        n_dense=120,
    )
    samples = make_samples(n, seed, cfg)
    if not st.get("dense", True):
        samples = [without_dense(s) for s in samples]
    for s in samples:
        if st["depth"]:
            s["keypoints_depth"] = s["gt_keypoints_depth"]
    return samples


def speed_samples(n: int, n_dense: int = 200, mask: bool = False, distinct: int = 512) -> list[dict]:
    """The speed workload: 200 dense points + 17 keypoints per image; ``mask`` keeps the person
    mask, which adds the optional silhouette term (256 surface samples looked up in the mask's
    distance transform). At most ``distinct`` images are rendered and repeated up to ``n`` (every
    fit runs all its iterations: the timing does not depend on which image it fits)."""
    from dalnb.data.synth import SynthConfig, make_samples

    out = make_samples(
        min(n, distinct),
        99,
        SynthConfig(
            image_size=192, anny_fraction=0.0, n_dense=n_dense, truncation=0.0, occluder=0.0, store_vertices=False
        ),
    )
    out = out if mask else [{k: v for k, v in s.items() if k != "mask"} for s in out]
    return [dict(out[i % len(out)], sample_id=f"{out[i % len(out)]['sample_id']}-{i}") for i in range(n)]


@register_bench("registration")
def bench_registration(
    n: int = 200,
    iters=(50, 100, 200, 300),
    settings=tuple(SETTINGS),
    device: str | None = None,
    speed_batches=(1, 64, 256),
    compile_modes=(False, True),
    kinds=("accuracy", "speed"),
    **_,
) -> list[dict]:
    from dalnb.body.model import BodyModel
    from dalnb.fitting import RegistrationConfig, register

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    body = BodyModel.default()
    out = []
    for setting in settings if "accuracy" in kinds else ():
        samples = benchmark_samples(n, setting)
        for it in iters:
            t0 = time.perf_counter()
            cfg = RegistrationConfig.with_iters(it, device=dev)
            fits = register(body, samples, cfg)
            dt = time.perf_counter() - t0
            out.append(
                emit(
                    "registration",
                    {
                        "kind": "accuracy",
                        "setting": setting,
                        "iterations": it,
                        **evaluate_fits(body, fits, samples),
                        "seconds": round(dt, 2),
                        "device": dev,
                        "robust_sigma": cfg.robust_sigma,
                        "robust_sigma_end": cfg.robust_sigma_end,
                    },
                )
            )
    if "speed" not in kinds:
        return out
    masked = speed_samples(max(speed_batches), mask=True)
    pools = {True: masked, False: [{k: v for k, v in s.items() if k != "mask"} for s in masked]}
    runs = [(B, c, False) for c in compile_modes for B in speed_batches] + [
        (max(speed_batches), c, True) for c in compile_modes
    ]
    for B, compiled, with_mask in runs:
        pool = pools[with_mask]
        cfg = RegistrationConfig.with_iters(100, device=dev, tol=0.0, chunk_size=max(B, 1), compile=compiled)
        t_c = time.perf_counter()
        register(body, pool[:B], cfg)  # warm-up (and compilation)
        t_c = time.perf_counter() - t_c
        reps = 3 if B == 1 else 1
        t0 = time.perf_counter()
        for _ in range(reps):
            register(body, pool[:B], cfg)
        dt = (time.perf_counter() - t0) / reps
        out.append(
            emit(
                "registration",
                {
                    "kind": "speed",
                    "batch": B,
                    "iterations": 100,
                    "dense_points": 200,
                    "keypoints": 17,
                    "silhouette": with_mask,
                    "fits_per_s": round(B / dt, 1),
                    "seconds_per_batch": round(dt, 3),
                    "device": dev,
                    "compiled": compiled,
                    "first_call_s": round(t_c, 1),
                    "anchors": "paper 5-6 s/image (50 it); SMPLify-X ~60 s/image",
                },
            )
        )
    return out
