"""Registration: fit the template to each sample's dense correspondences and keypoints by
gradient descent, batched (explained in notebook 03).

Free parameters per sample, one row of a (B, 130) tensor (``PARAM_SLICES``): the global
rotation as 9 numbers (Gram-Schmidt), a weak-perspective camera (log s, tx, ty), a perspective
strength kappa (1 / the camera's distance, 1/m), pose (23 non-root joints, axis-angle) and log
segment scales (S, 2). The model's vertices, rotated, are in the camera frame up to a
translation; they project as

    pi(x) = (s (x, y) + t - c) / (1 + kappa z) + c          (pixels; c the principal point)

which is the paper's weak perspective s (x, y) + t at kappa = 0 (where every fit starts). With
kappa free, the fit can follow the foreshortening of a real (perspective) camera: near the
camera a limb's far end looks smaller, which weak perspective can only explain by a wrong pose
or shape. c is the image centre where the sample's image size is known.

Stages are data (``Stage``: free parameters, loss weights, learning rate, iterations) run by
one loop (``run_stage``): a stiff first stage recovers the global rotation and camera with the
body held rigid (from several headings at once, keeping the best), then the full fit. Each
sample stops on its own when its loss stops improving. Only the vertices that carry
correspondences, keypoints or silhouette samples are skinned inside the loop, through a skin
basis precomputed once (``skinning.skin_basis``: one matrix product per iteration); the full
mesh once at the end. The optimiser is Adam written out on the parameter rows (``adam_step``),
so that stopped samples simply stop moving and a step is a handful of tensor operations.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from dalnb import losses as Lo
from dalnb import rotations as rot
from dalnb.body import limits as lim
from dalnb.body import skeleton as sk
from dalnb.body.camera import FACING_CAMERA
from dalnb.body.skinning import pose_points, transform_stack
from dalnb.mesh_io import vertex_areas

log = logging.getLogger(__name__)

__all__ = ["PARAM_SLICES", "adam_step", "project", "Stage", "RegistrationConfig", "FitResult", "register", "prepare_batch", "save_fits", "load_fits", "register_folder", "DEFAULT_WEIGHTS",
           "robust_scale", "REGIMES", "depth_regime", "without_dense", "RegimeCheck", "DepthPriorCheck", "check_depth_prior", "use_lifted_depths",
           "lifted_depth_regimes", "attach_lifted_depths"]

TERMS = ("dense", "part_dense", "keypoints", "keypoint_depth", "silhouette", "scale_smooth", "scale_prior",
         "pose_prior", "joint_smooth", "joint_limits", "determinant")  # fmt: skip

DEFAULT_WEIGHTS: dict[str, float] = {
    "dense": 1.0, "part_dense": 0.5, "keypoints": 1.0, "keypoint_depth": 0.05, "silhouette": 0.1,
    "scale_smooth": 3e-3, "scale_prior": 1e-3, "pose_prior": 2e-5, "joint_smooth": 1e-4,
    "joint_limits": 1e-3, "determinant": 1.0,
}  # fmt: skip


#: Columns of the parameter rows.
PARAM_SLICES: dict[str, slice] = {"rotation": slice(0, 9), "camera": slice(9, 12), "perspective": slice(12, 13),
                                  "pose": slice(13, 82), "scales": slice(82, 130)}  # fmt: skip
N_PARAMS = 130
MAX_PERSPECTIVE = 0.5  # |kappa| <= 0.5 / m: the camera at least 2 m away. Negative kappa (unphysical) is allowed:
# clamped at 0, kappa starts there and the first steps' gradient (pose still wrong) pushed it below, where it stayed.


def project(points: torch.Tensor, camera: torch.Tensor, kappa: torch.Tensor | None = None, centre: torch.Tensor | None = None) -> torch.Tensor:
    """(B, N, 3) model-frame points, (B, 3) camera (s, tx, ty), (B,) kappa, (B, 2) principal
    point -> (B, N, 2): (s (x, y) + t - c) / (1 + kappa z) + c; weak perspective when kappa is
    None or 0."""
    s, t = camera[:, None, :1], camera[:, None, 1:]
    if kappa is None:
        return s * points[..., :2] + t
    c = centre[:, None, :]
    return (s * points[..., :2] + t - c) / (1 + kappa[:, None, None] * points[..., 2:]) + c


def adam_step(param: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, step: int, lr: torch.Tensor,
              rows: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:  # fmt: skip
    """Adam (Kingma & Ba) in place on (B, D) parameter rows with per-column learning rates
    lr (D,); rows (B,) bool: only these rows move (m and v are updated for all).

        m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
        p <- p - lr * (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)

    The same arithmetic as ``torch.optim.Adam`` (tested against it)."""
    b1, b2 = betas
    m.lerp_(grad, 1 - b1)
    v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
    denom = (v / (1 - b2**step)).sqrt_().add_(eps)
    upd = (m / (1 - b1**step)) / denom * lr
    param.sub_(upd * rows[:, None])


@dataclass
class Stage:
    name: str
    iters: int
    lr: float
    free: tuple[str, ...]  # of "rotation", "camera", "perspective", "pose", "scales"
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    lr_end: float = 0.05  # the learning rate decays (cosine) to this fraction of `lr` over the stage


def default_stages(iters: int = 300, stiff_fraction: float = 0.1) -> list[Stage]:
    """A stiff stage (rotation and camera only) then the full fit, ``iters`` in all."""
    n_stiff = max(int(round(iters * stiff_fraction)), 1)
    return [
        Stage("stiff", n_stiff, 0.05, ("rotation", "camera")),
        Stage("full", iters - n_stiff, 0.06, ("rotation", "camera", "perspective", "pose", "scales")),
    ]


@dataclass
class RegistrationConfig:
    stages: list[Stage] = field(default_factory=default_stages)
    yaw_hypotheses: int = 4  # headings tried in the first stage
    robust_sigma: float | None = 0.1  # Geman-McClure scale on 2D residuals (normalised units: 0.1 = 10 % of the person); None = squared
    # the 2D residuals' scale falls (cosine) from robust_sigma to this over each stage that bends the body (graduated
    # non-convexity: wide while the pose is far off, narrow once it is close, so that outliers and swapped points stop
    # pulling); None keeps robust_sigma. Tuned on seed 777's 200 bodies, 300 iterations, PA-MPJPE (a) / (b) / (c):
    # none 16.24 / 24.72 / 38.64 mm; 0.05: - / 23.19 / -; 0.03: 16.20 / 22.33 / 38.65; 0.02: 16.29 / 21.96 / 38.82;
    # 0.01: 16.77 / 21.58 / 39.25 (narrower helps the noisy points and starts to cost the exact ones). Keypoints alone
    # with a detector's 3 px error (setting (d), how a photo comes; same seed): squared 62.64, fixed 0.1 61.97, 0.05: 61.09,
    # 0.03: 59.68, 0.02: 58.64 mm, so the photos' larger keypoint reprojection error is the kernel discounting the detector
    robust_sigma_end: float | None = 0.03
    tol: float = 1e-4  # a sample stops when its loss improved by less than tol (relative) over `patience` iterations
    patience: int = 30
    chunk_size: int = 512
    part_candidates: int = 48  # candidate vertices per part for part-level DensePose points
    silhouette_points: int = 256  # surface samples (spread by area) kept inside the mask
    coverage_points: int = 64  # pixels sampled inside the mask that want a surface sample near them
    coverage_every: int = 10  # iterations between searches for each mask pixel's nearest surface sample
    silhouette_sigma: float | None = 0.05  # Geman-McClure scale on the distance outside the mask (normalised units)
    seed: int = 0
    device: str | None = None
    compile: bool = False  # torch.compile the loss terms (CPU: ~2-3x per iteration, 30-60 s to compile each new shape)
    twist_prior: float = 5.0  # pose-prior weight of twists about the bone, relative to 1 for swings
    collar_prior: float = 5.0  # pose-prior weight of the collars (2D cannot tell them from the shoulders)
    # Adam's (beta1, beta2). A short memory of squared gradients (0.8 against torch's 0.999) keeps the steps
    # from shrinking once the data terms are met and only the weak terms (priors, limits) still pull: in 2D-only
    # fits (the depth left to those terms) PA-MPJPE 48.4 -> 38.7 mm at 300 iterations (see the tuning note at ``_LR_SCALE``).
    adam_betas: tuple[float, float] = (0.9, 0.8)

    def __post_init__(self):
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            raise ValueError(f"RegistrationConfig.adam_betas: expected (beta1, beta2), each in [0, 1), got {self.adam_betas!r}")

    @classmethod
    def with_iters(cls, iters: int, **kw) -> RegistrationConfig:
        return cls(stages=default_stages(iters), **kw)

    def without_stiff_stage(self) -> RegistrationConfig:
        """All iterations in the full fit, from the facing-the-camera rest pose (paper Fig. 7)."""
        n = sum(s.iters for s in self.stages)
        full = replace(self.stages[-1], iters=n)
        return replace(self, stages=[full], yaw_hypotheses=1)

    def without(self, *terms: str) -> RegistrationConfig:
        """The same config with some loss terms switched off (ablations)."""
        return replace(self, stages=[replace(s, weights={k: (0.0 if k in terms else v) for k, v in s.weights.items()}) for s in self.stages])


@dataclass
class FitResult:
    """Fits of N samples. vertices/joints are the model posed, scaled and rotated (camera frame
    up to a translation); camera (s, tx, ty) projects them to pixels."""

    pose: torch.Tensor  # (N, 24, 3) axis-angle, root zero (the global rotation is `rotation`)
    segment_scales: torch.Tensor  # (N, 24, 2)
    rotation: torch.Tensor  # (N, 3, 3)
    camera: torch.Tensor  # (N, 3) s, tx, ty (pixels)
    vertices: torch.Tensor  # (N, V, 3)
    joints: torch.Tensor  # (N, 24, 3)
    losses: dict[str, torch.Tensor]  # term -> (N,) final unweighted values; "total" weighted
    status: np.ndarray  # (N,) 'ok' or the reason
    sample_ids: list[str] = field(default_factory=list)
    history: dict[str, np.ndarray] = field(default_factory=dict)  # term -> (iters,) batch means
    iterations: np.ndarray | None = None  # (N,) iterations each sample ran
    seconds: float = 0.0
    perspective: torch.Tensor | None = None  # (N, 3) kappa (1/m), principal point cx, cy (pixels); None: weak perspective

    def __len__(self) -> int:
        return len(self.status)

    def keypoints(self, body, names: str = "coco17") -> torch.Tensor:
        return body.keypoints(self.vertices, names)

    def take(self, index) -> FitResult:
        """The fits at ``index`` (an int, slice or index array), as a FitResult."""
        idx = [index] if isinstance(index, int) else index
        pick = lambda t: t[idx]  # noqa: E731
        ids = np.arange(len(self))[idx]
        return replace(self, pose=pick(self.pose), segment_scales=pick(self.segment_scales), rotation=pick(self.rotation),
                       camera=pick(self.camera), vertices=pick(self.vertices), joints=pick(self.joints),
                       losses={k: pick(v) for k, v in self.losses.items()}, status=np.asarray(self.status)[ids],
                       sample_ids=[self.sample_ids[i] for i in np.atleast_1d(ids)] if self.sample_ids else [],
                       iterations=None if self.iterations is None else self.iterations[ids],
                       perspective=None if self.perspective is None else pick(self.perspective))  # fmt: skip

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """(N, K, 3) model-frame points of these N fits -> (N, K, 2) pixels (``project``)."""
        if points.dim() != 3 or points.shape[0] != len(self):
            raise ValueError(f"project: expected points of shape ({len(self)}, K, 3), got {tuple(points.shape)}")
        if self.perspective is None:
            return project(points, self.camera.to(points))
        pp = self.perspective.to(points)
        return project(points, self.camera.to(points), pp[:, 0], pp[:, 1:])


# ---------------------------------------------------------------------------------------
# batches


@dataclass
class Batch:
    centre: torch.Tensor  # (B, 2) pixels
    size: torch.Tensor  # (B,) pixels
    principal: torch.Tensor  # (B, 2) principal point, normalised (the image centre where the image size is known)
    dense_ids: torch.Tensor  # (B, P, 3)
    dense_bary: torch.Tensor  # (B, P, 3)
    dense_xy: torch.Tensor  # (B, P, 2) normalised
    dense_w: torch.Tensor  # (B, P)
    part_xy: torch.Tensor  # (B, Q, 2)
    part_id: torch.Tensor  # (B, Q)
    part_w: torch.Tensor  # (B, Q)
    kp: torch.Tensor  # (B, K, 3) normalised, confidence
    kp_depth: torch.Tensor  # (B, K)
    kp_depth_w: torch.Tensor  # (B, K)
    mask_dist: torch.Tensor | None  # (B, 1, H, W) normalised distance outside the mask
    mask_hw: torch.Tensor | None  # (B, 2) mask height, width (pixels)
    has_mask: torch.Tensor  # (B,)
    status: list[str]
    mask_xy: torch.Tensor | None = None  # (B, M, 2) normalised pixels sampled inside the mask
    mask_w: torch.Tensor | None = None  # (B, M) 1 where sampled, 0 for padding

    def to(self, device) -> Batch:
        kw = {f.name: (getattr(self, f.name).to(device) if isinstance(getattr(self, f.name), torch.Tensor) else getattr(self, f.name)) for f in fields(self)}
        return Batch(**kw)


def _image_hw(s: dict) -> tuple[int, int] | None:
    if "image" in s:
        return tuple(np.asarray(s["image"]).shape[:2])
    if "mask" in s:
        return tuple(np.asarray(s["mask"]).shape[:2])
    if "image_size" in s:
        return tuple(int(x) for x in np.ravel(s["image_size"])[:2])
    return None


def _check(s: dict) -> str:
    """'ok' or why the sample cannot be fitted."""
    for k in ("dense_xy", "keypoints2d", "dense_iuv"):
        if k in s and not np.isfinite(np.asarray(s[k], np.float64)).all():
            return f"non-finite values in {k}"
    if "keypoints_depth" in s and np.isinf(np.asarray(s["keypoints_depth"], np.float64)).any():  # NaN = missing
        return "infinite values in keypoints_depth"
    n_dense = len(s.get("dense_xy", []))
    kp = np.asarray(s.get("keypoints2d", np.zeros((17, 3))), np.float64)
    n_kp = int((kp[:, 2] > 0).sum()) if kp.ndim == 2 and kp.shape[1] == 3 else 0
    if n_dense == 0 and n_kp < 4:
        return f"nothing usable: {n_dense} dense points, {n_kp} keypoints"
    hw = _image_hw(s)
    if hw is not None:
        pts = [np.asarray(s["dense_xy"], np.float64)] if n_dense else []
        if n_kp:
            pts.append(kp[kp[:, 2] > 0, :2])
        p = np.concatenate(pts)
        h, w = hw
        far = (p[:, 0] < -0.5 * w) | (p[:, 0] > 1.5 * w) | (p[:, 1] < -0.5 * h) | (p[:, 1] > 1.5 * h)
        if far.mean() > 0.25:
            return f"points far outside the image ({far.sum()} of {len(p)})"
    return "ok"


def prepare_batch(body, samples: list[dict], cfg: RegistrationConfig, densepose_map=None) -> Batch:
    """Collate samples into padded tensors in each sample's normalised image frame."""
    from scipy.ndimage import distance_transform_edt

    B = len(samples)
    status = [_check(s) for s in samples]
    dense, part, kps, depths, masks = [], [], [], [], []
    centre = np.zeros((B, 2))
    size = np.ones(B)
    principal = np.zeros((B, 2))
    faces = body.data.faces
    for i, s in enumerate(samples):
        ok = status[i] == "ok"
        d_ids = np.zeros((0, 3), np.int64)
        d_bary = np.zeros((0, 3))
        d_xy = np.zeros((0, 2))
        p_xy, p_id = np.zeros((0, 2)), np.zeros(0, np.int64)
        if ok and len(s.get("dense_xy", [])):
            xy = np.asarray(s["dense_xy"], np.float64)
            space = str(s.get("dense_uv_space", "template"))
            if "dense_vertex" in s:
                v = np.asarray(s["dense_vertex"], np.int64)
                d_ids, d_bary, d_xy = np.stack([v, v, v], 1), np.tile([1.0, 0, 0], (len(v), 1)), xy
            elif "dense_iuv" in s and space == "template":
                sp = body.charts.iuv_to_surface(np.asarray(s["dense_iuv"], np.float64))
                d_ids, d_bary, d_xy = faces[sp.face], sp.bary, xy
            elif "dense_iuv" in s and densepose_map is not None:
                sp = densepose_map.to_template(np.asarray(s["dense_iuv"], np.float64))
                d_ids, d_bary, d_xy = faces[sp.face], sp.bary, xy
            elif "dense_iuv" in s:
                p_xy, p_id = xy, np.asarray(s["dense_iuv"])[:, 0].astype(np.int64)
        kp = np.asarray(s.get("keypoints2d", np.zeros((17, 3))), np.float64).copy() if ok else np.zeros((17, 3))
        kp[:, 2] = np.clip(kp[:, 2], 0, None)
        if kp[:, 2].max() > 1:  # COCO visibility flags 1/2 -> confidence 1
            kp[:, 2] = (kp[:, 2] > 0).astype(np.float64)
        pts = [a for a in (d_xy, p_xy, kp[kp[:, 2] > 0, :2]) if len(a)]
        if pts:
            allp = np.concatenate(pts)
            lo, hi = allp.min(0), allp.max(0)
            centre[i] = 0.5 * (lo + hi)
            size[i] = max(float((hi - lo).max()), 1.0)
        n = lambda a: (a - centre[i]) / size[i]  # noqa: E731,B023
        hw = _image_hw(s)
        principal[i] = n(np.array([hw[1] / 2, hw[0] / 2])) if hw is not None else 0.0
        dense.append((d_ids, d_bary, n(d_xy)))
        part.append((n(p_xy), p_id))
        kps.append(np.concatenate([n(kp[:, :2]), kp[:, 2:]], 1))
        dz = np.zeros(17)
        dw = np.zeros(17)
        if ok and "keypoints_depth" in s:
            dz = np.asarray(s["keypoints_depth"], np.float64)
            dw = (kp[:, 2] > 0).astype(np.float64) if "keypoints_depth_mask" not in s else np.asarray(s["keypoints_depth_mask"], np.float64)
            dw = dw * np.isfinite(dz)  # NaN depth: no prior for that keypoint (the lifter's convention)
            dz = np.nan_to_num(dz)
        depths.append((dz, dw))
        masks.append(np.asarray(s["mask"], bool) if ok and "mask" in s else None)
    P = max([len(d[2]) for d in dense] + [1])
    Q = max([len(p[1]) for p in part] + [1])
    t = lambda a, dt=torch.float32: torch.as_tensor(np.asarray(a), dtype=dt)  # noqa: E731
    d_ids = torch.zeros(B, P, 3, dtype=torch.int64)
    d_bary = torch.zeros(B, P, 3)
    d_xy = torch.zeros(B, P, 2)
    d_w = torch.zeros(B, P)
    p_xy, p_id, p_w = torch.zeros(B, Q, 2), torch.zeros(B, Q, dtype=torch.int64), torch.zeros(B, Q)
    for i, (ids, bary, xy) in enumerate(dense):
        m = len(xy)
        d_ids[i, :m], d_bary[i, :m], d_xy[i, :m], d_w[i, :m] = t(ids, torch.int64), t(bary), t(xy), 1.0
        pxy, pid = part[i]
        p_xy[i, : len(pid)], p_id[i, : len(pid)], p_w[i, : len(pid)] = t(pxy), t(pid, torch.int64), 1.0
    mask_dist = mask_hw = mask_xy = mask_w = None
    has_mask = torch.tensor([m is not None for m in masks])
    if has_mask.any() and cfg.stages and any(st.weights.get("silhouette", 0) > 0 for st in cfg.stages):
        H = max(m.shape[0] for m in masks if m is not None)
        W = max(m.shape[1] for m in masks if m is not None)
        md = np.zeros((B, 1, H, W), np.float32)
        hw = np.ones((B, 2), np.float32)
        M = cfg.coverage_points
        m_xy, m_w = np.zeros((B, M, 2), np.float32), np.zeros((B, M), np.float32)
        for i, m in enumerate(masks):
            if m is not None and m.any():
                md[i, 0, : m.shape[0], : m.shape[1]] = distance_transform_edt(~m) / size[i]
                hw[i] = [H, W]
                ys, xs = np.nonzero(m)
                pick = np.random.default_rng((cfg.seed, i)).choice(len(ys), min(M, len(ys)), replace=False)
                m_xy[i, : len(pick)] = (np.stack([xs[pick], ys[pick]], 1) + 0.5 - centre[i]) / size[i]  # pixel centres
                m_w[i, : len(pick)] = 1.0
            else:
                has_mask[i] = False
        mask_dist, mask_hw = torch.as_tensor(md), torch.as_tensor(hw)
        mask_xy, mask_w = torch.as_tensor(m_xy), torch.as_tensor(m_w)
    else:
        has_mask[:] = False
    return Batch(t(centre), t(size), t(principal), d_ids, d_bary, d_xy, d_w, p_xy, p_id, p_w, t(np.stack(kps)),
                 t(np.stack([d[0] for d in depths])), t(np.stack([d[1] for d in depths])), mask_dist, mask_hw, has_mask, status, mask_xy, mask_w)  # fmt: skip


