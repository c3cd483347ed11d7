"""One registration problem: the parameter rows of a batch, the skin bases of the points it fits,
and its loss terms.

Free parameters per sample, one row of a (B, 130) tensor (``PARAM_SLICES``): the global
rotation as 9 numbers (Gram-Schmidt), a weak-perspective camera (log s, tx, ty), a perspective
strength kappa (1 / the camera's distance, 1/m), pose (23 non-root joints, axis-angle) and log
segment scales (S, 2). The rotated model projects with ``dalnb.body.camera.project``. Only the
vertices that carry correspondences, keypoints or silhouette samples are skinned in the loop,
through a skin basis precomputed once.
"""

from __future__ import annotations

import numpy as np
import torch

from dalnb import losses as Lo
from dalnb import rotations as rot
from dalnb.body import limits as lim
from dalnb.body import skeleton as sk
from dalnb.body.camera import FACING_CAMERA, project
from dalnb.body.skinning import pose_points, transform_stack
from dalnb.fitting.batch import Batch
from dalnb.fitting.config import RegistrationConfig, Stage
from dalnb.mesh_io import vertex_areas

#: Columns of the parameter rows.
PARAM_SLICES: dict[str, slice] = {
    "rotation": slice(0, 9),
    "camera": slice(9, 12),
    "perspective": slice(12, 13),
    "pose": slice(13, 82),
    "scales": slice(82, 130),
}


N_PARAMS = 130


# |kappa| <= 0.5 / m: the camera at least 2 m away; a negative kappa (unphysical) is allowed, as the bound is symmetric
MAX_PERSPECTIVE = 0.5


# the loop
def initial_parameters(body, batch: Batch, init: dict) -> torch.Tensor:
    """(B, N_PARAMS) the parameter rows a fit starts from: the given ``rotation``, ``camera_normalised``,
    ``kappa``, ``pose`` and ``segment_scales`` where given, else facing the camera in the rest pose
    and unit scales, the camera's scale from the visible keypoints' height (0.8 of the frame when
    fewer than four are visible)."""
    B = len(batch.status)
    kp = batch.kp
    vis = kp[..., 2] > 0
    ys = torch.where(vis, kp[..., 1], torch.nan)
    ext = (ys.nan_to_num(-1e9).amax(1) - ys.nan_to_num(1e9).amin(1)).clamp(min=0.3, max=2.0)
    ext = torch.where(vis.sum(1) >= 4, ext, torch.full_like(ext, 0.8))
    height = float(body.v_template[:, 1].max() - body.v_template[:, 1].min())
    s0 = ext / (0.85 * height)
    theta = torch.zeros(B, N_PARAMS)
    theta[:, PARAM_SLICES["rotation"]] = init.get("rotation", FACING_CAMERA.expand(B, 3, 3)).reshape(B, 9).float()
    cam0 = init.get("camera_normalised", torch.stack([torch.log(s0), torch.zeros(B), torch.zeros(B)], 1))
    theta[:, PARAM_SLICES["camera"]] = cam0.float()
    if "kappa" in init:
        theta[:, PARAM_SLICES["perspective"]] = init["kappa"].float().reshape(B, 1)
    if "pose" in init:
        theta[:, PARAM_SLICES["pose"]] = init["pose"][:, 1:].reshape(B, -1).float()
    if "segment_scales" in init:
        theta[:, PARAM_SLICES["scales"]] = torch.log(init["segment_scales"]).reshape(B, -1).float()
    return theta


