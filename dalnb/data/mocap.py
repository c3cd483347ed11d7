"""Motion capture: CMU BVH and ASF/AMC, retargeted to our skeleton by joint name.

Both formats become one ``Motion``: named joints with parents, each joint's rest bone
direction (world, unit; towards its main child, or its End Site), per-frame local rotations
and root positions. Retargeting (:func:`retarget`) then works on world rotations:

1. align the capture's rest frame with ours (left-right from the hips, up from the spine), G;
2. each of our segments follows its named capture joint: Rw_ours = G Rw_cap G^T Q, where Q is
   the shortest rotation taking our rest bone direction onto the capture's (T-pose vs A-pose);
3. segments without a capture joint move rigidly with their parent; local = Rw_parent^T Rw.

CMU data: "The data used in this project was obtained from mocap.cs.cmu.edu. The database was
created with funding from NSF EIA-0196217."
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dalnb.body import skeleton as sk

__all__ = ["Motion", "load_bvh", "load_asf_amc", "load_motion", "retarget", "NAME_MAPS"]


@dataclass
class Motion:
    names: list[str]
    parents: list[int]
    rest_positions: np.ndarray  # (J, 3) joint positions in the rest pose (capture units)
    bone_dirs: np.ndarray  # (J, 3) unit rest bone direction (NaN where undefined)
    local_rotations: np.ndarray  # (T, J, 3, 3)
    root_positions: np.ndarray  # (T, 3)
    fps: float
    source: str = ""

    @property
    def num_frames(self) -> int:
        return self.local_rotations.shape[0]

    def world_rotations(self) -> np.ndarray:
        """(T, J, 3, 3) world rotations (rest orientations are the identity in both formats)."""
        R = self.local_rotations
        W = np.empty_like(R)
        for j, p in enumerate(self.parents):
            W[:, j] = R[:, j] if p < 0 else W[:, p] @ R[:, j]
        return W


class MocapFormatError(ValueError):
    pass


def _euler(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(T, k) angles in degrees, axes order like 'ZXY' (applied as R = R_a1 R_a2 R_a3) -> (T,3,3)."""
    T = angles_deg.shape[0]
    R = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
    for k, ax in enumerate(order.upper()):
        R = R @ _axis_rot(ax, np.deg2rad(angles_deg[:, k]))
    return R


