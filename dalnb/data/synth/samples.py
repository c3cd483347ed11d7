"""Synthetic samples with full ground truth: ~120 dense points on a grid over the visible body
(each with its vertex and (part, u, v)), COCO-17 keypoints with visibility, 3D joints
(Human3.6M-17 and our 24) and vertices in the camera frame, and the true parameters; and
keypoint sets without rendering (a lifter's training pool).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dalnb.body import skeleton as sk
from dalnb.body.camera import render_camera
from dalnb.data import poses as P
from dalnb.data.synth.scene import (
    SynthConfig,
    cached_anny,
    cached_body,
    draw_bodies,
    draw_camera,
    front_cue_geometry,
    head_geometry,
    iuv_image,
    render_body,
    template_mirror_ids,
)


def keypoints_only(n: int, seed: int | tuple, cfg: SynthConfig) -> dict[str, np.ndarray]:
    """2D keypoint sets without rendering (a lifter's training pool: thousands per second):
    the same poses, bodies and cameras as ``make_samples``, COCO-17 keypoints projected, with
    confidence 1 inside the crop and 0 outside (no occlusion test). Returns keypoints2d
    (n, 17, 3), keypoints3d (n, 17, 3) camera frame, metres (for evaluation only), and camera
    (n, 4): focal length, cx, cy (pixels), distance (m)."""
    body = cached_body()
    rng = np.random.default_rng(seed)
    poses, _, scales, is_anny, phen = draw_bodies(n, rng, cfg)
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
            V = body(
                torch.as_tensor(poses[sl]), segment_scales=torch.as_tensor(scales[sl]), vertex_ids=torch.as_tensor(sub)
            ).vertices
            idx = np.flatnonzero(is_anny[sl])
            if len(idx):
                Va = P.phenotype_bodies(
                    cached_anny(), body, torch.as_tensor(poses[sl][idx]), {k: v[sl][idx] for k, v in phen.items()}
                )
                V[idx] = Va[:, sub].float()
        V = V.numpy().astype(np.float64)
        for j, i in enumerate(range(sl.start, sl.stop)):
            Rc, centre, d, f, cx, cy = draw_camera(V[j], rng, cfg)
            X = (reg @ V[j] - centre) @ Rc.T + np.array([0.0, 0.0, d])
            uv = render_camera(X, f, d, (cx, cy), cfg.perspective)
            inside = (uv[:, 0] >= 0) & (uv[:, 0] < S) & (uv[:, 1] >= 0) & (uv[:, 1] < S)
            kp2[i] = np.concatenate([uv, inside[:, None]], 1)
            kp3[i] = X
            cams[i] = [f, cx, cy, d]
    return {"keypoints2d": kp2, "keypoints3d": kp3, "camera": cams}


def make_samples(n: int, seed: int | tuple, cfg: SynthConfig, start_index: int = 0) -> list[dict]:
    """``n`` samples drawn from ``np.random.default_rng(seed)``."""
    from dalnb.render.shade import (
        background,
        hair_vertices,
        paint_front_cues,
        random_albedo,
        random_hair,
        shade,
        vertex_normals,
    )

    body = cached_body()
    rng = np.random.default_rng(seed)
    # annotation noise from streams of its own: a seed gives the same renders at every noise level
    noise_rng, kp_noise_rng = rng.spawn(2)
    hair_rng = rng.spawn(1)[0]  # the third child: the same renders with and without hair
    cue_rng = rng.spawn(1)[0]  # the fourth: the same renders with and without front cues
    poses, pose_src, scales, is_anny, phen = draw_bodies(n, rng, cfg)
    with torch.no_grad():
        out = body(torch.as_tensor(poses), segment_scales=torch.as_tensor(scales))
    verts = out.vertices.numpy().astype(np.float64)
    joints24 = out.joints.numpy().astype(np.float64)
    if is_anny.any():
        idx = np.flatnonzero(is_anny)
        va = P.phenotype_bodies(cached_anny(), body, torch.as_tensor(poses[idx]), {k: v[idx] for k, v in phen.items()})
        verts[idx] = va.numpy()
        joints24[idx] = np.einsum("jv,bvd->bjd", body.data.joint_regressor, verts[idx])
        scales[idx] = np.nan
    S = cfg.image_size
    coco = body.data.coco_regressor[: len(sk.COCO17)]
    h36m = body.data.h36m_regressor
    hips = [sk.COCO17.index("left_hip"), sk.COCO17.index("right_hip")]
    mirror = template_mirror_ids()
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
            albedo_v[hair_vertices(*head_geometry(), hairline, nape)] = colour
        if cfg.front_cues:
            albedo_v = paint_front_cues(albedo_v, front_cue_geometry(), albedo[sk.joint_index("head")], cue_rng)
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
        kp2 = render_camera(kp3, rr.camera["focal"], rr.camera["distance"], rr.camera["center"], cfg.perspective)
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
            "gt_phenotype": np.array([phen[k][i] for k in sorted(phen)], np.float32)
            if is_anny[i]
            else np.full(len(phen), np.nan, np.float32),
            "noise": np.array([cfg.noise_px, cfg.outlier_rate, cfg.swap_rate], np.float32),
        }
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