# ---------------------------------------------------------------------------------------
# the loop


class _Problem:
    """Parameter rows of a batch, the skin bases of the points it fits and the loss terms."""

    def __init__(self, body, batch: Batch, cfg: RegistrationConfig, device, init: dict | None):
        self.body, self.batch, self.cfg, self.dev = body, batch, cfg, device
        self.rigid: tuple[torch.Tensor, torch.Tensor | None] | None = None  # body points held still (``hold_body``)
        B = len(batch.status)
        g = torch.Generator().manual_seed(cfg.seed)
        dt = body.v_template.dtype
        # per-sample dense points; shared vertex subsets: keypoint support, part candidates, silhouette samples
        reg = body.data.coco_regressor[: len(sk.COCO17)]
        kp_ids = np.unique(np.nonzero(reg)[1])
        self.kp_reg = torch.as_tensor(reg[:, kp_ids], dtype=dt, device=device)
        shared = [kp_ids]
        # samples with dense_vertex carry one-hot barycentrics: skin each point's vertex once (padding and
        # samples without dense points, weight 0, do not count: one of them used to send the batch down the 3x path)
        self.one_hot = bool(((batch.dense_bary[..., 0] == 1) | (batch.dense_w == 0)).all())
        dense_ids = batch.dense_ids[..., :1] if self.one_hot else batch.dense_ids
        self.has_dense = bool(batch.dense_w.sum() > 0)
        if self.has_dense:
            self.basis_dense = body.skin_basis(dense_ids.reshape(B, -1).to(device))  # (B, Pd, 4S)
            self.basis_dense_t = self.basis_dense.mT.contiguous()
        self.kp_slice = slice(0, len(kp_ids))
        off = len(kp_ids)
        self.use_part = bool(batch.part_w.sum() > 0)
        if self.use_part:
            cand, cpart = [], []
            for p in range(1, 25):
                ids = np.flatnonzero(body.parts == p)
                pick = ids[torch.randperm(len(ids), generator=g)[: cfg.part_candidates].numpy()]
                cand.append(pick)
                cpart.append(np.full(len(pick), p))
            cand = np.concatenate(cand)
            self.cand_part = torch.as_tensor(np.concatenate(cpart), device=device)
            self.part_slice = slice(off, off + len(cand))
            off += len(cand)
            shared.append(cand)
        self.use_sil = batch.mask_dist is not None and bool(batch.has_mask.any())
        if self.use_sil:
            # surface samples spread by area (uniform vertex picks would put a quarter of them on the hands)
            area = torch.as_tensor(vertex_areas(body.data.vertices, body.data.faces))
            sil = torch.multinomial(area, cfg.silhouette_points, replacement=False, generator=g).numpy()
            self.sil_slice = slice(off, off + len(sil))
            shared.append(sil)
        self.basis_shared = body.skin_basis(torch.as_tensor(np.concatenate(shared), device=device))  # (Ps, 4S)
        self.hips = [sk.COCO17.index("left_hip"), sk.COCO17.index("right_hip")]
        self.parents = torch.as_tensor(body.parents, device=device)
        chain = [("spine1", "spine2"), ("spine2", "spine3"), ("neck", "head")]
        self.chains = torch.as_tensor([[sk.joint_index(a), sk.joint_index(b)] for a, b in chain], device=device)
        lo, hi = lim.limit_bounds()
        self.lo, self.hi = torch.as_tensor(lo, dtype=dt, device=device), torch.as_tensor(hi, dtype=dt, device=device)
        self.frames = torch.as_tensor(lim.joint_frames(body.data.segment_axes), dtype=dt, device=device)
        self.prior_w = torch.as_tensor(pose_prior_weights(cfg.twist_prior, cfg.collar_prior), dtype=dt, device=device)[1:]
        # parameters
        init = init or {}
        kp = batch.kp
        vis = kp[..., 2] > 0
        ys = torch.where(vis, kp[..., 1], torch.nan)
        ext = (ys.nan_to_num(-1e9).amax(1) - ys.nan_to_num(1e9).amin(1)).clamp(min=0.3, max=2.0)
        ext = torch.where(vis.sum(1) >= 4, ext, torch.full_like(ext, 0.8))
        height = float(body.v_template[:, 1].max() - body.v_template[:, 1].min())
        s0 = ext / (0.85 * height)
        theta = torch.zeros(B, N_PARAMS)
        R0 = init.get("rotation", FACING_CAMERA.expand(B, 3, 3))
        theta[:, PARAM_SLICES["rotation"]] = R0.reshape(B, 9).float()
        cam0 = init.get("camera_normalised", torch.stack([torch.log(s0), torch.zeros(B), torch.zeros(B)], 1))
        theta[:, PARAM_SLICES["camera"]] = cam0.float()
        if "kappa" in init:
            theta[:, PARAM_SLICES["perspective"]] = init["kappa"].float().reshape(B, 1)
        if "pose" in init:
            theta[:, PARAM_SLICES["pose"]] = init["pose"][:, 1:].reshape(B, -1).float()
        if "segment_scales" in init:
            theta[:, PARAM_SLICES["scales"]] = torch.log(init["segment_scales"]).reshape(B, -1).float()
        self.theta = _leaf(theta, device, dt)
        self.b = batch.to(device)
        self.has_depth = bool(batch.kp_depth_w.sum() > 0)
        if self.use_sil:
            self.cov_near = torch.zeros(self.b.mask_xy.shape[:2], dtype=torch.int64, device=self.dev)
        # the 2D residuals' Geman-McClure scale, a tensor so that run_stage can anneal it in place (and a compiled
        # loss reads it as an input)
        self.sigma = None if cfg.robust_sigma is None else torch.tensor(cfg.robust_sigma, dtype=dt, device=device)
        self.terms_fn = torch.compile(self.terms, dynamic=False) if cfg.compile else self.terms

    # views of the parameter rows
    @property
    def rot9(self) -> torch.Tensor:
        return self.theta[:, PARAM_SLICES["rotation"]]

    @property
    def cam(self) -> torch.Tensor:
        return self.theta[:, PARAM_SLICES["camera"]]

    @property
    def kappa(self) -> torch.Tensor:
        return self.theta[:, PARAM_SLICES["perspective"]][:, 0].clamp(-MAX_PERSPECTIVE, MAX_PERSPECTIVE)

    @property
    def pose(self) -> torch.Tensor:
        return self.theta[:, PARAM_SLICES["pose"]].reshape(-1, 23, 3)

    @property
    def log_sc(self) -> torch.Tensor:
        return self.theta[:, PARAM_SLICES["scales"]].reshape(-1, 24, 2)

    @property
    def full_pose(self) -> torch.Tensor:
        """(B, 24, 3) pose with the root's rotation zero (the global rotation is ``rot9``)."""
        return torch.cat([torch.zeros_like(self.pose[:, :1]), self.pose], 1)

    def lr_columns(self, stage: Stage) -> torch.Tensor:
        """(D,) learning rate of each parameter column in a stage (0 where not free)."""
        lr = torch.zeros(N_PARAMS, dtype=self.theta.dtype, device=self.dev)
        for n in stage.free:
            lr[PARAM_SLICES[n]] = stage.lr * _LR_SCALE[n]
        return lr

    def points(self, pose: torch.Tensor, rotate: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Posed shared points (B, Ps, 3) and dense points (B, Pd, 3) (None without dense) of
        the full pose (B, 24, 3)."""
        R_local = rot.axis_angle_to_matrix(pose)
        if rotate:
            R_local = torch.cat([(rot.nine_to_matrix(self.rot9) @ R_local[:, 0])[:, None], R_local[:, 1:]], 1)
        A, b, _, _ = self.body.transforms_from_matrices(R_local, self.log_sc.exp())
        M = transform_stack(A, b)
        return pose_points(self.basis_shared, M), (pose_points(self.basis_dense, M, self.basis_dense_t) if self.has_dense else None)

    def current_points(self, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`points` now, or the held body turned rigidly (see :meth:`hold_body`)."""
        if self.rigid is None:
            return self.points(pose)
        G, j0 = rot.nine_to_matrix(self.rot9), self.body.j_template[0]
        Xs, Xd = ((X - j0) @ G.mT + j0 if X is not None else None for X in self.rigid)
        return Xs, Xd

    def refresh_coverage(self) -> None:
        """Each mask pixel's nearest projected surface sample, for the coverage term (in place)."""
        if not self.use_sil:
            return
        with torch.no_grad():
            Xs, _ = self.current_points(self.full_pose)
            P = project(Xs[:, self.sil_slice], self.cam_scale(), self.kappa, self.b.principal)
            self.cov_near.copy_(Lo.nearest_points(self.b.mask_xy, P))

    def hold_body(self, hold: bool) -> None:
        """A stage that frees only the rotation and camera moves the body rigidly about the root
        joint (x = j0 + G (x0 - j0)): skin it once, then each iteration only rotates."""
        if not hold:
            self.rigid = None
            return
        with torch.no_grad():
            self.rigid = self.points(self.full_pose, rotate=False)

    def terms(self, weights: dict[str, float]) -> dict[str, torch.Tensor]:
        b, B = self.b, self.theta.shape[0]
        pose = self.full_pose
        Xs, Xd = self.current_points(pose)
        kappa, c = self.kappa, b.principal
        cam = self.cam_scale()
        proj = lambda P: project(P, cam, kappa, c)  # noqa: E731
        T: dict[str, torch.Tensor] = {}
        sig = self.sigma
        if weights.get("dense", 0) and self.has_dense:
            if not self.one_hot:
                Xd = (Xd.reshape(B, -1, 3, 3) * b.dense_bary[..., None]).sum(2)
            T["dense"] = Lo.dense_loss(proj(Xd), b.dense_xy, b.dense_w, sig)
        kp3 = torch.matmul(self.kp_reg, Xs[:, self.kp_slice])
        if weights.get("keypoints", 0):
            T["keypoints"] = Lo.keypoint_loss(proj(kp3), b.kp, sig)
        if weights.get("keypoint_depth", 0) and self.has_depth:
            z = kp3[..., 2] - kp3[:, self.hips, 2].mean(1, keepdim=True)
            T["keypoint_depth"] = Lo.keypoint_depth_loss(z, b.kp_depth, b.kp_depth_w)
        if self.use_part and weights.get("part_dense", 0):
            T["part_dense"] = Lo.part_dense_loss(proj(Xs[:, self.part_slice]), self.cand_part, b.part_xy, b.part_id, b.part_w, sig)
        if self.use_sil and weights.get("silhouette", 0):
            P_sil = proj(Xs[:, self.sil_slice])
            px = P_sil * b.size[:, None, None] + b.centre[:, None]
            grid = px / b.mask_hw.flip(1)[:, None] * 2 - 1
            # the body inside the mask (robust: an occluder cuts the mask, and what it hides must not be pulled out)
            # and the mask covered by the body (which keeps it from shrinking inside the mask)
            inside = Lo.silhouette_loss(grid, b.mask_dist, robust_sigma=self.cfg.silhouette_sigma)
            T["silhouette"] = (inside + Lo.coverage_loss(P_sil, b.mask_xy, b.mask_w, sig, self.cov_near)) * b.has_mask
        if weights.get("scale_smooth", 0):
            T["scale_smooth"] = Lo.scale_smoothness_loss(self.log_sc, self.parents)
        if weights.get("scale_prior", 0):
            T["scale_prior"] = Lo.scale_prior_loss(self.log_sc)
        local = lim.world_to_local_aa(pose, self.frames)
        if weights.get("pose_prior", 0):
            T["pose_prior"] = Lo.pose_prior_loss(local[:, 1:], self.prior_w)
        if weights.get("joint_smooth", 0):
            T["joint_smooth"] = Lo.joint_smoothness_loss(pose, self.chains)
        if weights.get("joint_limits", 0):
            T["joint_limits"] = Lo.joint_limit_loss(local[:, 1:], self.lo[1:], self.hi[1:])
        if weights.get("determinant", 0):
            T["determinant"] = Lo.determinant_loss(self.rot9)
        return T

    def cam_scale(self) -> torch.Tensor:
        """(B, 3) camera with the scale exponentiated: s, tx, ty (normalised units)."""
        return torch.cat([self.cam[:, :1].exp(), self.cam[:, 1:]], 1)


def pose_prior_weights(twist: float, collar: float) -> np.ndarray:
    """(24, 3) weights of the pose prior in the joint-local frames (x, y = twist, z)."""
    w = np.ones((24, 3))
    w[:, 1] = twist
    for n in ("left_collar", "right_collar"):
        w[sk.joint_index(n)] *= collar
    return w


def _leaf(x: torch.Tensor, device, dtype) -> torch.Tensor:
    return x.detach().to(device=device, dtype=dtype).clone().requires_grad_(True)


def _total(T: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[k] * v for k, v in T.items())


# Tuned on 50 held-out anny bodies, setting (a), 300 iterations (session 3): full-stage lr 0.03 -> 0.06, stiff stage
# 20 % -> 10 %, scales 0.3 -> 1.0 took PA-MPJPE 22.8 -> 18.9 mm, PVE 41.7 -> 34.8 mm.
# Session 6, on 200 bodies of another seed than the benchmark's (777, not 1234), 300 iterations, PA-MPJPE in mm
# (a) / (b) / (c): Adam's beta2 0.999 -> 0.8 took 17.5 / 24.9 / 48.4 -> 16.4 / 25.8 / 38.7 (0.95: 16.5 / - / 40.6,
# 0.6: 16.9 / 25.4 / 40.1); keypoints and mask only (no dense points): 71.0 -> 72.7, no gain. Tried and not kept: higher full-stage learning rates (0.09 and 0.15: worse), stronger
# priors early then relaxed (worse), tied left/right segment scales (c worse), more weight on the scale prior.
_LR_SCALE = {"rotation": 1.0, "camera": 0.5, "perspective": 1.0, "pose": 1.0, "scales": 1.0}


RIGID_FREE = {"rotation", "camera", "perspective"}

SMOOTHNESS_TERMS = ("scale_smooth", "joint_smooth", "joint_limits", "pose_prior", "scale_prior")


def ablation_configs(base: RegistrationConfig) -> dict[str, RegistrationConfig]:
    """The paper's Fig. 7 ablations: registration without one ingredient at a time."""
    return {
        "full": base,
        "without dense correspondences": base.without("dense", "part_dense"),
        "without smoothness and limit terms": base.without(*SMOOTHNESS_TERMS),
        "without the stiff stage": base.without_stiff_stage(),
    }


def _cosine(it: int, n: int) -> float:
    """1 -> 0 along a half cosine over iterations 0 .. n - 1."""
    return 0.5 * (1 + math.cos(math.pi * it / max(n - 1, 1)))


def robust_scale(cfg: RegistrationConfig, stage: Stage, it: int) -> float | None:
    """The 2D residuals' Geman-McClure scale at iteration ``it`` of ``stage``: ``cfg.robust_sigma``
    throughout a rigid stage (or without ``robust_sigma_end``), else a cosine from it down to
    ``cfg.robust_sigma_end`` at the stage's last iteration."""
    s0, s1 = cfg.robust_sigma, cfg.robust_sigma_end
    if s0 is None or s1 is None or set(stage.free) <= RIGID_FREE:
        return s0
    return s1 + (s0 - s1) * _cosine(it, stage.iters)


def run_stage(prob: _Problem, stage: Stage, cfg: RegistrationConfig, history: dict[str, list], active: torch.Tensor) -> torch.Tensor:
    """Adam on the stage's free parameter columns (cosine-decayed learning rate); samples stop on
    their own. Returns the final per-sample weighted loss."""
    th = prob.theta
    prob.hold_body(set(stage.free) <= RIGID_FREE)
    m_adam, v_adam = torch.zeros_like(th), torch.zeros_like(th)
    lr0 = prob.lr_columns(stage)
    best = torch.full((active.shape[0],), float("inf"), device=prob.dev)
    since = torch.zeros(active.shape[0], dtype=torch.int64, device=prob.dev)
    run = active.clone()
    loss_b = best
    mean_w = active.to(th.dtype) / active.to(th.dtype).sum().clamp_min(1)
    rows: list[torch.Tensor] = []
    names: list[str] = []
    for it in range(stage.iters):
        decay = stage.lr_end + (1 - stage.lr_end) * _cosine(it, stage.iters)
        if prob.sigma is not None:
            prob.sigma.fill_(robust_scale(cfg, stage, it))
        th.grad = None
        if it % cfg.coverage_every == 0 and stage.weights.get("silhouette", 0):
            prob.refresh_coverage()
        T = prob.terms_fn(stage.weights)
        loss_b = _total(T, stage.weights)
        move = run & torch.isfinite(loss_b)
        torch.where(move, loss_b, torch.zeros_like(loss_b)).sum().backward()
        with torch.no_grad():
            grad = th.grad.nan_to_num_(0.0, 0.0, 0.0)
            adam_step(th, grad, m_adam, v_adam, it + 1, lr0 * decay, move, betas=cfg.adam_betas)
            improved = loss_b < best * (1 - cfg.tol)
            best = torch.where(improved, loss_b, best)
            since = torch.where(improved, torch.zeros_like(since), since + 1)
            run = run & (since < cfg.patience)
            rows.append(torch.cat([torch.stack([*T.values(), loss_b.nan_to_num(0)]) @ mean_w, run.sum()[None].to(th.dtype)]))
        if it % 10 == 9 and not run.any():
            break
    names = list(T) + ["total", "active"] if stage.iters else []
    prob.hold_body(False)
    if rows:
        table = torch.stack(rows).cpu().numpy()
        for j, k in enumerate(names):
            history.setdefault(k, []).extend(table[:, j].tolist())
    return loss_b.detach()


def _fit_chunk(body, samples, cfg: RegistrationConfig, device, init, densepose_map, history):
    batch = prepare_batch(body, samples, cfg, densepose_map)
    if init is not None and "camera" in init:  # pixels -> each sample's normalised frame
        cam = init.pop("camera")
        init["camera_normalised"] = torch.stack([torch.log(cam[:, 0].clamp_min(1e-6) / batch.size), (cam[:, 1] - batch.centre[:, 0]) / batch.size,
                                                 (cam[:, 2] - batch.centre[:, 1]) / batch.size], 1)  # fmt: skip
    valid = torch.tensor([s == "ok" for s in batch.status], device=device)
    B = len(samples)
    K = max(cfg.yaw_hypotheses, 1)
    stages = list(cfg.stages)
    first = 0
    if K > 1 and stages and set(stages[0].free) <= {"rotation", "camera"}:
        # several headings for the rigid stage, keep the best per sample; from given parameters
        # (e.g. the regressor's), the headings turn the given rotation and keep its pose and shape
        rep = _repeat_batch(batch, K)
        yaws = torch.arange(K, dtype=torch.float32) * (2 * math.pi / K)
        Ry = torch.stack([rot.axis_angle_to_matrix(torch.tensor([0.0, float(a), 0.0])) for a in yaws])  # (K, 3, 3)
        base = init["rotation"].float() if init is not None else FACING_CAMERA.expand(B, 3, 3)
        R0 = (base[None] @ Ry[:, None]).reshape(K * B, 3, 3)
        start = {"rotation": R0}
        if init is not None:
            start.update({k: init[k].repeat(K, *([1] * (init[k].dim() - 1))) for k in ("pose", "segment_scales", "camera_normalised") if k in init})
        prob = _Problem(body, rep, cfg, device, start)
        loss = run_stage(prob, stages[0], cfg, history, valid.repeat(K))
        best_k = loss.nan_to_num(float("inf")).reshape(K, B).argmin(0)
        keep = best_k * B + torch.arange(B, device=device)
        prob_full = _Problem(body, batch, cfg, device, None)
        prob_full.theta.data = prob.theta.data[keep].clone()
        prob = prob_full
        first = 1
    else:
        prob = _Problem(body, batch, cfg, device, init)
    iters = torch.zeros(B, dtype=torch.int64)
    for st in stages[first:]:
        n0 = len(history.get("total", []))
        run_stage(prob, st, cfg, history, valid)
        iters += len(history.get("total", [])) - n0
    with torch.no_grad():
        w_last = stages[-1].weights
        T = prob.terms(w_last)
        total = _total(T, w_last)
        pose = prob.full_pose
        R = rot.nine_to_matrix(prob.rot9)
        sc = prob.log_sc.exp()
        full = body(pose, segment_scales=sc, rotation=R)
        s_n = prob.cam[:, 0].exp()
        size, centre = prob.b.size, prob.b.centre
        cam = torch.stack([s_n * size, prob.cam[:, 1] * size + centre[:, 0], prob.cam[:, 2] * size + centre[:, 1]], 1)
        persp = torch.cat([prob.kappa[:, None], prob.b.principal * size[:, None] + centre], 1)
    status = np.array(batch.status, dtype=object)
    finite = torch.isfinite(full.vertices).all(2).all(1) & torch.isfinite(total) & torch.isfinite(cam).all(1)
    for i in range(B):
        if status[i] == "ok" and not bool(finite[i]):
            status[i] = "diverged (non-finite fit)"
    bad = torch.as_tensor(status != "ok", device=device)
    # failed samples report the rest template, never NaN
    rest = body(torch.zeros(1, 24, 3, device=device, dtype=pose.dtype))
    verts = torch.where(bad[:, None, None], rest.vertices.expand(B, -1, -1), full.vertices)
    joints = torch.where(bad[:, None, None], rest.joints.expand(B, -1, -1), full.joints)
    pose = torch.where(bad[:, None, None], torch.zeros_like(pose), pose)
    sc = torch.where(bad[:, None, None], torch.ones_like(sc), sc)
    R = torch.where(bad[:, None, None], FACING_CAMERA.to(R), R)
    cam = torch.where(bad[:, None], torch.zeros_like(cam), cam)
    persp = torch.where(bad[:, None], torch.zeros_like(persp), persp)
    losses = {k: torch.where(bad, torch.full_like(v, float("nan")), v).cpu() for k, v in T.items()}
    losses["total"] = torch.where(bad, torch.full_like(total, float("nan")), total).cpu()
    return FitResult(pose.cpu(), sc.cpu(), R.cpu(), cam.cpu(), verts.cpu(), joints.cpu(), losses, status.astype(str),
                     [str(s.get("sample_id", i)) for i, s in enumerate(samples)], iterations=iters.numpy(), perspective=persp.cpu())  # fmt: skip


def _repeat_batch(b: Batch, K: int) -> Batch:
    kw = {}
    for f in fields(b):
        v = getattr(b, f.name)
        if isinstance(v, torch.Tensor):
            kw[f.name] = v.repeat(K, *([1] * (v.dim() - 1)))
        elif isinstance(v, list):
            kw[f.name] = v * K
        else:
            kw[f.name] = v
    return Batch(**kw)


def register(body, samples: list[dict], cfg: RegistrationConfig | None = None, init: FitResult | dict | None = None,
             densepose_map=None, progress: bool = False) -> FitResult:  # fmt: skip
    """Fit the template to every sample (defaults = notebook 03's). Samples that cannot be
    fitted get a status saying why; they never affect the others, and no output is NaN.

    ``init``: start from given parameters (a FitResult or dict with pose, segment_scales,
    rotation and camera in pixels), e.g. the regressor's prediction; otherwise the rest pose.
    """
    import time

    from tqdm.auto import tqdm

    cfg = cfg or RegistrationConfig()
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    body_d = body.on(device)
    torch.manual_seed(cfg.seed)
    t0 = time.perf_counter()
    parts, history = [], {}
    n = len(samples)
    bar = tqdm(total=n, desc="registration", unit="fit", disable=not progress)
    for a in range(0, n, cfg.chunk_size):
        chunk = samples[a : a + cfg.chunk_size]
        ini = _slice_init(init, a, a + len(chunk)) if init is not None else None
        h: dict[str, list] = {}
        parts.append(_fit_chunk(body_d, chunk, cfg, device, ini, densepose_map, h))
        if not history:
            history = h
        bar.update(len(chunk))
    bar.close()
    res = _concat(parts)
    res.history = {k: np.asarray(v) for k, v in history.items()}
    res.seconds = time.perf_counter() - t0
    return res


def _slice_init(init, a, b) -> dict:
    get = (lambda k: getattr(init, k)[a:b]) if isinstance(init, FitResult) else (lambda k: torch.as_tensor(init[k])[a:b])
    return {k: get(k).float() for k in ("pose", "segment_scales", "rotation", "camera")}


def _concat(parts: list[FitResult]) -> FitResult:
    if len(parts) == 1:
        return parts[0]
    cat = lambda k: torch.cat([getattr(p, k) for p in parts])  # noqa: E731
    keys = set().union(*[p.losses for p in parts])
    losses = {k: torch.cat([p.losses.get(k, torch.full((len(p),), float("nan"))) for p in parts]) for k in keys}
    return FitResult(cat("pose"), cat("segment_scales"), cat("rotation"), cat("camera"), cat("vertices"), cat("joints"), losses,
                     np.concatenate([p.status for p in parts]), sum((p.sample_ids for p in parts), []),
                     iterations=np.concatenate([p.iterations for p in parts]),
                     perspective=None if any(p.perspective is None for p in parts) else cat("perspective"))  # fmt: skip


# ---------------------------------------------------------------------------------------
# fits on disk


def save_fits(path: Path, fits: FitResult, meshes: bool = True) -> Path:
    """One .npz with the fit schema (pose, segment_scales, rotation, camera, vertices, joints,
    per-term losses ``loss_<term>``, status, sample_id; ``perspective`` (N, 3) kappa, cx, cy
    when the fit has one), written atomically. ``meshes=False``
    leaves out vertices and joints (a round's internal files: ``load_fits(..., body=)`` skins
    them again from the parameters)."""
    from dalnb.io import atomic_write_npz

    arr = {"pose": fits.pose.numpy(), "segment_scales": fits.segment_scales.numpy(), "rotation": fits.rotation.numpy(),
           "camera": fits.camera.numpy(), "status": np.asarray(fits.status, dtype=str), "sample_id": np.asarray(fits.sample_ids, dtype=str),
           "iterations": fits.iterations if fits.iterations is not None else np.zeros(len(fits), np.int64)}  # fmt: skip
    if meshes:
        arr["vertices"], arr["joints"] = fits.vertices.numpy().astype(np.float32), fits.joints.numpy()
    if fits.perspective is not None:
        arr["perspective"] = fits.perspective.numpy()
    for k, v in fits.losses.items():
        arr[f"loss_{k}"] = v.numpy()
    for k, v in arr.items():
        if v.dtype.kind == "f" and not np.isfinite(v).all() and not k.startswith("loss_"):
            raise ValueError(f"{path}: refusing to write non-finite {k}")
    return atomic_write_npz(path, arr)


@torch.no_grad()
def skin_parameters(body, pose: torch.Tensor, segment_scales: torch.Tensor, rotation: torch.Tensor, batch: int = 1024):
    """Full meshes (N, V, 3) and joints (N, 24, 3) of fit parameters, ``batch`` at a time."""
    outs = [body(pose[a : a + batch].float(), segment_scales=segment_scales[a : a + batch].float(), rotation=rotation[a : a + batch].float())
            for a in range(0, len(pose), batch)]  # fmt: skip
    return torch.cat([o.vertices for o in outs]), torch.cat([o.joints for o in outs])


def load_fits(folder: str | Path, body=None) -> FitResult:
    """Fits from one .npz or every ``fits_*.npz`` of a folder; files saved without meshes need
    ``body`` to skin them again."""
    files = sorted(Path(folder).glob("fits_*.npz")) if Path(folder).is_dir() else [Path(folder)]
    if not files:
        raise FileNotFoundError(f"{folder}: no fits_*.npz files")
    parts = []
    for f in files:
        with np.load(f) as z:
            t = lambda k: torch.as_tensor(z[k])  # noqa: E731,B023
            losses = {k[5:]: t(k) for k in z.files if k.startswith("loss_")}
            if "vertices" in z.files:
                V, J = t("vertices"), t("joints")
            elif body is None:
                raise ValueError(f"{f}: saved without meshes; pass body= to skin them from the parameters")
            else:
                V, J = skin_parameters(body, t("pose"), t("segment_scales"), t("rotation"))
            parts.append(FitResult(t("pose"), t("segment_scales"), t("rotation"), t("camera"), V, J, losses,
                                   z["status"], list(z["sample_id"]), iterations=z["iterations"],
                                   perspective=t("perspective") if "perspective" in z.files else None))  # fmt: skip
    return _concat(parts)


#: The two kinds of annotation a depth prior meets: images with dense correspondences (DensePose-COCO, our
#: renders) and images with 2D keypoints only (MPII, LSP, COCO keypoints, MediaPipe on a photo).
REGIMES = ("dense", "keypoints_only")
_DENSE_KEYS = ("dense_xy", "dense_iuv", "dense_vertex", "dense_uv_space", "dense_outlier", "dense_swapped")


def depth_regime(sample: dict) -> str:
    """'dense' when the sample has dense correspondences, else 'keypoints_only'."""
    return "dense" if len(sample.get("dense_xy", [])) else "keypoints_only"


def without_dense(sample: dict) -> dict:
    """The sample as a keypoint-only annotation: its dense correspondences removed (keypoints, a
    person mask if it has one, and everything else kept)."""
    return {k: v for k, v in sample.items() if k not in _DENSE_KEYS}


def register_folder(body, samples_dir: str | Path, fits_dir: str | Path, cfg: RegistrationConfig | None = None,
                    progress: bool = True, depths_file: str | Path | None = None, depth_regimes: tuple[str, ...] = REGIMES) -> FitResult:  # fmt: skip
    """Register every sample shard of a folder into ``fits_dir/fits_<shard>.npz``; resumes by
    skipping shards already fitted. ``depths_file``: per-keypoint depths by sample_id (the
    lifter's, notebook 02) used as the soft depth prior on the samples of ``depth_regimes``
    (:func:`lifted_depth_regimes` reads notebook 03's measured choice). Under ``torchrun`` (RANK / WORLD_SIZE set) each process
    takes every WORLD_SIZE-th shard, on its own GPU when there are several; rank 0 waits for
    the others (a gloo/nccl barrier) and returns all fits."""
    from tqdm.auto import tqdm

    from dalnb.data.store import read_shard

    samples_dir, fits_dir = Path(samples_dir), Path(fits_dir)
    shards = sorted(samples_dir.rglob("*.npz"))
    if not shards:
        raise FileNotFoundError(f"{samples_dir}: no sample files")
    import os

    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count()
            cfg = replace(cfg or RegistrationConfig(), device=f"cuda:{local}")
    mine = shards[rank::world]
    for sh in tqdm(mine, desc=f"registration (rank {rank}/{world})", unit="shard", disable=not progress):
        out = fits_dir / f"fits_{sh.stem}.npz"
        if out.exists():
            continue
        samples = read_shard(sh)
        if depths_file is not None:
            samples = attach_lifted_depths(samples, depths_file, depth_regimes)
        save_fits(out, register(body, samples, cfg))
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    return load_fits(fits_dir)


@dataclass(frozen=True)
class RegimeCheck:
    """One regime's registration of the same held-out bodies without and with the lifted depths."""

    pa_mpjpe_2d_only: float
    pa_mpjpe_lifted: float

    @property
    def use_lifted(self) -> bool:
        return self.pa_mpjpe_lifted < self.pa_mpjpe_2d_only


@dataclass(frozen=True)
class DepthPriorCheck:
    """Whether a lifter's depths make registration better, measured on held-out samples with
    ground truth in each regime (:data:`REGIMES`): the samples as they are (dense correspondences
    and keypoints) and the same samples with keypoints only (PA-MPJPE, mm)."""

    regimes: dict[str, RegimeCheck]
    n: int

    def use_lifted(self, regime: str) -> bool:
        return self.regimes[regime].use_lifted

    @property
    def helped(self) -> tuple[str, ...]:
        """The regimes where the lifted depths made registration more accurate."""
        return tuple(r for r, c in self.regimes.items() if c.use_lifted)

    def to_dict(self) -> dict:
        return {"n": self.n, "regimes": {r: {"pa_mpjpe_2d_only_mm": c.pa_mpjpe_2d_only, "pa_mpjpe_lifted_mm": c.pa_mpjpe_lifted,
                                             "use_lifted": c.use_lifted} for r, c in self.regimes.items()}}  # fmt: skip


DEPTH_PRIOR_FILE = "depth_prior.json"


def check_depth_prior(body, samples: list[dict], depths_file: str | Path, cfg: RegistrationConfig | None = None,
                      save_to: str | Path | None = None) -> DepthPriorCheck:  # fmt: skip
    """Register held-out ``samples`` (ground truth ``joints3d`` needed; never shown to the fit)
    2D-only and with the lifter's depths from ``depths_file``, once as they are and once with
    keypoints only (:func:`without_dense`); ``save_to``: a folder that gets ``depth_prior.json``
    (read back by :func:`use_lifted_depths`)."""
    from dalnb.data.store import attach_depths
    from dalnb.io import atomic_write_json
    from dalnb.metrics import evaluate

    if not samples or any("joints3d" not in s for s in samples):
        raise ValueError("check_depth_prior needs held-out samples with ground-truth 'joints3d'")
    plain = [{k: v for k, v in s.items() if k not in ("keypoints_depth", "keypoints_depth_mask")} for s in samples]
    regimes = {}
    for regime, ss in (("dense", plain), ("keypoints_only", [without_dense(s) for s in plain])):
        r2d = evaluate(body, register(body, ss, cfg), ss)["pa_mpjpe_mm"]
        rl = evaluate(body, register(body, attach_depths(ss, depths_file), cfg), ss)["pa_mpjpe_mm"]
        regimes[regime] = RegimeCheck(r2d, rl)
    check = DepthPriorCheck(regimes, len(samples))
    if save_to is not None:
        atomic_write_json(Path(save_to) / DEPTH_PRIOR_FILE, check.to_dict())
    return check


def _saved_regimes(folder: str | Path) -> dict | None:
    """The per-regime decisions saved by :func:`check_depth_prior` in ``folder`` (None when none was saved)."""
    import json

    path = Path(folder) / DEPTH_PRIOR_FILE
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())["regimes"]
        return {r: bool(saved[r]["use_lifted"]) for r in REGIMES}
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a depth-prior check ({type(e).__name__}: {e})") from e