class Problem:
    """Parameter rows of a batch, the skin bases of the points it fits and the loss terms."""

    def __init__(self, body, batch: Batch, cfg: RegistrationConfig, device, init: dict | None):
        self.body, self.batch, self.cfg, self.dev = body, batch, cfg, device
        self.rigid: tuple[torch.Tensor, torch.Tensor | None] | None = None  # body points held still (``hold_body``)
        dt = body.v_template.dtype
        self._skin_bases(torch.Generator().manual_seed(cfg.seed))
        self._constants(dt)
        self.theta = _leaf(initial_parameters(body, batch, init or {}), device, dt)
        self.b = batch.to(device)
        self.has_depth = bool(batch.kp_depth_w.sum() > 0)
        self.has_untilted = bool(batch.kp_depth_untilted.sum() > 0)
        if self.use_sil:
            self.cov_near = torch.zeros(self.b.mask_xy.shape[:2], dtype=torch.int64, device=self.dev)
        # the 2D residuals' Geman-McClure scale, a tensor so that run_stage can anneal it in place (and a compiled
        # loss reads it as an input)
        self.sigma = None if cfg.robust_sigma is None else torch.tensor(cfg.robust_sigma, dtype=dt, device=device)
        self.terms_fn = torch.compile(self.terms, dynamic=False) if cfg.compile else self.terms

    def _skin_bases(self, g: torch.Generator) -> None:
        """The skin bases of the points the batch fits: per sample its dense points; shared by all
        the keypoints' support, part candidates (points known by part only) and silhouette samples."""
        body, batch, cfg, device = self.body, self.batch, self.cfg, self.dev
        B, dt = len(batch.status), body.v_template.dtype
        reg = body.data.coco_regressor[: len(sk.COCO17)]
        kp_ids = np.unique(np.nonzero(reg)[1])
        self.kp_reg = torch.as_tensor(reg[:, kp_ids], dtype=dt, device=device)
        shared = [kp_ids]
        # samples with dense_vertex carry one-hot barycentrics: skin each point's vertex once (padding and
        # samples without dense points, weight 0, do not count)
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
            picks = [np.flatnonzero(body.parts == p) for p in range(1, 25)]
            picks = [ids[torch.randperm(len(ids), generator=g)[: cfg.part_candidates].numpy()] for ids in picks]
            cand = np.concatenate(picks)
            self.cand_part = torch.as_tensor(
                np.concatenate([np.full(len(c), p + 1) for p, c in enumerate(picks)]), device=device
            )
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

    def _constants(self, dt: torch.dtype) -> None:
        """The skeleton's constants the terms read: hips, parents, spine chains, joint limits and
        frames, the pose prior's weights."""
        body, cfg, device = self.body, self.cfg, self.dev
        self.hips = [sk.COCO17.index("left_hip"), sk.COCO17.index("right_hip")]
        self.parents = torch.as_tensor(body.parents, device=device)
        chain = [("spine1", "spine2"), ("spine2", "spine3"), ("neck", "head")]
        self.chains = torch.as_tensor([[sk.joint_index(a), sk.joint_index(b)] for a, b in chain], device=device)
        lo, hi = lim.limit_bounds()
        self.lo, self.hi = torch.as_tensor(lo, dtype=dt, device=device), torch.as_tensor(hi, dtype=dt, device=device)
        self.frames = torch.as_tensor(lim.joint_frames(body.data.segment_axes), dtype=dt, device=device)
        prior = pose_prior_weights(cfg.twist_prior, cfg.collar_prior)
        self.prior_w = torch.as_tensor(prior, dtype=dt, device=device)[1:]

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
        return pose_points(self.basis_shared, M), (
            pose_points(self.basis_dense, M, self.basis_dense_t) if self.has_dense else None
        )

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
            if self.has_untilted:  # depths known up to a global tilt (a lifter's): compare what is left of it
                res = Lo.untilted(z - b.kp_depth, kp3[..., :2], b.kp_depth_w)
                z = torch.where(b.kp_depth_untilted[:, None] > 0, b.kp_depth + res, z)
            T["keypoint_depth"] = Lo.keypoint_depth_loss(z, b.kp_depth, b.kp_depth_w)
        if self.use_part and weights.get("part_dense", 0):
            T["part_dense"] = Lo.part_dense_loss(
                proj(Xs[:, self.part_slice]), self.cand_part, b.part_xy, b.part_id, b.part_w, sig
            )
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


def total_loss(T: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[k] * v for k, v in T.items())


# per-parameter learning-rate factors (the camera's scale and shift move at half the rate)
_LR_SCALE = {"rotation": 1.0, "camera": 0.5, "perspective": 1.0, "pose": 1.0, "scales": 1.0}


RIGID_FREE = {"rotation", "camera", "perspective"}
