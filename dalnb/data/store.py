"""Sample storage: shards of many samples, or single-sample files, as .npz.

A shard stacks each key over its N samples; keys whose per-sample shapes differ (dense
points) are concatenated with offsets (``<key>__offsets``, (N + 1,)). Shards are written
atomically, so a killed run never leaves a half-written one; ``load_samples(folder)`` reads
every ``*.npz`` below a folder (shards and single samples alike) in name order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dalnb.data.schema import SampleError, validate_sample
from dalnb.io import atomic_write_npz

log = logging.getLogger(__name__)

__all__ = [
    "write_shard",
    "read_shard",
    "iter_samples",
    "load_samples",
    "load_samples_report",
    "LoadReport",
    "attach_depths",
]
SHARD_KEY = "__num_samples__"


def write_shard(path: Path, samples: list[dict], compressed: bool = True) -> Path:
    if not samples:
        raise ValueError(f"{path}: no samples to write")
    keys = list(samples[0])
    for i, s in enumerate(samples):
        if list(s) != keys:
            raise ValueError(f"{path}: sample {i} has keys {sorted(s)}, sample 0 has {sorted(keys)}")
    arrays: dict[str, np.ndarray] = {SHARD_KEY: np.array(len(samples))}
    for k in keys:
        vals = [np.asarray(s[k]) for s in samples]
        if all(v.shape == vals[0].shape for v in vals):
            arrays[k] = np.stack(vals)
        else:
            lens = [len(v) for v in vals]
            arrays[k] = np.concatenate(vals)
            arrays[f"{k}__offsets"] = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    return atomic_write_npz(path, arrays, compressed=compressed)


def read_shard(path: Path) -> list[dict]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile/ValueError/OSError for truncated or foreign files
        raise SampleError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from e
    if SHARD_KEY not in data:
        return [_unbox(data)]
    n = int(data.pop(SHARD_KEY))
    ragged = {k[: -len("__offsets")]: data.pop(k) for k in list(data) if k.endswith("__offsets")}
    out = []
    for i in range(n):
        s = {}
        for k, v in data.items():
            s[k] = v[ragged[k][i] : ragged[k][i + 1]] if k in ragged else v[i]
        out.append(_unbox(s))
    return out


def _unbox(s: dict) -> dict:
    return {
        k: (v.item() if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "USO" else v)
        for k, v in s.items()
    }


@dataclass
class LoadReport:
    loaded: int = 0
    skipped: list[str] = field(default_factory=list)


def iter_samples(folder: str | Path, skip_bad: bool = False, report: LoadReport | None = None) -> Iterator[dict]:
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such sample folder")
    files = sorted(folder.rglob("*.npz")) if folder.is_dir() else [folder]
    report = report if report is not None else LoadReport()

    def skip(e: SampleError) -> None:
        if not skip_bad:
            raise e
        report.skipped.append(str(e))
        log.warning("skipping %s", e)

    for f in files:
        try:
            recs = read_shard(f)
        except SampleError as e:
            skip(e)
            continue
        for i, s in enumerate(recs):
            where = f"{f} record {i}" + (f" ({s['sample_id']})" if "sample_id" in s else "")
            try:
                validate_sample(s, where)
            except SampleError as e:
                skip(e)
                continue
            report.loaded += 1
            yield s


def load_samples_report(folder: str | Path, skip_bad: bool = False) -> tuple[list[dict], LoadReport]:
    rep = LoadReport()
    samples = list(iter_samples(folder, skip_bad, rep))
    if rep.skipped:
        log.warning("%s: skipped %d bad records", folder, len(rep.skipped))
    return samples, rep


def load_samples(folder: str | Path, skip_bad: bool = False) -> list[dict]:
    """All samples below ``folder`` as dicts of numpy arrays (schema: ``dalnb.data.schema``).

    A bad file or record raises ``SampleError`` naming it; ``skip_bad=True`` skips, counts and
    logs them instead (``load_samples_report`` also returns the count).
    """
    return load_samples_report(folder, skip_bad)[0]


def attach_depths(samples: list[dict], depths_file: str | Path) -> list[dict]:
    """Samples with ``keypoints_depth`` from a lifter's depths file (notebook 02), by sample_id, and the
    file's ``keypoints_depth_frame`` (what registration may take of them: "untilted" for a lifter's, "camera"
    when the file does not say)."""
    with np.load(depths_file) as z:
        table = dict(zip(map(str, z["sample_id"]), z["keypoints_depth"]))
        frame = str(z["frame"]) if "frame" in z.files else "camera"
    missing = [s["sample_id"] for s in samples if str(s["sample_id"]) not in table]
    if missing:
        raise KeyError(f"{depths_file}: no depths for {len(missing)} samples, e.g. {missing[:3]}")
    return [dict(s, keypoints_depth=table[str(s["sample_id"])], keypoints_depth_frame=frame) for s in samples]
