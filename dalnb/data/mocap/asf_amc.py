"""CMU's ASF skeleton and AMC motion files -> ``Motion``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dalnb.data.mocap.motion import MocapFormatError, Motion, euler_matrix


def bone_directions(rest: np.ndarray, parents: list[int], end_sites: dict[int, np.ndarray]) -> np.ndarray:
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
    C = np.stack([np.eye(3)] + [euler_matrix(bones[n]["axis"][0][None], bones[n]["axis"][1])[0] for n in names[1:]])
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
    C_root = euler_matrix(np.zeros((1, 3)), "XYZ")[0]
    del root_axis
    for t, fr in enumerate(frames):
        if "root" not in fr or len(fr["root"]) < 6:
            raise MocapFormatError(f"{amc_path}: frame {t + 1}: missing root values")
        root[t] = fr["root"][:3]
        R[t, 0] = C_root @ euler_matrix(np.asarray(fr["root"][3:6])[None], root_order)[0]
        for j in range(1, J):
            dof = bones[names[j]]["dof"]
            if not dof or names[j] not in fr:
                continue
            vals = np.asarray(fr[names[j]])
            if len(vals) != len(dof):
                raise MocapFormatError(
                    f"{amc_path}: frame {t + 1}: bone {names[j]} has {len(vals)} values, ASF says {len(dof)} dof"
                )
            M = euler_matrix(vals[None], "".join(dof))[0]
            R[t, j] = C[j] @ M @ C[j].T
    return Motion(names, parents, rest, dirs, R, root, fps, f"{asf_path}+{amc_path.name}")
