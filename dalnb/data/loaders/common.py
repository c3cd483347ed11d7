"""What every loader shares: ``DataError`` (names the file and record), ``LoadResult`` (samples
and the skipped records), JSON reading with clear errors, and the skip-or-raise collector.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from dalnb.data.schema import SampleError

log = logging.getLogger(__name__)


class DataError(SampleError):
    pass


@dataclass
class LoadResult:
    samples: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self):
        return iter(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def read_json(path: Path):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: malformed JSON ({e})") from e


def read_json_list(path: Path, what: str) -> list:
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of {what}, got {type(data).__name__}")
    return data


class Collector:
    def __init__(self, skip_bad: bool):
        self.skip_bad = skip_bad
        self.result = LoadResult()

    def bad(self, msg: str):
        if not self.skip_bad:
            raise DataError(msg)
        self.result.skipped.append(msg)
        log.warning("skipping %s", msg)


# -- COCO keypoints ----------------------------------------------------------------------
def coco_records(data: dict, path: Path):
    for k in ("images", "annotations"):
        if k not in data:
            raise DataError(f"{path}: missing top-level key {k!r} (not a COCO annotation file?)")
    return {im["id"]: im for im in data["images"]}, data["annotations"]


def coco_image(images: dict, image_id, image_dir: Path, where: str, require_image: bool) -> tuple[dict, Path]:
    """An annotation's image record (height, width as ints) and path; ``DataError`` naming
    ``where`` when it is not in the images table, lacks its size or (``require_image``) is absent."""
    if image_id not in images:
        raise DataError(f"{where}: image_id {image_id} is not in the file's images table")
    im = images[image_id]
    try:
        im = dict(im, height=int(im["height"]), width=int(im["width"]))
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{where}: image {image_id} needs an integer height and width") from None
    path = Path(image_dir) / im["file_name"]
    if require_image and not path.exists():
        raise DataError(f"{where}: image {path} not found")
    return im, path
