"""A real source as crops in the one sample schema: training shards, a held-out test set and a
report (explained in notebook 01).

Records stream through: each usable person is cropped at the preset's image size (its image
read once, the last few kept), written in shards of ``shard_size`` (atomically), and forgotten.
Human3.6M's S9/S11 are its test set; of every other source every ``test_every``-th usable person
(the first included) is held out until ``n_test`` are, the rest train until ``n_train`` do.
Bad records are skipped, counted and named in the report; a killed run resumes after the last
shard written.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dalnb.data.crop import crop_sample
from dalnb.data.loaders.common import DataError, read_json
from dalnb.data.schema import SampleError, validate_sample
from dalnb.data.sources.records import records
from dalnb.data.sources.spec import Source, check_source
from dalnb.data.store import write_shard
from dalnb.io import atomic_write_json

log = logging.getLogger(__name__)

__all__ = ["SourcePlan", "write_source", "KEYS", "MAX_MESSAGES"]

BASE_KEYS = ("sample_id", "source", "image", "keypoints2d", "crop_box")
KEYS: dict[str, tuple[str, ...]] = {  # every crop of a kind has exactly these keys (equal shards)
    "densepose_coco": (*BASE_KEYS, "dense_xy", "dense_iuv", "dense_uv_space"),
    "coco": BASE_KEYS,
    "mpii": BASE_KEYS,
    "h36m": (*BASE_KEYS, "joints3d", "keypoints2d_h36m", "subject", "camera_id"),
    "photos": BASE_KEYS,
}
MAX_MESSAGES = 20  # bad records named in the report (all are counted)


@dataclass(frozen=True)
class SourcePlan:
    n_train: int
    n_test: int
    image_size: int
    test_every: int = 5
    shard_size: int = 64


class _Images:
    """The last few decoded images (COCO-style files list several people per image)."""

    def __init__(self, size: int = 4):
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.size = size

    def __call__(self, path: str) -> np.ndarray:
        from PIL import Image

        if path not in self.cache:
            with Image.open(path) as im:
                self.cache[path] = np.asarray(im.convert("RGB"))
            while len(self.cache) > self.size:
                self.cache.popitem(last=False)
        self.cache.move_to_end(path)
        return self.cache[path]


def _crop(kind: str, s: dict, size: int, images: _Images) -> dict:
    s = dict(s, image=images(s["image_path"]), source=kind)
    s.setdefault("keypoints2d", np.zeros((17, 3), np.float32))
    c = crop_sample(s, size)
    return {k: c[k] for k in KEYS[kind]}


class _Shards:
    def __init__(self, folder: Path, kind: str, size: int, start: int):
        self.folder, self.kind, self.size, self.index, self.buf = folder, kind, size, start, []

    def add(self, s: dict) -> bool:
        self.buf.append(s)
        return len(self.buf) >= self.size

    def flush(self) -> None:
        if self.buf:
            write_shard(self.folder / f"{self.kind}_{self.index:05d}.npz", self.buf)
            self.index, self.buf = self.index + 1, []


def _report(path: Path) -> dict | None:
    """A report written earlier, or None (none, or unreadable: then it is written anew)."""
    try:
        return read_json(path)
    except DataError:
        return None


def _shards_present(train_dir: Path, test_dir: Path, rep: dict) -> bool:
    return (
        len(list(train_dir.glob("*.npz"))) == rep["train_shards"]
        and len(list(test_dir.glob("*.npz"))) == rep["test_shards"]
    )


def write_source(
    src: Source, train_dir: Path, test_dir: Path, report_path: Path, plan: SourcePlan, progress: bool = False
) -> dict:
    """Write ``src``'s crops into ``train_dir`` and ``test_dir`` (shards ``<kind>_NNNNN.npz``) and
    its report (json) to ``report_path``; returns the report. A finished source with the same
    plan is not read again."""
    from dalnb.progress import bar

    check_source(src)
    config = {"source": src.spec(), **asdict(plan)}
    done = _report(report_path)
    if done and done.get("config") == config and _shards_present(train_dir, test_dir, done):
        return done
    partial = report_path.with_name(report_path.stem + ".partial.json")
    rep = _report(partial)
    if not rep or rep.get("config") != config:
        for d in (train_dir, test_dir):
            shutil.rmtree(d, ignore_errors=True)
        rep = {
            "kind": src.kind,
            "config": config,
            "read": 0,
            "train": 0,
            "test": 0,
            "bad": 0,
            "bad_records": [],
            "unused": {},
            "train_shards": 0,
            "test_shards": 0,
            "seconds": 0.0,
        }
    for d in (train_dir, test_dir):
        d.mkdir(parents=True, exist_ok=True)
    train = _Shards(train_dir, src.kind, plan.shard_size, rep["train_shards"])
    test = _Shards(test_dir, src.kind, plan.shard_size, rep["test_shards"])
    unused, images, t0 = Counter(rep["unused"]), _Images(), time.perf_counter() - rep["seconds"]

    def checkpoint() -> None:
        train.flush()
        test.flush()
        rep.update(
            unused=dict(unused), train_shards=train.index, test_shards=test.index, seconds=time.perf_counter() - t0
        )
        atomic_write_json(partial, rep)

    def bad(msg: str) -> None:
        rep["bad"] += 1
        if len(rep["bad_records"]) < MAX_MESSAGES:
            rep["bad_records"].append(msg)
        log.warning("skipping %s", msg)

    pbar = bar(total=plan.n_train + plan.n_test, desc=f"source {src.kind}", show=progress)
    pbar.update(rep["train"] + rep["test"])
    for j, rec in enumerate(records(src, report_path.parent / f"{src.kind}_detections")):
        if j < rep["read"]:  # read before a resume
            continue
        rep["read"] = j + 1
        if rec.bad:
            bad(rec.bad)
            continue
        if rec.unused:
            unused[rec.unused] += 1
            continue
        held = rec.test if rec.test is not None else (rep["train"] + rep["test"]) % plan.test_every == 0
        if held and rep["test"] < plan.n_test:
            split = "test"
        elif rec.test is not True and rep["train"] < plan.n_train:  # Human3.6M's test subjects never train
            split = "train"
        else:
            split = ""
        if not split:
            unused["beyond the preset's sizes"] += 1
        else:
            try:
                crop = validate_sample(_crop(src.kind, rec.sample, plan.image_size, images), rec.where)
            except (OSError, ValueError, SampleError) as e:
                bad(f"{rec.where}: {e}" if rec.where not in str(e) else str(e))
                continue
            rep[split] += 1
            pbar.update(1)
            if (train if split == "train" else test).add(crop):
                checkpoint()
        if rep["train"] >= plan.n_train and rep["test"] >= plan.n_test:
            break
    pbar.close()
    checkpoint()
    rep["seconds"] = time.perf_counter() - t0
    atomic_write_json(report_path, rep)
    partial.unlink(missing_ok=True)
    log.info("source %s: %d train, %d test, %d bad records", src.kind, rep["train"], rep["test"], rep["bad"])
    return rep
