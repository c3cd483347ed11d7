"""COCO keypoints json (person_keypoints_*.json) -> samples with COCO-17 keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dalnb.data.loaders.common import Collector, DataError, LoadResult, coco_image, coco_records, read_json


def load_coco_keypoints(
    json_path: str | Path, image_dir: str | Path | None = None, skip_bad: bool = False, require_image: bool = True
) -> LoadResult:
    """One sample per person annotation with keypoints: ``keypoints2d`` (17, 3) (v: 0 missing,
    1 labelled but occluded, 2 visible), ``image_path``, ``bbox`` and ``mask`` from the
    segmentation (pycocotools)."""
    json_path = Path(json_path)
    image_dir = Path(image_dir) if image_dir else json_path.parent
    data = read_json(json_path)
    images, anns = coco_records(data, json_path)
    col = Collector(skip_bad)
    for i, a in enumerate(anns):
        try:
            col.result.samples.append(coco_keypoints_sample(a, i, images, json_path, image_dir, require_image))
        except DataError as e:
            col.bad(str(e))
    return col.result


def coco_keypoints_sample(
    a: dict, i: int, images: dict, json_path: Path, image_dir: Path, require_image: bool = True, masks: bool = True
) -> dict:
    """One COCO person annotation (``a``, the ``i``-th) as a sample; raises ``DataError`` naming
    the file and annotation. ``masks=False`` skips decoding the segmentation."""
    where = f"{json_path} annotation {i} (id {a.get('id', '?')})"
    try:
        kp = np.asarray(a["keypoints"], np.float32).reshape(17, 3)
        image_id = a["image_id"]
    except KeyError as e:
        raise DataError(f"{where}: missing key {e}") from None
    except (TypeError, ValueError):
        raise DataError(f"{where}: keypoints must hold 51 numbers, got {len(a.get('keypoints', []))}") from None
    im, path = coco_image(images, image_id, image_dir, where, require_image)
    h, w = im["height"], im["width"]
    s = {
        "sample_id": f"coco-{a.get('id', i)}",
        "image_path": str(path),
        "keypoints2d": kp,
        "bbox": np.asarray(a.get("bbox", [0, 0, w, h]), np.float32),
        "image_size": np.array([h, w]),
    }
    seg = a.get("segmentation")
    if masks and seg:
        from pycocotools import mask as mask_utils

        rle = (
            mask_utils.frPyObjects(seg, h, w)
            if isinstance(seg, list)
            else (mask_utils.frPyObjects(seg, h, w) if isinstance(seg.get("counts"), list) else seg)
        )
        m = mask_utils.decode(rle)
        s["mask"] = (m.max(2) if m.ndim == 3 else m).astype(bool)
    return s