def _axis_rot(ax: str, a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    if ax == "X":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif ax == "Y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    elif ax == "Z":
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    else:
        raise MocapFormatError(f"unknown rotation axis {ax!r}")
    return np.stack([np.stack(r, -1) for r in m], -2)


# -- BVH ---------------------------------------------------------------------------------


def load_bvh(path: str | Path) -> Motion:
    """Read a BVH file (any channel order; CMU's cgspeed conversions included)."""
    path = Path(path)
    try:
        tokens = path.read_text(errors="replace").replace("\r", "\n").split()
    except OSError as e:
        raise MocapFormatError(f"{path}: cannot read ({e})") from e
    names, parents, offsets, channels, end_offsets = [], [], [], [], {}
    stack: list[int] = []
    i = 0

    def expect(tok):
        nonlocal i
        if i >= len(tokens) or tokens[i] != tok:
            got = tokens[i] if i < len(tokens) else "end of file"
            raise MocapFormatError(f"{path}: expected {tok!r} at token {i}, got {got!r}")
        i += 1

    if not tokens or tokens[0] != "HIERARCHY":
        raise MocapFormatError(f"{path}: not a BVH file (no HIERARCHY header)")
    i = 1
    last = -1
    try:
        while tokens[i] != "MOTION":
            t = tokens[i]
            if t in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                i += 2
                expect("{")
                expect("OFFSET")
                offsets.append([float(x) for x in tokens[i : i + 3]])
                i += 3
                expect("CHANNELS")
                n = int(tokens[i])
                channels.append(tokens[i + 1 : i + 1 + n])
                i += 1 + n
                stack.append(len(names) - 1)
            elif t == "End":
                i += 2
                expect("{")
                expect("OFFSET")
                end_offsets[stack[-1]] = [float(x) for x in tokens[i : i + 3]]
                i += 3
                expect("}")
                last = -1
            elif t == "}":
                last = stack.pop()
                i += 1
            else:
                raise MocapFormatError(f"{path}: unexpected token {t!r} in HIERARCHY")
        del last
        i += 1
        expect("Frames:")
        T = int(tokens[i])
        i += 1
        expect("Frame")
        expect("Time:")
        dt = float(tokens[i])
        i += 1
        nch = sum(len(c) for c in channels)
        data = np.asarray(tokens[i : i + T * nch], dtype=np.float64)
    except (IndexError, ValueError) as e:
        raise MocapFormatError(f"{path}: malformed BVH ({e})") from e
    if data.size != T * nch:
        raise MocapFormatError(f"{path}: expected {T} frames x {nch} channels, got {data.size} numbers (truncated?)")
    data = data.reshape(T, nch)
    J = len(names)
    offsets = np.asarray(offsets)
    rest = np.zeros((J, 3))
    for j, p in enumerate(parents):
        rest[j] = offsets[j] if p < 0 else rest[p] + offsets[j]
    R = np.empty((T, J, 3, 3))
    root = np.zeros((T, 3))
    col = 0
    for j, ch in enumerate(channels):
        vals = data[:, col : col + len(ch)]
        col += len(ch)
        rot = [(k, c[0]) for k, c in enumerate(ch) if c.lower().endswith("rotation")]
        pos = [(k, c[0]) for k, c in enumerate(ch) if c.lower().endswith("position")]
        R[:, j] = _euler(vals[:, [k for k, _ in rot]], "".join(a for _, a in rot)) if rot else np.eye(3)
        if parents[j] < 0:
            root = offsets[j] + (np.stack([vals[:, k] for k, a in sorted(pos, key=lambda x: x[1])], -1) if len(pos) == 3 else 0)
    dirs = _bone_dirs(rest, parents, {j: rest[j] + np.asarray(o) for j, o in end_offsets.items()})
    return Motion(names, parents, rest, dirs, R, np.broadcast_to(root, (T, 3)).copy(), 1.0 / dt, str(path))


def _bone_dirs(rest: np.ndarray, parents: list[int], end_sites: dict[int, np.ndarray]) -> np.ndarray:
    J = len(parents)
    dirs = np.full((J, 3), np.nan)
    for j in range(J):
        kids = [c for c in range(J) if parents[c] == j]
        # the main child is the farthest child (e.g. the spine over the hip joints for a root)
        tgt = None
        if kids:
            far = max(kids, key=lambda c: np.linalg.norm(rest[c] - rest[j]))
            tgt = rest[far]
        elif j in end_sites:
            tgt = end_sites[j]
        if tgt is not None and np.linalg.norm(tgt - rest[j]) > 1e-9:
            dirs[j] = (tgt - rest[j]) / np.linalg.norm(tgt - rest[j])
    return dirs


# -- ASF / AMC ---------------------------------------------------------------------------


def load_asf_amc(asf_path: str | Path, amc_path: str | Path, fps: float = 120.0) -> Motion:
    """Read a CMU ASF skeleton and an AMC motion (degrees)."""
    asf_path, amc_path = Path(asf_path), Path(amc_path)
    try:
        lines = [ln.strip() for ln in asf_path.read_text(errors="replace").splitlines()]
    except OSError as e:
        raise MocapFormatError(f"{asf_path}: cannot read ({e})") from e
    bones: dict[str, dict] = {}
    root_order, root_axis = "XYZ", "XYZ"
    hierarchy: dict[str, list[str]] = {}
    section, cur = None, None
    for ln in lines:
        if not ln or ln.startswith("#"):
            continue
        if ln.startswith(":"):
            section = ln.split()[0]
            continue
        parts = ln.split()
        if section == ":root":
            if parts[0] == "order":
                root_order = "".join(p[-1] for p in parts[1:] if p.upper().startswith("R"))
            elif parts[0] == "axis":
                root_axis = parts[1]
        elif section == ":bonedata":
            if parts[0] == "begin":
                cur = {"dof": []}
            elif parts[0] == "end" and cur is not None:
                bones[cur["name"]] = cur
                cur = None
            elif cur is not None:
                k = parts[0]
                if k == "name":
                    cur["name"] = parts[1]
                elif k == "direction":
                    cur["direction"] = np.array([float(x) for x in parts[1:4]])
                elif k == "length":
                    cur["length"] = float(parts[1])
                elif k == "axis":
                    cur["axis"] = (np.array([float(x) for x in parts[1:4]]), parts[4])
                elif k == "dof":
                    cur["dof"] = [p[-1].upper() for p in parts[1:]]
        elif section == ":hierarchy":
            if parts[0] in ("begin", "end"):
                continue
            hierarchy[parts[0]] = parts[1:]
    if not bones or "root" not in hierarchy:
        raise MocapFormatError(f"{asf_path}: not an ASF skeleton (no bonedata or no root in hierarchy)")
    names, parents = ["root"], [-1]
    queue = ["root"]
    while queue:
        b = queue.pop(0)
        for c in hierarchy.get(b, []):
            if c not in bones:
                raise MocapFormatError(f"{asf_path}: hierarchy names unknown bone {c!r}")
            names.append(c)
            parents.append(names.index(b))
            queue.append(c)
    J = len(names)
    C = np.stack([np.eye(3)] + [_euler(bones[n]["axis"][0][None], bones[n]["axis"][1])[0] for n in names[1:]])
    rest = np.zeros((J, 3))  # joint j sits at the start of bone j (the end of its parent bone)
    dirs = np.full((J, 3), np.nan)
    for j in range(1, J):
        p = parents[j]
        rest[j] = rest[p] + (bones[names[p]]["direction"] * bones[names[p]]["length"] if p > 0 else 0)
        dirs[j] = bones[names[j]]["direction"] / np.linalg.norm(bones[names[j]]["direction"])
    # frames
    try:
        amc = amc_path.read_text(errors="replace").splitlines()
    except OSError as e:
        raise MocapFormatError(f"{amc_path}: cannot read ({e})") from e
    frames: list[dict[str, list[float]]] = []
    for ln in amc:
        ln = ln.strip()
        if not ln or ln.startswith("#") or ln.startswith(":"):
            continue
        parts = ln.split()
        if len(parts) == 1 and parts[0].isdigit():
            frames.append({})
        elif frames:
            try:
                frames[-1][parts[0]] = [float(x) for x in parts[1:]]
            except ValueError as e:
                raise MocapFormatError(f"{amc_path}: frame {len(frames)}: bad numbers in {ln[:60]!r}") from e
    if not frames:
        raise MocapFormatError(f"{amc_path}: no frames")
    T = len(frames)
    R = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    root = np.zeros((T, 3))
    C_root = _euler(np.zeros((1, 3)), "XYZ")[0]
    del root_axis
    for t, fr in enumerate(frames):
        if "root" not in fr or len(fr["root"]) < 6:
            raise MocapFormatError(f"{amc_path}: frame {t + 1}: missing root values")
        root[t] = fr["root"][:3]
        R[t, 0] = C_root @ _euler(np.asarray(fr["root"][3:6])[None], root_order)[0]
        for j in range(1, J):
            dof = bones[names[j]]["dof"]
            if not dof or names[j] not in fr:
                continue
            vals = np.asarray(fr[names[j]])
            if len(vals) != len(dof):
                raise MocapFormatError(f"{amc_path}: frame {t + 1}: bone {names[j]} has {len(vals)} values, ASF says {len(dof)} dof")
            M = _euler(vals[None], "".join(dof))[0]
            R[t, j] = C[j] @ M @ C[j].T
    return Motion(names, parents, rest, dirs, R, root, fps, f"{asf_path}+{amc_path.name}")


def load_motion(path: str | Path) -> Motion:
    """BVH by suffix, or an AMC whose ASF lies beside it (``11_01.amc`` -> ``11.asf``)."""
    path = Path(path)
    if path.suffix.lower() == ".bvh":
        return load_bvh(path)
    if path.suffix.lower() == ".amc":
        asf = path.with_name(path.stem.split("_")[0] + ".asf")
        if not asf.exists():
            raise MocapFormatError(f"{path}: no ASF skeleton {asf.name} beside it")
        return load_asf_amc(asf, path)
    raise MocapFormatError(f"{path}: expected a .bvh or .amc file")


# -- retargeting -------------------------------------------------------------------------

#: our segment -> capture joint, per naming convention (CMU MotionBuilder-friendly BVH,
#: 3dsMax-friendly BVH, original ASF). Picked by how many names a motion has.
NAME_MAPS: dict[str, dict[str, str]] = {
    "cmu_mobu": {
        "pelvis": "Hips", "spine1": "LowerBack", "spine2": "Spine", "spine3": "Spine1", "neck": "Neck", "head": "Head",
        "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
        "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
        "left_hand": "LeftFingerBase",
    },
    "cmu_max": {
        "pelvis": "Hips", "spine1": "lowerback", "spine2": "Chest", "spine3": "Chest2", "neck": "lowerneck", "head": "Head",
        "left_hip": "LeftHip", "left_knee": "LeftKnee", "left_ankle": "LeftAnkle", "left_foot": "LeftToe",
        "left_collar": "LeftCollar", "left_shoulder": "LeftShoulder", "left_elbow": "LeftElbow", "left_wrist": "LeftWrist",
        "left_hand": "lhand",
    },
    "cmu_asf": {
        "pelvis": "root", "spine1": "lowerback", "spine2": "upperback", "spine3": "thorax", "neck": "lowerneck", "head": "head",
        "left_hip": "lfemur", "left_knee": "ltibia", "left_ankle": "lfoot", "left_foot": "ltoes",
        "left_collar": "lclavicle", "left_shoulder": "lhumerus", "left_elbow": "lradius", "left_wrist": "lwrist",
        "left_hand": "lhand",
    },
}  # fmt: skip


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
        raise MocapFormatError(f"cannot map this skeleton to ours by name: only {len(hit)} of 24 segments found; names: {names[:12]}...")
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


def retarget(motion: Motion, rest_joints: np.ndarray, segment_axes: np.ndarray, frames: slice | np.ndarray | None = None) -> np.ndarray:
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
HINGES = (("left_shoulder", "left_elbow", 1.0), ("right_shoulder", "right_elbow", 1.0),
          ("left_hip", "left_knee", -1.0), ("right_hip", "right_knee", -1.0))  # fmt: skip


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
