"""Synthetic samples with full ground truth (explained in notebook 01).

Each sample: a body (mocap or limit-sampled pose; segment-scale or anny-phenotype shape), a
camera (any yaw, moderate pitch and roll, varied distance and focal length, crops with
truncation), a z-buffered render (silhouette, per-vertex visibility, a shaded RGB image on a
random background, optional occluder), ~120 dense points on a grid over the visible body
(each with its vertex and (part, u, v)), COCO-17 keypoints with visibility, 3D joints
(Human3.6M-17 and our 24) and vertices in the camera frame, and the true parameters.

Generation is sharded: shard i draws from ``np.random.default_rng([seed, i])`` alone, so the
same seed gives byte-identical shards whatever the number of workers, and a killed run resumes
by skipping the shards already written (each written atomically).
"""
from __future__ import annotations

import functools
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from dalnb.body import skeleton as sk
from dalnb.data import poses as P
from dalnb.data.store import write_shard

log = logging.getLogger(__name__)

__all__ = ["SynthConfig", "make_samples", "keypoints_only", "draw_camera", "project_points", "generate", "render_body", "RenderResult", "iuv_image", "visibility_tolerance"]


@dataclass
class SynthConfig:
    image_size: int = 128
    n_dense: int = 120
    mocap_fraction: float = 0.7
    anny_fraction: float = 0.3  # bodies from anny's phenotype model (ground truth from another shape space)
    child_fraction: float = 0.1
    perspective: bool = True
    distance_m: tuple[float, float] = (2.5, 8.0)
    fill: tuple[float, float] = (0.6, 0.9)  # fraction of the crop the body spans
    pitch_deg: float = 12.0
    roll_deg: float = 5.0
    truncation: float = 0.15  # probability of a crop that cuts the body
    occluder: float = 0.15  # probability of an occluding rectangle
    noise_px: float = 0.0  # annotation noise on dense points (pixels, std)
    outlier_rate: float = 0.0  # fraction of dense points moved to a random body pixel
    swap_rate: float = 0.0  # fraction of dense points given the mirror (left/right) vertex
    keypoint_noise_px: float = 0.0  # a detector's error on the 2D keypoints (pixels, std per axis; visibility flags as drawn)
    # hair on the back and top of 85 % of heads (render.shade.random_hair), from a random stream of its own, so the
    # annotations are the same either way: the back of a head in a photo is hair, the cue to the heading. bench rounds,
    # real-like annotations, seed 0 (benchmarks/rounds_hair.jsonl): regressor MPJPE 216 -> 200 mm in round 1, 193 -> 186
    # in round 3; torso rotation error median 74 -> 53 and 43 -> 34 deg
    hair: bool = True
    store_vertices: bool = True
    store_iuv: bool = False
    shard_size: int = 32

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------
# per-process caches


@functools.lru_cache(maxsize=1)
def _body():
    from dalnb import BodyModel

    return BodyModel.default()


@functools.lru_cache(maxsize=1)
def _head_geometry() -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """The rest template's vertices (V, 3), its head segment (V,) bool, the eyes' height and the
    ears' height and depth (metres), for ``render.shade.hair_vertices``."""
    d = _body().data
    rest = np.asarray(d.vertices, np.float64)
    head = np.asarray(d.skin_weights)[:, sk.joint_index("head")] > 0.5
    kp = np.asarray(d.coco_regressor, np.float64) @ rest
    eye, ear = kp[sk.COCO17.index("left_eye")], kp[sk.COCO17.index("left_ear")]
    return rest, head, float(eye[1]), float(ear[1]), float(ear[2])


@functools.lru_cache(maxsize=1)
def _anny():
    from dalnb.body.template import load_anny_model

    return load_anny_model()


@functools.lru_cache(maxsize=1)
def _mirror_ids() -> np.ndarray:
    """(V,) the vertex nearest to each vertex's mirror image (x -> -x) in the rest template."""
    from dalnb.mesh_io import mirror_vertex_map

    return mirror_vertex_map(_body().data.vertices)


