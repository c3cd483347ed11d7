"""Registration of a folder of sample shards into fit files, resumable shard by shard and split
over ``torchrun`` ranks.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from dalnb import distributed
from dalnb.fitting.config import RegistrationConfig
from dalnb.fitting.depth_prior import REGIMES, attach_lifted_depths
from dalnb.fitting.register import register
from dalnb.fitting.result import FitResult, load_fits, save_fits


def register_folder(
    body,
    samples_dir: str | Path,
    fits_dir: str | Path,
    cfg: RegistrationConfig | None = None,
    progress: bool = True,
    depths_file: str | Path | None = None,
    depth_regimes: tuple[str, ...] = REGIMES,
) -> FitResult:
    """Register every sample shard of a folder into ``fits_dir/fits_<shard>.npz``; resumes by
    skipping shards already fitted. ``depths_file``: per-keypoint depths by sample_id (the
    lifter's, notebook 02) used as the soft depth prior on the samples of ``depth_regimes``
    (:func:`lifted_depth_regimes` reads notebook 03's measured choice). Under ``torchrun`` (RANK /
    WORLD_SIZE set) each process takes every WORLD_SIZE-th shard, on its own GPU when there are
    several; rank 0 waits for the others (a gloo/nccl barrier) and returns all fits."""
    from dalnb.data.store import read_shard
    from dalnb.progress import bar as tqdm

    samples_dir, fits_dir = Path(samples_dir), Path(fits_dir)
    shards = sorted(samples_dir.rglob("*.npz"))
    if not shards:
        raise FileNotFoundError(f"{samples_dir}: no sample files")
    rank, world = distributed.rank_world()
    distributed.init()
    if world > 1 and torch.cuda.is_available():
        cfg = replace(cfg or RegistrationConfig(), device=str(distributed.device_for(None)))
    mine = shards[rank::world]
    for sh in tqdm(mine, desc=f"registration (rank {rank}/{world})", unit="shard", show=progress):
        out = fits_dir / f"fits_{sh.stem}.npz"
        if out.exists():
            continue
        samples = read_shard(sh)
        if depths_file is not None:
            samples = attach_lifted_depths(samples, depths_file, depth_regimes)
        save_fits(out, register(body, samples, cfg))
    distributed.barrier()
    return load_fits(fits_dir)
