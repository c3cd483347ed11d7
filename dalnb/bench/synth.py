"""``python -m dalnb.bench synth``: synthetic images per second, shading and shard writing
included, at several sizes, with 1 worker and with one worker per core."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from dalnb.bench import emit, register_bench


@register_bench("synth")
def bench_synth(sizes=(128, 224, 256), n: int = 128, device: str | None = None, **_) -> list[dict]:
    from dalnb.data.synth import SynthConfig, generate, make_samples

    make_samples(2, 0, SynthConfig(image_size=64))  # warm caches (template, anny) outside the timing
    out = []
    cores = os.cpu_count() or 1
    for size in sizes:
        for workers in sorted({1, cores}) if cores <= 4 else (cores,):
            tmp = Path(tempfile.mkdtemp(prefix="dalnb-synth-"))
            try:
                cfg = SynthConfig(image_size=size, shard_size=16)
                t0 = time.perf_counter()
                generate(tmp / "s", n, seed=0, cfg=cfg, workers=workers, progress=False)
                dt = time.perf_counter() - t0
                mb = sum(p.stat().st_size for p in (tmp / "s").glob("*.npz")) / 1e6
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            out.append(
                emit(
                    "synth",
                    {
                        "image_size": size,
                        "workers": workers,
                        "samples": n,
                        "images_per_s": round(n / dt, 1),
                        "anny_fraction": cfg.anny_fraction,
                        "store_vertices": cfg.store_vertices,
                        "mb_per_sample": round(mb / n, 3),
                        "device": "cpu",
                    },
                )
            )
    return out
