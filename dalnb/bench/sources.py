"""``python -m dalnb.bench sources``: a DensePose-COCO json of 50,000 people, written here in the
real format (images table; per person bbox, keypoints, dp_x/dp_y on the box's 0-255 frame,
dp_I/U/V and 14 RLE part masks), read as a stream and cropped into shards by the source writer
in a child process; records the time and the child's peak memory (goal: under 2 GB; its peak after
the imports alone is recorded beside it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dalnb.bench import emit, register_bench

CHILD = """
import json, resource, sys, time
from pathlib import Path
from dalnb.data.sources import SourcePlan, parse_source, write_source
src, out, n, size = parse_source(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
rep = write_source(src, out / "train", out / "test", out / "report.json", SourcePlan(n, 0, size, 5, 256))
rep["crop_seconds"] = time.perf_counter() - t0
rep["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rep["import_rss_mb"] = base
print(json.dumps({k: rep[k] for k in ("read", "train", "bad", "crop_seconds", "peak_rss_mb", "import_rss_mb")}))
"""


def write_densepose_coco_json(path: Path, people: int, image_files: int = 200, seed: int = 0) -> Path:
    """A DensePose-COCO json of ``people`` (two per image entry) over ``image_files`` 640 x 480
    JPEGs in the same folder, written record by record (never held whole)."""
    from PIL import Image
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:480, 0:640]
    for k in range(image_files):
        img = np.stack([(xx + 3 * k) % 256, (yy + 5 * k) % 256, (xx + yy) % 256], -1).astype(np.uint8)
        img = np.clip(img + rng.integers(0, 40, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(path.parent / f"{k:012d}.jpg", quality=90)
    g = np.mgrid[0:256, 0:256]
    mask_sets = []
    for _ in range(32):  # 14 part masks each, blobs on the 256 x 256 box frame
        parts = []
        for _ in range(14):
            c, r = rng.uniform(40, 216, 2), rng.uniform(10, 40)
            m = ((g[0] - c[0]) ** 2 + (g[1] - c[1]) ** 2 < r**2).astype(np.uint8)
            rle = mask_utils.encode(np.asfortranarray(m))
            parts.append({"size": rle["size"], "counts": rle["counts"].decode()})
        mask_sets.append(parts)
    n_images = (people + 1) // 2
    with open(path, "w") as f:
        f.write('{"info": {"description": "dalnb bench sources"}, "images": [')
        for i in range(n_images):
            f.write(
                ("," if i else "")
                + json.dumps({"id": i + 1, "file_name": f"{i % image_files:012d}.jpg", "height": 480, "width": 640})
            )
        f.write('], "annotations": [')
        for a in range(people):
            n = int(rng.integers(100, 150))
            x0, y0 = rng.uniform(0, 400), rng.uniform(0, 160)
            w, h = rng.uniform(120, 240), rng.uniform(200, 320)
            kp = np.stack([rng.uniform(x0, x0 + w, 17), rng.uniform(y0, y0 + h, 17), np.full(17, 2)], 1)
            ann = {
                "id": a + 1,
                "image_id": a // 2 + 1,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [round(x0, 2), round(y0, 2), round(w, 2), round(h, 2)],
                "num_keypoints": 17,
                "keypoints": np.round(kp, 1).ravel().tolist(),
                "dp_x": np.round(rng.uniform(0, 255, n), 4).tolist(),
                "dp_y": np.round(rng.uniform(0, 255, n), 4).tolist(),
                "dp_I": rng.integers(1, 25, n).astype(float).tolist(),
                "dp_U": np.round(rng.uniform(0, 1, n), 6).tolist(),
                "dp_V": np.round(rng.uniform(0, 1, n), 6).tolist(),
                "dp_masks": mask_sets[a % len(mask_sets)],
            }
            f.write(("," if a else "") + json.dumps(ann))
        f.write('], "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}')
    return path


@register_bench("sources")
def bench_sources(people: int = 50_000, image_files: int = 200, image_size: int = 96, device=None, **_) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="dalnb-sources-"))
    try:
        t0 = time.perf_counter()
        js = write_densepose_coco_json(tmp / "dp" / "densepose_coco_bench.json", people, image_files)
        t_json = time.perf_counter() - t0
        r = subprocess.run(
            [sys.executable, "-c", CHILD, f"densepose_coco={js}", str(tmp / "out"), str(people), str(image_size)],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise RuntimeError(f"the source writer failed:\n{r.stderr[-3000:]}")
        child = json.loads(r.stdout.strip().splitlines()[-1])
        shards = sum(p.stat().st_size for p in (tmp / "out" / "train").glob("*.npz"))
        return emit(
            "sources",
            {
                "kind": "densepose_coco",
                "people": people,
                "json_mb": round(js.stat().st_size / 1e6, 1),
                "image_size": image_size,
                "crops": child["train"],
                "bad": child["bad"],
                "crop_seconds": round(child["crop_seconds"], 1),
                "people_per_s": round(child["train"] / child["crop_seconds"], 1),
                "peak_rss_mb": round(child["peak_rss_mb"], 1),
                "import_rss_mb": round(child["import_rss_mb"], 1),  # the child's peak after its imports alone
                "shards_mb": round(shards / 1e6, 1),
                "json_write_seconds": round(t_json, 1),
                "device": "cpu",
            },
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
