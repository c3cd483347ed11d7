"""Retargeting a ``Motion`` to our skeleton by joint name, on world rotations:

1. align the capture's rest frame with ours (left-right from the hips, up from the spine), G;
2. each of our segments follows its named capture joint: Rw_ours = G Rw_cap G^T Q, where Q is
   the shortest rotation taking our rest bone direction onto the capture's (T-pose vs A-pose);
3. segments without a capture joint move rigidly with their parent; local = Rw_parent^T Rw.
"""

from __future__ import annotations

import numpy as np

from dalnb.body import skeleton as sk
from dalnb.data.mocap.motion import MocapFormatError, Motion

# -- retargeting -------------------------------------------------------------------------
#: our segment -> capture joint, per naming convention (CMU MotionBuilder-friendly BVH,
#: 3dsMax-friendly BVH, original ASF). Picked by how many names a motion has.
NAME_MAPS: dict[str, dict[str, str]] = {
    "cmu_mobu": {
        "pelvis": "Hips",
        "spine1": "LowerBack",
        "spine2": "Spine",
        "spine3": "Spine1",
        "neck": "Neck",
        "head": "Head",
        "left_hip": "LeftUpLeg",
        "left_knee": "LeftLeg",
        "left_ankle": "LeftFoot",
        "left_foot": "LeftToeBase",
        "left_collar": "LeftShoulder",
        "left_shoulder": "LeftArm",
        "left_elbow": "LeftForeArm",
        "left_wrist": "LeftHand",
        "left_hand": "LeftFingerBase",
    },
    "cmu_max": {
        "pelvis": "Hips",
        "spine1": "lowerback",
        "spine2": "Chest",
        "spine3": "Chest2",
        "neck": "lowerneck",
        "head": "Head",
        "left_hip": "LeftHip",
        "left_knee": "LeftKnee",
        "left_ankle": "LeftAnkle",
        "left_foot": "LeftToe",
        "left_collar": "LeftCollar",
        "left_shoulder": "LeftShoulder",
        "left_elbow": "LeftElbow",
        "left_wrist": "LeftWrist",
        "left_hand": "lhand",
    },
    "cmu_asf": {
        "pelvis": "root",
        "spine1": "lowerback",
        "spine2": "upperback",
        "spine3": "thorax",
        "neck": "lowerneck",
        "head": "head",
        "left_hip": "lfemur",
        "left_knee": "ltibia",
        "left_ankle": "lfoot",
        "left_foot": "ltoes",
        "left_collar": "lclavicle",
        "left_shoulder": "lhumerus",
        "left_elbow": "lradius",
        "left_wrist": "lwrist",
        "left_hand": "lhand",
    },
}


def _mirror(m: dict[str, str]) -> dict[str, str]:
    out = dict(m)
    for ours, theirs in m.items():
        if ours.startswith("left_"):
            r = theirs.replace("Left", "Right").replace("LHip", "RHip")
            if r == theirs:  # lower-case l-prefix names (ASF, some max names)
                r = "r" + theirs[1:] if theirs.startswith("l") else theirs
            out["right_" + ours[5:]] = r
    return out


NAME_MAPS = {k: _mirror(v) for k, v in NAME_MAPS.items()}


def pick_name_map(names: list[str]) -> dict[str, str]:
    best = max(NAME_MAPS.values(), key=lambda m: sum(v in names for v in m.values()))
    hit = {k: v for k, v in best.items() if v in names}
    if len(hit) < 12:
        raise MocapFormatError(
            f"cannot map this skeleton to ours by name: only {len(hit)} of 24 segments found; names: {names[:12]}..."
        )
    return hit


