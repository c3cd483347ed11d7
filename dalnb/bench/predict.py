"""``python -m dalnb.bench predict``: what a prediction costs.

Per-image latency (batch 1) of the regressor plus full-mesh skinning, ResNet-18 and ResNet-50
at 224 px (goals on CPU: <= 60 ms and <= 200 ms; the paper: 0.07 s); batched images/s on GPU
with bf16 beside the bare backbone's own throughput (goal: at least half); and the cost of
test-time refinement per image (registration from the prediction, 50 iterations) beside the
paper's 5-6 s.
"""

from __future__ import annotations

import time

import torch

from dalnb.bench import emit, register_bench, timeit


@register_bench("predict")
def bench_predict(
    device: str | None = None,
    backbones=("resnet18", "resnet50"),
    image_size: int = 224,
    gpu_batch: int = 256,
    refine_batches=(1, 64),
    refine_iters: int = 50,
    **_,
) -> list[dict]:
    from dalnb.body.model import BodyModel
    from dalnb.regressor import Prediction, Regressor, RegressorConfig, params_to_body

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = dev.type == "cuda"
    body = BodyModel.default().on(dev)
    out = []
    for bb in backbones:
        m = Regressor(RegressorConfig(backbone=bb, image_size=image_size)).to(dev).eval()

        @torch.inference_mode()
        def run(x, full=True):
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
                y = m(x)
            if full:
                params_to_body(body, Prediction.from_flat(y.float()))
            return y

        x1 = torch.rand(1, 3, image_size, image_size, device=dev)
        lat = timeit(lambda: run(x1), min_time=2.0, sync=cuda)  # noqa: B023
        rec = {
            "kind": "latency",
            "backbone": bb,
            "image_size": image_size,
            "batch": 1,
            "ms_per_image": round(lat * 1000, 2),
            "device": str(dev),
            "goal_ms": 60 if bb == "resnet18" else 200 if bb == "resnet50" else None,
            "paper_ms": 70,
        }
        out.append(emit("predict", rec))
        if cuda:
            xb = torch.rand(gpu_batch, 3, image_size, image_size, device=dev)
            m = m.to(memory_format=torch.channels_last)
            xb = xb.contiguous(memory_format=torch.channels_last)
            full = gpu_batch / timeit(lambda: run(xb), min_time=3.0, sync=True)  # noqa: B023
            bare_net = m.backbone

            @torch.inference_mode()
            def bare():
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    bare_net(xb)  # noqa: B023

            b = gpu_batch / timeit(bare, min_time=3.0, sync=True)
            out.append(
                emit(
                    "predict",
                    {
                        "kind": "throughput",
                        "backbone": bb,
                        "image_size": image_size,
                        "batch": gpu_batch,
                        "images_per_s": round(full, 1),
                        "bare_backbone_images_per_s": round(b, 1),
                        "ratio": round(full / b, 3),
                        "device": str(dev),
                        "gpu": torch.cuda.get_device_name(0),
                    },
                )
            )
    # refinement: registration from a prediction
    from dalnb.data.synth import SynthConfig, make_samples
    from dalnb.fitting import RegistrationConfig, register

    samples = make_samples(max(refine_batches), 7, SynthConfig(image_size=128, anny_fraction=0.0, store_vertices=False))
    body_c = BodyModel.default()
    for B in refine_batches:
        cfg = RegistrationConfig.refinement(refine_iters, device=str(dev), tol=0.0, chunk_size=B)
        init = register(body_c, samples[:B], RegistrationConfig.with_iters(1, device=str(dev)))
        register(body_c, samples[:B], cfg, init=init)
        t0 = time.perf_counter()
        register(body_c, samples[:B], cfg, init=init)
        dt = time.perf_counter() - t0
        out.append(
            emit(
                "predict",
                {
                    "kind": "refinement",
                    "batch": B,
                    "iterations": refine_iters,
                    "s_per_image": round(dt / B, 4),
                    "s_per_batch": round(dt, 3),
                    "device": str(dev),
                    "paper_s_per_image": "5-6",
                },
            )
        )
    return out
