"""BVH files (CMU's conversion and most capture software) -> ``Motion``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dalnb.data.mocap.asf_amc import bone_directions
from dalnb.data.mocap.motion import MocapFormatError, Motion, euler_matrix


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
        R[:, j] = euler_matrix(vals[:, [k for k, _ in rot]], "".join(a for _, a in rot)) if rot else np.eye(3)
        if parents[j] < 0:
            root = offsets[j] + (
                np.stack([vals[:, k] for k, a in sorted(pos, key=lambda x: x[1])], -1) if len(pos) == 3 else 0
            )
    dirs = bone_directions(rest, parents, {j: rest[j] + np.asarray(o) for j, o in end_offsets.items()})
    return Motion(names, parents, rest, dirs, R, np.broadcast_to(root, (T, 3)).copy(), 1.0 / dt, str(path))
