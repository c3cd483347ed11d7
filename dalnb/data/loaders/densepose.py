"""DensePose: the COCO json and the official demo annotation (part, u, v per annotated point),
network outputs (IUV png as OpenCV writes it, challenge results json, detectron2
``apply_net.py dump`` pickles). DensePose (u, v) live on SMPL's charts, so these samples say
``dense_uv_space = "densepose"``.
"""

from __future__ import annotations

import base64
import io
import pickle
from pathlib import Path

import numpy as np

from dalnb.data.loaders.common import (
    Collector,
    DataError,
    LoadResult,
    coco_image,
    coco_records,
    read_json,
    read_json_list,
)


# -- DensePose -----------------------------------------------------------------------------
def load_densepose_annotation(path: str | Path) -> dict:
    """The official single-person demo annotation (``demo_dp_single_ann`` .npz or .pkl):
    crop image ``ICrop`` and points x, y (crop pixels), I, U, V."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path) as z:
                d = {k: z[k] for k in z.files}
        else:
            with open(path, "rb") as f:
                d = pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - any unreadable file
        raise DataError(f"{path}: cannot read ({type(e).__name__}: {e})") from e
    missing = [k for k in ("ICrop", "x", "y", "I", "U", "V") if k not in d]
    if missing:
        raise DataError(f"{path}: missing keys {missing}")
    return {
        "sample_id": f"densepose-{path.stem}",
        "image": np.asarray(d["ICrop"], np.uint8),
        "dense_xy": np.stack([d["x"], d["y"]], 1).astype(np.float32),
        "dense_iuv": np.stack([d["I"], d["U"], d["V"]], 1).astype(np.float32),
        "dense_uv_space": "densepose",
    }


def load_densepose_coco(
    json_path: str | Path, image_dir: str | Path | None = None, skip_bad: bool = False, require_image: bool = True
) -> LoadResult:
    """DensePose-COCO json: per person ``dp_x, dp_y`` (0-255 in the box frame), ``dp_I, dp_U,
    dp_V`` and ``dp_masks`` (14 RLE part masks on a 256 x 256 box frame, pycocotools)."""
    json_path = Path(json_path)
    image_dir = Path(image_dir) if image_dir else json_path.parent
    data = read_json(json_path)
    images, anns = coco_records(data, json_path)
    col = Collector(skip_bad)
    for i, a in enumerate(anns):
        if "dp_x" not in a:
            continue
        try:
            col.result.samples.append(densepose_coco_sample(a, i, images, json_path, image_dir, require_image))
        except DataError as e:
            col.bad(str(e))
    if anns and not any("dp_x" in a for a in anns):
        raise no_densepose_fields(json_path, len(anns))
    return col.result


def no_densepose_fields(json_path: Path, n: int) -> DataError:
    return DataError(
        f"{json_path}: none of its {n} annotations has DensePose fields (dp_x, dp_y, dp_I, dp_U, dp_V): "
        "a COCO keypoints file? read it with load_coco_keypoints"
    )


def densepose_coco_sample(
    a: dict, i: int, images: dict, json_path: Path, image_dir: Path, require_image: bool = True, masks: bool = True
) -> dict:
    """One DensePose-COCO annotation (``a``, the ``i``-th) as a sample in image pixels; raises
    ``DataError`` naming the file and annotation. ``masks=False`` skips decoding ``dp_masks``."""
    where = f"{json_path} annotation {i} (id {a.get('id', '?')})"
    try:
        x0, y0, bw, bh = (float(v) for v in a["bbox"])
        dx, dy = np.asarray(a["dp_x"], np.float64), np.asarray(a["dp_y"], np.float64)
        I, U, V = (np.asarray(a[k], np.float64) for k in ("dp_I", "dp_U", "dp_V"))
        image_id = a["image_id"]
    except KeyError as e:
        raise DataError(f"{where}: missing key {e}") from None
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: bad values ({e})") from None
    if not (len(dx) == len(dy) == len(I) == len(U) == len(V)):
        raise DataError(f"{where}: dp_x/dp_y/dp_I/dp_U/dp_V lengths differ: {[len(v) for v in (dx, dy, I, U, V)]}")
    if len(I) and (I.min() < 1 or I.max() > 24):
        raise DataError(f"{where}: dp_I must lie in 1..24, got [{I.min()}, {I.max()}]")
    im, path = coco_image(images, image_id, image_dir, where, require_image)
    s = {
        "sample_id": f"densepose-coco-{a.get('id', i)}",
        "image_path": str(path),
        "dense_xy": np.stack([x0 + dx / 255.0 * bw, y0 + dy / 255.0 * bh], 1).astype(np.float32),
        "dense_iuv": np.stack([I, U, V], 1).astype(np.float32),
        "dense_uv_space": "densepose",
        "bbox": np.array([x0, y0, bw, bh], np.float32),
    }
    if "keypoints" in a:
        try:
            s["keypoints2d"] = np.asarray(a["keypoints"], np.float32).reshape(17, 3)
        except ValueError:
            raise DataError(f"{where}: keypoints must hold 51 numbers, got {len(a['keypoints'])}") from None
    if masks and a.get("dp_masks"):
        from pycocotools import mask as mask_utils

        s["mask"] = _dp_masks_to_image(a["dp_masks"], (x0, y0, bw, bh), im["height"], im["width"], mask_utils)
    return s


def _dp_masks_to_image(dp_masks, bbox, h: int, w: int, mask_utils) -> np.ndarray:
    from PIL import Image

    box = np.zeros((256, 256), bool)
    for rle in dp_masks:
        if rle:
            box |= mask_utils.decode(rle).astype(bool)
    x0, y0, bw, bh = bbox
    out = np.zeros((h, w), bool)
    x1, y1 = int(round(x0)), int(round(y0))
    ww, hh = max(int(round(bw)), 1), max(int(round(bh)), 1)
    m = np.asarray(Image.fromarray(box.astype(np.uint8) * 255).resize((ww, hh), Image.NEAREST)) > 127
    ys, xs = slice(max(y1, 0), min(y1 + hh, h)), slice(max(x1, 0), min(x1 + ww, w))
    out[ys, xs] = m[ys.start - y1 : ys.stop - y1, xs.start - x1 : xs.stop - x1]
    return out


def decode_iuv_png(path_or_bytes, channel_order: str = "opencv") -> np.ndarray:
    """(H, W, 3) float32 [I, U, V] from a DensePose IUV png.

    ``channel_order="opencv"``: the inference tool wrote it with OpenCV, so the file's BGR
    bytes are (I, U*255, V*255); read as RGB that is R = V*255, G = U*255, B = I.
    ``channel_order="rgb"``: channel 0 = I, 1 = U*255, 2 = V*255 in RGB order (challenge json).
    """
    from PIL import Image

    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, (bytes, bytearray)) else path_or_bytes
    try:
        with Image.open(src) as im:
            a = np.asarray(im.convert("RGB"))
    except (FileNotFoundError, OSError) as e:
        raise DataError(
            f"{path_or_bytes if not isinstance(path_or_bytes, bytes) else 'png bytes'}: cannot read IUV png ({e})"
        ) from e
    if channel_order == "opencv":
        I, U, V = a[..., 2], a[..., 1], a[..., 0]
    elif channel_order == "rgb":
        I, U, V = a[..., 0], a[..., 1], a[..., 2]
    else:
        raise ValueError(f"channel_order: expected 'opencv' or 'rgb', got {channel_order!r}")
    if I.max() > 24:
        raise DataError(f"IUV png: part channel has values up to {I.max()} (> 24): wrong channel order?")
    return np.stack([I.astype(np.float32), U / 255.0, V / 255.0], -1).astype(np.float32)


def iuv_to_dense_points(
    iuv: np.ndarray, n_points: int = 125, seed: int = 0, mask: np.ndarray | None = None, offset=(0.0, 0.0)
) -> dict:
    """Turn a dense IUV map (H, W, 3) into DensePose-COCO-like points: a grid over the body
    pixels (inside ``mask`` when given) thinned to at most ``n_points``."""
    m = iuv[..., 0] > 0
    if mask is not None:
        m &= mask
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return {
            "dense_xy": np.zeros((0, 2), np.float32),
            "dense_iuv": np.zeros((0, 3), np.float32),
            "dense_uv_space": "densepose",
        }
    g = max(int(np.sqrt(len(ys) / n_points)), 1)
    keep = (ys % g == g // 2) & (xs % g == g // 2)
    ys, xs = ys[keep], xs[keep]
    if len(ys) > n_points:
        idx = np.sort(np.random.default_rng(seed).choice(len(ys), n_points, replace=False))
        ys, xs = ys[idx], xs[idx]
    return {
        "dense_xy": np.stack([xs + 0.5 + offset[0], ys + 0.5 + offset[1]], 1).astype(np.float32),
        "dense_iuv": iuv[ys, xs].astype(np.float32),
        "dense_uv_space": "densepose",
    }


def load_densepose_iuv(
    iuv_png: str | Path,
    inds_png: str | Path | None = None,
    image_path: str | Path | None = None,
    n_points: int = 125,
    min_pixels: int = 200,
) -> LoadResult:
    """A DensePose-RCNN inference output (IUV png as OpenCV writes it, and optionally the
    instance-index png) -> one sample per person instance with dense points in image pixels."""
    from PIL import Image

    iuv = decode_iuv_png(iuv_png)
    if inds_png is not None:
        try:
            with Image.open(inds_png) as im:
                inds = np.asarray(im.convert("L"))
        except (FileNotFoundError, OSError) as e:
            raise DataError(f"{inds_png}: cannot read instance png ({e})") from e
        if inds.shape != iuv.shape[:2]:
            raise DataError(f"{inds_png}: size {inds.shape} differs from the IUV png's {iuv.shape[:2]}")
    else:
        inds = (iuv[..., 0] > 0).astype(np.uint8)
    out = LoadResult()
    for k in np.unique(inds):
        if k == 0:
            continue
        m = (inds == k) & (iuv[..., 0] > 0)
        if m.sum() < min_pixels:
            continue
        s = {
            "sample_id": f"densepose-iuv-{Path(iuv_png).stem}-{int(k)}",
            "instance": int(k),
            "mask": m,
            **iuv_to_dense_points(iuv, n_points, seed=int(k), mask=m),
        }
        if image_path is not None:
            s["image_path"] = str(image_path)
        out.samples.append(s)
    return out


def load_densepose_results(
    json_path: str | Path,
    image_dir: str | Path | None = None,
    min_score: float = 0.5,
    n_points: int = 125,
    skip_bad: bool = False,
) -> LoadResult:
    """COCO DensePose challenge results json: per detection a base64 png of the box (channel
    0 = I, 1 = U*255, 2 = V*255) -> dense points in image pixels."""
    json_path = Path(json_path)
    image_dir = Path(image_dir) if image_dir else json_path.parent
    data = read_json_list(json_path, "detections")
    col = Collector(skip_bad)
    for i, det in enumerate(data):
        where = f"{json_path} detection {i}"
        try:
            if det["score"] < min_score:
                continue
            png = base64.b64decode(det["uv_data"])
            x0, y0, bw, bh = det["bbox"]
            iuv = decode_iuv_png(png, channel_order="rgb")
        except KeyError as e:
            col.bad(f"{where}: missing key {e}")
            continue
        except (DataError, ValueError, TypeError) as e:
            col.bad(f"{where}: {e}")
            continue
        exp = tuple(det.get("uv_shape", (3, *iuv.shape[:2]))[1:])
        if exp != iuv.shape[:2]:
            col.bad(f"{where}: uv_data is {iuv.shape[:2]}, uv_shape says {exp}")
            continue
        s = {
            "sample_id": f"densepose-det-{det.get('image_id', '?')}-{i}",
            "image_id": int(det.get("image_id", -1)),
            "bbox": np.array([x0, y0, bw, bh], np.float32),
            "score": float(det["score"]),
            **iuv_to_dense_points(iuv, n_points, seed=i, offset=(x0, y0)),
        }
        img = image_dir / f"{int(det.get('image_id', -1)):012d}.jpg"
        if img.exists():
            s["image_path"] = str(img)
        col.result.samples.append(s)
    return col.result


class _Stub:
    """Stand-in for detectron2/DensePose classes when unpickling ``apply_net.py dump`` files."""

    def __init__(self, *args, **kwargs):
        self.__dict__.update(kwargs)
        self._args = args

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.__dict__.update(state)
        elif isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            self.__dict__.update(state[1])


class _DumpUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] in ("densepose", "detectron2"):
            return type(name, (_Stub,), {})
        return super().find_class(module, name)


def load_apply_net_dump(
    path: str | Path, min_score: float = 0.5, n_points: int = 125, skip_bad: bool = False
) -> LoadResult:
    """detectron2 DensePose ``apply_net.py dump`` pickle: a list of per-image dicts with
    ``file_name``, ``scores``, ``pred_boxes_XYXY`` and ``pred_densepose`` (chart results with
    ``labels`` (H, W) and ``uv`` (2, H, W) in box coordinates). Read without detectron2."""
    import torch  # the dump holds torch tensors

    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = _DumpUnpickler(f).load()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{path}: cannot unpickle ({type(e).__name__}: {e})") from e
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of per-image dicts, got {type(data).__name__}")
    col = Collector(skip_bad)
    to_np = lambda t: t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)  # noqa: E731
    for i, entry in enumerate(data):
        where = f"{path} entry {i}"
        try:
            scores = to_np(entry["scores"])
            boxes = to_np(entry["pred_boxes_XYXY"])
            results = entry["pred_densepose"]
        except (KeyError, TypeError) as e:
            col.bad(f"{where}: missing {e}")
            continue
        for k, r in enumerate(results):
            if scores[k] < min_score:
                continue
            labels = getattr(r, "labels", None)
            uv = getattr(r, "uv", None)
            if labels is None or uv is None:
                col.bad(f"{where} detection {k}: no labels/uv (not a chart result)")
                continue
            labels, uv = to_np(labels).astype(np.float32), to_np(uv).astype(np.float32)
            if uv.shape != (2, *labels.shape):
                col.bad(f"{where} detection {k}: uv shape {uv.shape} does not match labels {labels.shape}")
                continue
            iuv = np.stack([labels, uv[0], uv[1]], -1)
            x0, y0 = float(boxes[k][0]), float(boxes[k][1])
            col.result.samples.append(
                {
                    "sample_id": f"apply-net-{i}-{k}",
                    "image_path": str(entry.get("file_name", "")),
                    "score": float(scores[k]),
                    **iuv_to_dense_points(iuv, n_points, seed=k, offset=(x0, y0)),
                }
            )
    return col.result