def _shortest_arc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation taking unit a onto unit b (3,3)."""
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-8:  # opposite: rotate by pi about any perpendicular axis
        axis = np.cross(a, [1.0, 0, 0]) if abs(a[0]) < 0.9 else np.cross(a, [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def retarget(
    motion: Motion, rest_joints: np.ndarray, segment_axes: np.ndarray, frames: slice | np.ndarray | None = None
) -> np.ndarray:
    """(T, 24, 3) axis-angle poses for our skeleton (root = global orientation in our frame).

    ``rest_joints`` (24, 3) and ``segment_axes`` (24, 3) are the template's (``body.data``).
    """
    from scipy.spatial.transform import Rotation

    m = pick_name_map(motion.names)
    idx = {ours: motion.names.index(theirs) for ours, theirs in m.items()}
    W = motion.world_rotations()
    if frames is not None:
        W = W[frames]
    T = W.shape[0]
    # 1. global alignment from the rest pose: left-right from the hips, up from pelvis to neck
    P = motion.rest_positions
    lat = P[idx["left_hip"]] - P[idx["right_hip"]]
    up = P[idx.get("neck", idx["spine3"])] - P[idx["pelvis"]]
    ex = lat / np.linalg.norm(lat)
    ey = up - (up @ ex) * ex
    ey /= np.linalg.norm(ey)
    F = np.stack([ex, ey, np.cross(ex, ey)])  # rows: capture directions of our x, y, z
    G = F  # maps capture coordinates to ours
    S = len(sk.JOINT_NAMES)
    Rw = np.empty((T, S, 3, 3))
    for s, name in enumerate(sk.JOINT_NAMES):
        p = sk.PARENTS[s]
        if name not in idx:
            Rw[:, s] = Rw[:, p] if p >= 0 else np.eye(3)
            continue
        j = idx[name]
        Wj = G @ W[:, j] @ G.T
        d_cap = motion.bone_dirs[j]
        if name == "pelvis" or np.isnan(d_cap).any():
            Q = np.eye(3)
        else:
            Q = _shortest_arc(segment_axes[s], G @ d_cap)
        Rw[:, s] = Wj @ Q
    # 4. shortest arcs leave each bone's twist arbitrary (a capture's T-pose palms vs our
    # A-pose): keep every joint's twist inside its limits, passing the excess down the chain
    _hinge_twists(Rw, segment_axes)
    _limit_twists(Rw, segment_axes)
    local = np.empty_like(Rw)
    for s in range(S):
        p = sk.PARENTS[s]
        local[:, s] = Rw[:, s] if p < 0 else np.swapaxes(Rw[:, p], -1, -2) @ Rw[:, s]
    aa = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(T, S, 3)
    return aa.astype(np.float32)


#: hinge joints: (segment whose twist is set, hinge child, sign of flexion about the child's x axis)
HINGES = (
    ("left_shoulder", "left_elbow", 1.0),
    ("right_shoulder", "right_elbow", 1.0),
    ("left_hip", "left_knee", -1.0),
    ("right_hip", "right_knee", -1.0),
)


def _hinge_twists(Rw: np.ndarray, segment_axes: np.ndarray, full_bend: float = 0.35) -> None:
    """In place: twist each upper arm (thigh) about its own bone so that the elbow (knee) bend
    lies in the hinge's plane, as inverse kinematics does; a nearly straight limb keeps its
    twist (the weight grows with sin of the bend angle up to ``full_bend``)."""
    from scipy.spatial.transform import Rotation

    from dalnb.body.limits import joint_frames

    F = joint_frames(segment_axes)
    for upper, lower, sign in HINGES:
        s, c = sk.joint_index(upper), sk.joint_index(lower)
        u = Rw[:, s] @ segment_axes[s]  # (T, 3) world bone directions
        f = Rw[:, c] @ segment_axes[c]
        n = sign * np.cross(u, f)  # the hinge axis the bend asks for
        strength = np.clip(np.linalg.norm(n, axis=1) / full_bend, 0, 1)
        hinge = Rw[:, s] @ F[c][:, 0]  # where the child's flexion axis lies now
        hp = hinge - (hinge * u).sum(1, keepdims=True) * u
        npp = n - (n * u).sum(1, keepdims=True) * u
        phi = np.arctan2((np.cross(hp, npp) * u).sum(1), (hp * npp).sum(1)) * strength
        twist = Rotation.from_rotvec(np.outer(phi, F[s][:, 1])).as_matrix()  # about the rest bone axis
        Rw[:, s] = Rw[:, s] @ twist


def _limit_twists(Rw: np.ndarray, segment_axes: np.ndarray) -> None:
    """In place on world rotations (T, S, 3, 3): swing-twist split of each joint's local
    rotation about its bone axis; the twist beyond the joint's limits is removed from the
    segment (its bone direction does not change) and so passes to its children."""
    from scipy.spatial.transform import Rotation

    from dalnb.body.limits import joint_frames, limit_bounds

    F = joint_frames(segment_axes)
    lo, hi = limit_bounds()
    for s in range(1, len(sk.JOINT_NAMES)):
        p = sk.PARENTS[s]
        local = np.swapaxes(Rw[:, p], -1, -2) @ Rw[:, s]
        q = Rotation.from_matrix(F[s].T @ local @ F[s]).as_quat()  # xyzw in the joint frame
        twist = 2 * np.arctan2(q[:, 1], q[:, 3])
        twist = (twist + np.pi) % (2 * np.pi) - np.pi
        excess = twist - np.clip(twist, lo[s, 1], hi[s, 1])
        if not np.any(excess):
            continue
        undo = Rotation.from_rotvec(np.outer(-excess, F[s][:, 1])).as_matrix()  # about the rest bone axis
        Rw[:, s] = Rw[:, s] @ undo