def use_lifted_depths(folder: str | Path, regime: str = "dense") -> bool:
    """The decision saved by :func:`check_depth_prior` in ``folder`` for ``regime``; True (the
    paper's setting) when no check was saved."""
    if regime not in REGIMES:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    saved = _saved_regimes(folder)
    return True if saved is None else saved[regime]


def lifted_depth_regimes(folder: str | Path) -> tuple[str, ...]:
    """The regimes whose samples get the lifted depths, by the check saved in ``folder`` (all when none was saved)."""
    saved = _saved_regimes(folder)
    return REGIMES if saved is None else tuple(r for r in REGIMES if saved[r])


def attach_lifted_depths(samples: list[dict], depths_file: str | Path, regimes: tuple[str, ...] = REGIMES) -> list[dict]:
    """``keypoints_depth`` from ``depths_file`` (by sample_id) on the samples whose
    :func:`depth_regime` is in ``regimes``; the others are returned unchanged."""
    from dalnb.data.store import attach_depths

    bad = set(regimes) - set(REGIMES)
    if bad:
        raise ValueError(f"regimes: expected a subset of {REGIMES}, got {sorted(bad)}")
    idx = [i for i, s in enumerate(samples) if depth_regime(s) in regimes]
    out = list(samples)
    for i, s in zip(idx, attach_depths([samples[i] for i in idx], depths_file)):
        out[i] = s
    return out
