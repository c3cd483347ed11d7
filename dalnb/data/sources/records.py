"""Each source kind as a stream of records: a usable person (``sample``, still in image pixels
with its ``image_path``), a record not used (``unused``: why) or a bad one (``bad``: the message
names the file, the record and what was expected). The json kinds are read as streams
(``loaders.stream``), so a DensePose-COCO file of 50,000 people is never held at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dalnb.data.loaders.coco import coco_keypoints_sample
from dalnb.data.loaders.common import DataError
from dalnb.data.loaders.densepose import densepose_coco_sample, no_densepose_fields
from dalnb.data.loaders.stream import iter_top_level
from dalnb.data.sources.spec import Source, photo_files

__all__ = ["Record", "records", "MIN_KEYPOINTS", "MIN_DENSE", "MIN_CONFIDENCE"]

MIN_KEYPOINTS = 6  # labelled keypoints a keypoints-only person needs to be fitted
MIN_DENSE = 10  # annotated points a DensePose person needs
MIN_CONFIDENCE = 0.5  # MediaPipe keypoints below this confidence count as missing
PHOTO_CHUNK = 16


@dataclass
class Record:
    where: str
    sample: dict | None = None
    unused: str = ""
    bad: str = ""
    test: bool | None = None  # the source's own split (Human3.6M subjects); None: the writer's rule


def records(src: Source, cache_dir: Path) -> Iterator[Record]:
    """The source's records in file order (``cache_dir``: where the photos' detections are kept)."""
    if src.kind == "densepose_coco":
        yield from _coco_like(src, dense=True)
    elif src.kind == "coco":
        yield from _coco_like(src, dense=False)
    elif src.kind == "mpii":
        yield from _mpii(src)
    elif src.kind == "h36m":
        yield from _h36m(src)
    elif src.kind == "photos":
        yield from _photos(src, cache_dir)
    else:
        raise DataError(f"source {src.spec()}: unknown kind {src.kind!r}")


def _labelled(kp: np.ndarray) -> int:
    return int((np.asarray(kp)[:, 2] > 0).sum())


def _coco_like(src: Source, dense: bool) -> Iterator[Record]:
    """COCO-style json (``images`` + ``annotations``), streamed; a second pass when the
    annotations come before the images table."""
    images: dict = {}
    state = {"seen": set(), "pending": False, "n": 0, "dense": 0}

    def one(i: int, a) -> Record:
        where = f"{src.path} annotation {i}"
        if not isinstance(a, dict):
            return Record(where, bad=f"{where}: expected an object, got {type(a).__name__}")
        state["n"] += 1
        where += f" (id {a.get('id', '?')})"
        if a.get("iscrowd"):
            return Record(where, unused="crowd annotation")
        if dense and "dp_x" not in a:
            return Record(where, unused="no DensePose points")
        make = densepose_coco_sample if dense else coco_keypoints_sample
        try:
            s = make(a, i, images, src.path, src.images, masks=False)
        except DataError as e:
            return Record(where, bad=str(e))
        if dense:
            state["dense"] += 1
            if len(s["dense_xy"]) < MIN_DENSE:
                return Record(where, unused=f"fewer than {MIN_DENSE} DensePose points")
        elif _labelled(s["keypoints2d"]) < MIN_KEYPOINTS:
            return Record(where, unused=f"fewer than {MIN_KEYPOINTS} labelled keypoints")
        return Record(where, s)

    def scan(second: bool) -> Iterator[Record]:
        for key, i, v in iter_top_level(src.path, ("images", "annotations")):
            state["seen"].add(key)
            if key == "images" and i >= 0 and not second:
                if isinstance(v, dict) and "id" in v and "file_name" in v:
                    images[v["id"]] = v
                else:
                    yield Record(
                        f"{src.path} images[{i}]",
                        bad=f"{src.path} images[{i}]: expected an object with id and file_name",
                    )
            elif key in ("images", "annotations") and i < 0:
                raise DataError(f"{src.path}: {key!r} must be a list, got {type(v).__name__}")
            elif key == "annotations":
                if "images" in state["seen"] or second:
                    yield one(i, v)
                else:
                    state["pending"] = True

    yield from scan(False)
    for k in ("images", "annotations"):
        if k not in state["seen"]:
            raise DataError(
                f"{src.path}: missing top-level key {k!r} (expected {'a DensePose-COCO' if dense else 'a COCO'} json)"
            )
    if state["pending"]:
        yield from scan(True)
    if dense and state["n"] and not state["dense"]:
        raise no_densepose_fields(src.path, state["n"])


def _keypoints_only(samples: list[dict], skipped: list[str], path: Path) -> Iterator[Record]:
    for msg in skipped:
        yield Record(str(path), bad=msg)
    for s in samples:
        where = f"{path} {s['sample_id']}"
        n = _labelled(s["keypoints2d"])
        yield (
            Record(where, s)
            if n >= MIN_KEYPOINTS
            else Record(where, unused=f"fewer than {MIN_KEYPOINTS} labelled keypoints")
        )


def _mpii(src: Source) -> Iterator[Record]:
    from dalnb.data.loaders.mpii import load_mpii

    r = load_mpii(src.path, src.images, skip_bad=True)
    yield from _keypoints_only(r.samples, r.skipped, src.path)


def _h36m(src: Source) -> Iterator[Record]:
    """Human3.6M frames: S9 and S11 are the test subjects, the others train."""
    from dalnb.data.loaders.h36m import load_h36m

    r = load_h36m(src.path, src.cameras_file, src.images, skip_bad=True)
    for msg in r.skipped:
        yield Record(str(src.path), bad=msg)
    for s in r.samples:
        where = f"{src.path} {s['sample_id']}"
        if not Path(s["image_path"]).is_file():
            yield Record(where, bad=f"{where}: image {s['image_path']} not found")
            continue
        yield Record(where, s, test=s["split"] == "test")


def _photos(src: Source, cache_dir: Path) -> Iterator[Record]:
    """Each photo in the folder (name order) as one person: MediaPipe's keypoints (confidence
    below ``MIN_CONFIDENCE`` counts as missing), detections cached in ``cache_dir``."""
    from dalnb.photos.detect import detect, unreadable

    files = photo_files(src.path)
    for c in range(0, len(files), PHOTO_CHUNK):
        chunk = files[c : c + PHOTO_CHUNK]
        bad = {p: why for p in chunk if (why := unreadable(p))}
        good = [p for p in chunk if p not in bad]
        dets = {}
        try:
            dets = detect(good, cache_dir) if good else {}
        except RuntimeError as first:  # one photo MediaPipe cannot read must not cost the others
            for p in good:
                try:
                    dets.update(detect([p], cache_dir))
                except RuntimeError as e:
                    bad[p] = f"MediaPipe failed on it ({str(e).strip().splitlines()[-1][:200]})"
            if good and not dets:  # not one photo: MediaPipe itself is broken, not the photos
                raise DataError(
                    f"{src.path}: MediaPipe failed on every photo of {[p.name for p in good]}: {bad[good[0]]}"
                ) from first
        for p in chunk:
            where = str(p)
            if p in bad:
                yield Record(where, bad=f"{p}: {bad[p]} (expected a photo of a person)")
                continue
            d = dets[str(p)]
            if not d["found"]:
                yield Record(where, unused="no person detected")
                continue
            kp = np.asarray(d["keypoints2d"], np.float32).copy()
            kp[kp[:, 2] < MIN_CONFIDENCE, 2] = 0
            if _labelled(kp) < MIN_KEYPOINTS:
                yield Record(where, unused=f"fewer than {MIN_KEYPOINTS} confident keypoints")
                continue
            yield Record(where, {"sample_id": f"photo-{p.stem}", "image_path": str(p), "keypoints2d": kp})