@functools.lru_cache(maxsize=1)
def _frames() -> np.ndarray:
    from dalnb.body.limits import joint_frames

    return joint_frames(_body().data.segment_axes)


def _rot(axis: str, a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# ---------------------------------------------------------------------------------------
# rendering one body


@dataclass
class RenderResult:
    uv: np.ndarray  # (V, 2) projected vertices, pixels
    cam_vertices: np.ndarray  # (V, 3) camera frame, metres
    face: np.ndarray  # (H, W) int64, -1 background
    bary: np.ndarray  # (H, W, 3)
    depth: np.ndarray  # (H, W)
    vertex_visible: np.ndarray  # (V,) bool (in frame, not self-occluded, not behind the occluder)
    occluder: np.ndarray  # (H, W) bool
    camera: dict = field(default_factory=dict)


def visibility_tolerance(depth: np.ndarray, focal: float, pixels: float = 1.5) -> np.ndarray:
    """How far (metres) a vertex may lie behind the z-buffer at its pixel and still count as
    visible: the depth change across ``pixels`` pixel footprints (depth / focal) plus 5 mm,
    since the z-buffer holds the depth at the pixel centre, not at the vertex."""
    return pixels * depth / focal + 0.005


def draw_camera(vertices: np.ndarray, rng: np.random.Generator, cfg: SynthConfig) -> tuple[np.ndarray, np.ndarray, float, float, float, float]:
    """A random camera for body-frame vertices (V, 3): any yaw, moderate pitch and roll, a
    distance in ``distance_m``, the focal length that makes the body fill ``fill`` of the crop,
    sometimes a shifted (truncating) crop. Returns rotation (3, 3), the body centre the camera
    looks at, distance, focal length and principal point (pixels)."""
    S = cfg.image_size
    yaw = rng.uniform(-math.pi, math.pi)
    pitch = np.clip(rng.normal(0, math.radians(cfg.pitch_deg)), -2.2 * math.radians(cfg.pitch_deg), 2.2 * math.radians(cfg.pitch_deg))
    roll = np.clip(rng.normal(0, math.radians(cfg.roll_deg)), -3 * math.radians(cfg.roll_deg), 3 * math.radians(cfg.roll_deg))
    Rc = _rot("z", roll) @ _rot("x", pitch) @ np.diag([1.0, -1.0, -1.0]) @ _rot("y", yaw)
    centre = 0.5 * (vertices.min(0) + vertices.max(0))
    Xr = (vertices - centre) @ Rc.T
    d = rng.uniform(*cfg.distance_m)
    extent = max(np.ptp(Xr[:, 0]), np.ptp(Xr[:, 1]))
    f = rng.uniform(*cfg.fill) * S * d / extent
    cx = cy = S / 2
    if rng.random() < cfg.truncation:
        ang = rng.uniform(0, 2 * math.pi)
        shift = rng.uniform(0.25, 0.45) * S
        cx, cy = cx + shift * math.cos(ang), cy + shift * math.sin(ang)
    return Rc, centre, d, f, cx, cy


def project_points(X: np.ndarray, f: float, d: float, cx: float, cy: float, perspective: bool = True) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) pixels (perspective, or weak perspective at depth d)."""
    if perspective:
        return f * X[:, :2] / X[:, 2:] + np.array([cx, cy])
    return (f / d) * X[:, :2] + np.array([cx, cy])


def keypoints_only(n: int, seed: int | tuple, cfg: SynthConfig) -> dict[str, np.ndarray]:
    """2D keypoint sets without rendering (a lifter's training pool: thousands per second):
    the same poses, bodies and cameras as ``make_samples``, COCO-17 keypoints projected, with
    confidence 1 inside the crop and 0 outside (no occlusion test). Returns keypoints2d
    (n, 17, 3), keypoints3d (n, 17, 3) camera frame, metres (for evaluation only), and camera
    (n, 4): focal length, cx, cy (pixels), distance (m)."""
    body = _body()
    rng = np.random.default_rng(seed)
    poses, _, scales, is_anny, phen = _draw_bodies(n, rng, cfg)
    coco = body.data.coco_regressor[: len(sk.COCO17)]
    # the camera needs the body's extent: every 8th vertex gives it to within millimetres
    sub = np.union1d(np.arange(0, body.num_vertices, 8), np.unique(np.nonzero(coco)[1]))
    reg = coco[:, sub]
    kp2, kp3 = np.zeros((n, 17, 3), np.float32), np.zeros((n, 17, 3), np.float32)
    cams = np.zeros((n, 4), np.float32)
    S = cfg.image_size
    for a in range(0, n, 256):
        sl = slice(a, min(a + 256, n))
        with torch.no_grad():
            V = body(torch.as_tensor(poses[sl]), segment_scales=torch.as_tensor(scales[sl]), vertex_ids=torch.as_tensor(sub)).vertices
            idx = np.flatnonzero(is_anny[sl])
            if len(idx):
                Va = P.phenotype_bodies(_anny(), body, torch.as_tensor(poses[sl][idx]), {k: v[sl][idx] for k, v in phen.items()})
                V[idx] = Va[:, sub].float()
        V = V.numpy().astype(np.float64)
        for j, i in enumerate(range(sl.start, sl.stop)):
            Rc, centre, d, f, cx, cy = draw_camera(V[j], rng, cfg)
            X = (reg @ V[j] - centre) @ Rc.T + np.array([0.0, 0.0, d])
            uv = project_points(X, f, d, cx, cy, cfg.perspective)
            inside = (uv[:, 0] >= 0) & (uv[:, 0] < S) & (uv[:, 1] >= 0) & (uv[:, 1] < S)
            kp2[i] = np.concatenate([uv, inside[:, None]], 1)
            kp3[i] = X
            cams[i] = [f, cx, cy, d]
    return {"keypoints2d": kp2, "keypoints3d": kp3, "camera": cams}


def render_body(vertices: np.ndarray, rng: np.random.Generator, cfg: SynthConfig) -> RenderResult:
    """Draw a camera for body-frame vertices (V, 3) and rasterize them."""
    from dalnb.render import rasterize

    body = _body()
    S = cfg.image_size
    Rc, centre, d, f, cx, cy = draw_camera(vertices, rng, cfg)
    X = (vertices - centre) @ Rc.T + np.array([0.0, 0.0, d])
    uv = project_points(X, f, d, cx, cy, cfg.perspective)
    fr = rasterize(torch.as_tensor(uv, dtype=torch.float32), torch.as_tensor(X[:, 2], dtype=torch.float32), body.faces, S, S, perspective=cfg.perspective)
    face, bary, depth = fr.face.numpy(), fr.bary.numpy().astype(np.float64), fr.depth.numpy().astype(np.float64)
    occ = np.zeros((S, S), bool)
    if rng.random() < cfg.occluder and (face >= 0).any():
        ys, xs = np.nonzero(face >= 0)
        h, w = (rng.uniform(0.15, 0.4, 2) * S).astype(int)
        y0 = int(rng.integers(ys.min(), ys.max() + 1)) - h // 2
        x0 = int(rng.integers(xs.min(), xs.max() + 1)) - w // 2
        occ[max(y0, 0) : max(y0 + h, 0), max(x0, 0) : max(x0 + w, 0)] = True
    px = np.floor(uv).astype(np.int64)
    inside = (px[:, 0] >= 0) & (px[:, 0] < S) & (px[:, 1] >= 0) & (px[:, 1] < S)
    vis = np.zeros(len(uv), bool)
    pxi = px[inside]
    zb = depth[pxi[:, 1], pxi[:, 0]]
    vis[inside] = (X[inside, 2] <= zb + visibility_tolerance(X[inside, 2], f)) & ~occ[pxi[:, 1], pxi[:, 0]]
    s_wp = f / d
    J0 = body.data.joints[0]
    t_wp = np.array([cx, cy]) + s_wp * ((J0 - centre) @ Rc.T - J0)[:2]
    cam = {"rotation": Rc, "focal": np.array([f, f]), "center": np.array([cx, cy]), "translation": X[0] - vertices[0] @ Rc.T,
           "weak_perspective": np.array([s_wp, t_wp[0], t_wp[1]]), "distance": d}  # fmt: skip
    return RenderResult(uv, X, face, bary, depth, vis, occ, cam)


def iuv_image(rr: RenderResult) -> np.ndarray:
    """(H, W, 3) float32 IUV map on our charts: part (0 background), u, v per pixel."""
    body = _body()
    faces, parts, uvc = body.data.faces, body.data.parts, body.data.uv
    out = np.zeros((*rr.face.shape, 3), np.float32)
    m = rr.face >= 0
    fv = faces[rr.face[m]]
    w = rr.bary[m]
    fp = parts[fv]
    same = (fp == fp[:, :1]).all(1)
    nearest = fv[np.arange(len(fv)), w.argmax(1)]
    uv_i = np.where(same[:, None], (uvc[fv] * w[..., None]).sum(1), uvc[nearest])
    out[m, 0] = parts[nearest]
    out[m, 1:] = uv_i
    return out


# ---------------------------------------------------------------------------------------
# samples


def _draw_bodies(n: int, rng: np.random.Generator, cfg: SynthConfig):
    """Poses (n, 24, 3), their sources, segment scales, which bodies come from anny, and anny
    phenotypes, drawn in this order (the order fixes what a seed gives)."""
    poses, pose_src = P.sample_poses(n, rng, _frames(), cfg.mocap_fraction)
    scales = P.sample_segment_scales(n, rng, cfg.child_fraction)
    is_anny = rng.random(n) < cfg.anny_fraction
    phen = P.sample_phenotypes(n, rng)
    return poses, pose_src, scales, is_anny, phen


def make_samples(n: int, seed: int | tuple, cfg: SynthConfig, start_index: int = 0) -> list[dict]:
    """``n`` samples drawn from ``np.random.default_rng(seed)``."""
    from dalnb.render.shade import (
        background,
        hair_vertices,
        random_albedo,
        random_hair,
        shade,
        vertex_normals,
    )

    body = _body()
    rng = np.random.default_rng(seed)
    # annotation noise from streams of its own: a seed gives the same renders at every noise level (child 0, the dense
    # points' noise, is what rng.spawn(1) gave before the keypoints had theirs)
    noise_rng, kp_noise_rng = rng.spawn(2)
    hair_rng = rng.spawn(1)[0]  # the third child: the same renders with and without hair
    poses, pose_src, scales, is_anny, phen = _draw_bodies(n, rng, cfg)
    with torch.no_grad():
        out = body(torch.as_tensor(poses), segment_scales=torch.as_tensor(scales))
    verts = out.vertices.numpy().astype(np.float64)
    joints24 = out.joints.numpy().astype(np.float64)
    if is_anny.any():
        idx = np.flatnonzero(is_anny)
        va = P.phenotype_bodies(_anny(), body, torch.as_tensor(poses[idx]), {k: v[idx] for k, v in phen.items()})
        verts[idx] = va.numpy()
        joints24[idx] = np.einsum("jv,bvd->bjd", body.data.joint_regressor, verts[idx])
        scales[idx] = np.nan
    S = cfg.image_size
    coco = body.data.coco_regressor[: len(sk.COCO17)]
    h36m = body.data.h36m_regressor
    hips = [sk.COCO17.index("left_hip"), sk.COCO17.index("right_hip")]
    mirror = _mirror_ids()
    samples = []
    for i in range(n):
        rr = render_body(verts[i], rng, cfg)
        X = rr.cam_vertices
        m_body = rr.face >= 0
        visible_mask = m_body & ~rr.occluder
        # image
        albedo = random_albedo(rng, sk.JOINT_NAMES)
        albedo_v = body.data.skin_weights @ albedo  # a new (V, 3) array
        if cfg.hair and (hair := random_hair(hair_rng)) is not None:
            colour, hairline, nape = hair
            albedo_v[hair_vertices(*_head_geometry(), hairline, nape)] = colour
        albedo_v = torch.as_tensor(albedo_v)
        normals = vertex_normals(torch.as_tensor(X), body.faces)
        light = torch.as_tensor(_unit(rng.normal(size=3) + np.array([0.0, 0.5, 1.5])))
        col = shade(torch.as_tensor(rr.face), torch.as_tensor(rr.bary), body.faces, normals, albedo_v, light).numpy()
        img = background(rng, S, S)
        img[m_body] = col[m_body]
        if rr.occluder.any():
            img[rr.occluder] = rng.uniform(0, 1, 3)
        img = np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1)
        # dense points on a grid over the visible body
        ids = _grid_points(rr.uv, rr.vertex_visible, visible_mask, cfg.n_dense, rng, S)
        xy = rr.uv[ids].copy()
        dv = ids.copy()
        outlier = np.zeros(len(ids), bool)
        swapped = np.zeros(len(ids), bool)
        if cfg.noise_px > 0:
            xy += noise_rng.normal(0, cfg.noise_px, xy.shape)
        if cfg.outlier_rate > 0 and visible_mask.any():
            outlier = noise_rng.random(len(ids)) < cfg.outlier_rate
            ys, xs = np.nonzero(visible_mask)
            pick = noise_rng.integers(0, len(ys), int(outlier.sum()))
            xy[outlier] = np.stack([xs[pick], ys[pick]], 1) + 0.5
        if cfg.swap_rate > 0:
            swapped = noise_rng.random(len(ids)) < cfg.swap_rate
            dv[swapped] = mirror[dv[swapped]]
        xy = np.clip(xy, 0, S - 1e-3)
        # keypoints
        kp3 = coco @ X
        kp2 = _project(kp3, rr, cfg)
        vis_frac = coco @ rr.vertex_visible.astype(np.float64)
        in_frame = (kp2[:, 0] >= 0) & (kp2[:, 0] < S) & (kp2[:, 1] >= 0) & (kp2[:, 1] < S)
        v = np.where(in_frame, np.where(vis_frac >= 0.3, 2.0, 1.0), 0.0)
        if cfg.keypoint_noise_px > 0:
            kp2 = kp2 + kp_noise_rng.normal(0, cfg.keypoint_noise_px, kp2.shape)
        Rc = rr.camera["rotation"]
        centre = 0.5 * (verts[i].min(0) + verts[i].max(0))
        j24 = (joints24[i] - centre) @ Rc.T + np.array([0.0, 0.0, rr.camera["distance"]])
        s = {
            "sample_id": f"synth-{_seed_str(seed)}-{start_index + i:06d}",
            "image": (img * 255 + 0.5).astype(np.uint8),
            "mask": visible_mask,
            "keypoints2d": np.concatenate([kp2, v[:, None]], 1).astype(np.float32),
            "gt_keypoints_depth": (kp3[:, 2] - kp3[hips, 2].mean()).astype(np.float32),
            "keypoints3d": kp3.astype(np.float32),  # COCO-17, camera frame, metres
            "dense_xy": xy.astype(np.float32),
            "dense_vertex": dv.astype(np.int64),
            "dense_iuv": body.charts.vertex_iuv(dv).astype(np.float32),
            "dense_outlier": outlier,
            "dense_swapped": swapped,
            "joints3d": (h36m @ X).astype(np.float32),
            "joints24_3d": j24.astype(np.float32),
            "gt_pose": poses[i].astype(np.float32),
            "gt_segment_scales": scales[i].astype(np.float32),
            "gt_rotation": Rc.astype(np.float32),
            "gt_camera": rr.camera["weak_perspective"].astype(np.float32),
            "gt_focal": rr.camera["focal"].astype(np.float32),
            "gt_center": rr.camera["center"].astype(np.float32),
            "shape_source": "anny" if is_anny[i] else "scales",
            "pose_source": str(pose_src[i]),
            "gt_phenotype": np.array([phen[k][i] for k in sorted(phen)], np.float32) if is_anny[i] else np.full(len(phen), np.nan, np.float32),
            "noise": np.array([cfg.noise_px, cfg.outlier_rate, cfg.swap_rate], np.float32),
        }  # fmt: skip
        if cfg.store_vertices:
            s["vertices3d"] = X.astype(np.float32)
        if cfg.store_iuv:
            s["iuv"] = iuv_image(rr)
        samples.append(s)
    return samples


def _seed_str(seed) -> str:
    return "-".join(str(x) for x in seed) if isinstance(seed, (tuple, list)) else str(seed)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _project(points: np.ndarray, rr: RenderResult, cfg: SynthConfig) -> np.ndarray:
    f, c = rr.camera["focal"], rr.camera["center"]
    if cfg.perspective:
        return f * points[:, :2] / points[:, 2:] + c
    return (f / rr.camera["distance"]) * points[:, :2] + c


def _grid_points(uv, visible, mask, n, rng, S) -> np.ndarray:
    """One visible vertex per cell of a grid sized so that about ``n`` cells cover the visible
    body, at most ``n`` points, sorted by vertex id."""
    cand = np.flatnonzero(visible)
    if len(cand) == 0 or mask.sum() == 0:
        return np.zeros(0, np.int64)
    pix = np.floor(uv[cand]).astype(np.int64)
    cand = cand[mask[pix[:, 1], pix[:, 0]]]  # on the visible silhouette, not just on its edge
    g = max(math.sqrt(mask.sum() / max(n, 1)), 1.0)
    cell = np.floor(uv[cand] / g).astype(np.int64)
    key = cell[:, 1] * (int(S / g) + 2) + cell[:, 0]
    order = rng.permutation(len(cand))
    _, first = np.unique(key[order], return_index=True)
    ids = cand[order[first]]
    if len(ids) > n:
        ids = rng.choice(ids, n, replace=False)
    return np.sort(ids)


# ---------------------------------------------------------------------------------------
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


def generate(folder: str | Path, n: int, seed: int, cfg: SynthConfig | None = None, workers: int = 1, progress: bool = True) -> list[Path]:
    """Write ``n`` samples into ``folder`` as shards; resumes where a previous run stopped."""
    from tqdm.auto import tqdm

    from dalnb.config import load_config, save_config

    cfg = cfg or SynthConfig()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"n": n, "seed": seed, "synth": cfg.to_dict()}
    meta_path = folder / "synth_config.yaml"
    if meta_path.exists():
        old = load_config(meta_path)
        if _jsonable(old) != _jsonable(meta):
            raise ValueError(f"{folder}: holds samples made with another config ({meta_path}); use a new folder")
    else:
        save_config(meta_path, _jsonable(meta))
    for stale in folder.glob(".shard_*.tmp"):  # left by a killed run; never under a shard's name
        stale.unlink(missing_ok=True)
    n_shards = math.ceil(n / cfg.shard_size)
    jobs = [(str(folder), i, min(cfg.shard_size, n - i * cfg.shard_size), seed, cfg.to_dict(), 1 if workers > 1 else torch.get_num_threads())
            for i in range(n_shards)]  # fmt: skip
    todo = [j for j in jobs if not (folder / f"shard_{j[1]:05d}.npz").exists()]
    bar = tqdm(total=n_shards, initial=n_shards - len(todo), desc=f"synth {folder.name}", unit="shard", disable=not progress)
    if workers > 1 and len(todo) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
        if ctx.get_start_method() == "fork":  # forked workers share these instead of each loading its own
            _body()
            if cfg.anny_fraction > 0:
                _anny()  # anny's ~800 MB cache read once, not once per worker
        with ctx.Pool(workers) as pool:
            for _ in pool.imap_unordered(_write_one, todo):
                bar.update()
    else:
        for j in todo:
            _write_one(j)
            bar.update()
    bar.close()
    return [folder / f"shard_{i:05d}.npz" for i in range(n_shards)]


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x
