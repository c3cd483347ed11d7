"""Sharded generation: shard i draws from ``np.random.default_rng([seed, i])`` alone, so the same
seed gives byte-identical shards whatever the number of workers, and a killed run resumes by
skipping the shards already written (each written atomically).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from dalnb.data.store import write_shard
from dalnb.data.synth.samples import make_samples
from dalnb.data.synth.scene import SynthConfig, cached_anny, cached_body


# sharded, resumable, parallel generation
def _write_one(args) -> str:
    folder, i, n_i, seed, cfg_dict, threads = args
    torch.set_num_threads(threads)
    cfg = SynthConfig(**cfg_dict)
    path = Path(folder) / f"shard_{i:05d}.npz"
    if path.exists():
        return str(path)
    write_shard(path, make_samples(n_i, (seed, i), cfg, start_index=i * cfg.shard_size))
    return str(path)


def generate(
    folder: str | Path, n: int, seed: int, cfg: SynthConfig | None = None, workers: int = 1, progress: bool = True
) -> list[Path]:
    """Write ``n`` samples into ``folder`` as shards; resumes where a previous run stopped."""
    import yaml

    from dalnb.io import atomic_write_text, plain
    from dalnb.progress import bar as tqdm

    cfg = cfg or SynthConfig()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"n": n, "seed": seed, "synth": cfg.to_dict()}
    meta_path = folder / "synth_config.yaml"
    if meta_path.exists():
        old = yaml.safe_load(meta_path.read_text())
        if plain(old) != plain(meta):
            raise ValueError(f"{folder}: holds samples made with another config ({meta_path}); use a new folder")
    else:
        atomic_write_text(meta_path, yaml.safe_dump(plain(meta), sort_keys=True))
    for stale in folder.glob(".shard_*.tmp"):  # left by a killed run; never under a shard's name
        stale.unlink(missing_ok=True)
    n_shards = math.ceil(n / cfg.shard_size)
    jobs = [
        (
            str(folder),
            i,
            min(cfg.shard_size, n - i * cfg.shard_size),
            seed,
            cfg.to_dict(),
            1 if workers > 1 else torch.get_num_threads(),
        )
        for i in range(n_shards)
    ]
    todo = [j for j in jobs if not (folder / f"shard_{j[1]:05d}.npz").exists()]
    bar = tqdm(total=n_shards, initial=n_shards - len(todo), desc=f"synth {folder.name}", unit="shard", show=progress)
    if workers > 1 and len(todo) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
        if ctx.get_start_method() == "fork":  # forked workers share these instead of each loading its own
            cached_body()
            if cfg.anny_fraction > 0:
                cached_anny()  # anny's ~800 MB cache read once, not once per worker
        with ctx.Pool(workers) as pool:
            for _ in pool.imap_unordered(_write_one, todo):
                bar.update()
    else:
        for j in todo:
            _write_one(j)
            bar.update()
    bar.close()
    return [folder / f"shard_{i:05d}.npz" for i in range(n_shards)]
