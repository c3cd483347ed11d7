"""One synthetic scene: a body (mocap or limit-sampled pose; segment-scale or anny-phenotype
shape), a camera (any yaw, moderate pitch and roll, varied distance and focal length, crops
with truncation) and a z-buffered render (silhouette, per-vertex visibility, a shaded RGB image
on a random background, optional occluder and hair).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from dalnb.body import skeleton as sk
from dalnb.body.camera import render_camera
from dalnb.data import poses as P

# DensePose-like annotation noise (the noisy settings of registration, the rounds and the noise ablation): 3 px
# Gaussian noise on the dense points, 5 % of them moved to a random body pixel, 3 % given the mirror vertex
DENSEPOSE_NOISE = {"noise_px": 3.0, "outlier_rate": 0.05, "swap_rate": 0.03}


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
    keypoint_noise_px: float = (
        0.0  # a detector's error on the 2D keypoints (pixels, std per axis; visibility flags as drawn)
    )
    # hair on the back and top of 85 % of heads (render.shade.random_hair), from a random stream of its own, so the
    # annotations are the same either way: the back of a head in a photo is hair, the cue to the heading (notebook 06
    # measures it: benchmarks/rounds_hair.jsonl)
    hair: bool = True
    # a face (eyes, brows, lips) on every head and, for some people, a V-neck or a chest print: what tells a
    # photo's front from its back (own random stream: the annotations are the same with and without)
    front_cues: bool = True
    store_vertices: bool = True
    store_iuv: bool = False
    shard_size: int = 32

    def to_dict(self) -> dict:
        return asdict(self)


# per-process caches
@functools.lru_cache(maxsize=1)
def cached_body():
    from dalnb.body.model import BodyModel

    return BodyModel.default()


@functools.lru_cache(maxsize=1)
def head_geometry() -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """The rest template's vertices (V, 3), its head segment (V,) bool, the eyes' height and the
    ears' height and depth (metres), for ``render.shade.hair_vertices``."""
    d = cached_body().data
    rest = np.asarray(d.vertices, np.float64)
    head = np.asarray(d.skin_weights)[:, sk.joint_index("head")] > 0.5
    kp = np.asarray(d.coco_regressor, np.float64) @ rest
    eye, ear = kp[sk.COCO17.index("left_eye")], kp[sk.COCO17.index("left_ear")]
    return rest, head, float(eye[1]), float(ear[1]), float(ear[2])


@functools.lru_cache(maxsize=1)
def front_cue_geometry() -> dict[str, np.ndarray]:
    """``render.shade.front_cue_vertices`` of the rest template."""
    import torch

    from dalnb.render.shade import front_cue_vertices, vertex_normals

    d = cached_body().data
    rest = np.asarray(d.vertices, np.float64)
    normals = vertex_normals(torch.as_tensor(rest), torch.as_tensor(np.asarray(d.faces))).numpy()
    seg = np.asarray(d.skin_weights).argmax(1)
    head = seg == sk.joint_index("head")
    torso = np.isin(seg, [sk.joint_index(n) for n in ("spine1", "spine2", "spine3")])
    kp = np.asarray(d.coco_regressor, np.float64) @ rest
    eyes = kp[[sk.COCO17.index("left_eye"), sk.COCO17.index("right_eye")]]
    return front_cue_vertices(rest, normals, head, torso, kp[sk.COCO17.index("nose")], eyes)


@functools.lru_cache(maxsize=1)
def cached_anny():
    from dalnb.body.template import load_anny_model

    return load_anny_model()


@functools.lru_cache(maxsize=1)
def template_mirror_ids() -> np.ndarray:
    """(V,) the vertex nearest to each vertex's mirror image (x -> -x) in the rest template."""
    from dalnb.mesh_io import mirror_vertex_map

    return mirror_vertex_map(cached_body().data.vertices)


@functools.lru_cache(maxsize=1)
def _frames() -> np.ndarray:
    from dalnb.body.limits import joint_frames

    return joint_frames(cached_body().data.segment_axes)


def _rot(axis: str, a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


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


def draw_camera(
    vertices: np.ndarray, rng: np.random.Generator, cfg: SynthConfig
) -> tuple[np.ndarray, np.ndarray, float, float, float, float]:
    """A random camera for body-frame vertices (V, 3): any yaw, moderate pitch and roll, a
    distance in ``distance_m``, the focal length that makes the body fill ``fill`` of the crop,
    sometimes a shifted (truncating) crop. Returns rotation (3, 3), the body centre the camera
    looks at, distance, focal length and principal point (pixels)."""
    S = cfg.image_size
    yaw = rng.uniform(-math.pi, math.pi)
    pitch = np.clip(
        rng.normal(0, math.radians(cfg.pitch_deg)),
        -2.2 * math.radians(cfg.pitch_deg),
        2.2 * math.radians(cfg.pitch_deg),
    )
    roll = np.clip(
        rng.normal(0, math.radians(cfg.roll_deg)), -3 * math.radians(cfg.roll_deg), 3 * math.radians(cfg.roll_deg)
    )
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


def render_body(vertices: np.ndarray, rng: np.random.Generator, cfg: SynthConfig) -> RenderResult:
    """Draw a camera for body-frame vertices (V, 3) and rasterize them."""
    from dalnb.render import rasterize

    body = cached_body()
    S = cfg.image_size
    Rc, centre, d, f, cx, cy = draw_camera(vertices, rng, cfg)
    X = (vertices - centre) @ Rc.T + np.array([0.0, 0.0, d])
    uv = render_camera(X, f, d, (cx, cy), cfg.perspective)
    fr = rasterize(
        torch.as_tensor(uv, dtype=torch.float32),
        torch.as_tensor(X[:, 2], dtype=torch.float32),
        body.faces,
        S,
        S,
        perspective=cfg.perspective,
    )
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
    cam = {
        "rotation": Rc,
        "focal": np.array([f, f]),
        "center": np.array([cx, cy]),
        "translation": X[0] - vertices[0] @ Rc.T,
        "weak_perspective": np.array([s_wp, t_wp[0], t_wp[1]]),
        "distance": d,
    }
    return RenderResult(uv, X, face, bary, depth, vis, occ, cam)


def iuv_image(rr: RenderResult) -> np.ndarray:
    """(H, W, 3) float32 IUV map on our charts: part (0 background), u, v per pixel."""
    body = cached_body()
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


# samples
def draw_bodies(n: int, rng: np.random.Generator, cfg: SynthConfig):
    """Poses (n, 24, 3), their sources, segment scales, which bodies come from anny, and anny
    phenotypes, drawn in this order (the order fixes what a seed gives)."""
    poses, pose_src = P.sample_poses(n, rng, _frames(), cfg.mocap_fraction)
    scales = P.sample_segment_scales(n, rng, cfg.child_fraction)
    is_anny = rng.random(n) < cfg.anny_fraction
    phen = P.sample_phenotypes(n, rng)
    return poses, pose_src, scales, is_anny, phen
