"""Mesh export (.obj, .ply, .glb) through trimesh, written atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dalnb.io import atomic_write_bytes

__all__ = ["export_mesh"]
FORMATS = (".obj", ".ply", ".glb")


def export_mesh(path: str | Path, vertices, faces, vertex_colors: np.ndarray | None = None) -> Path:
    """Write a mesh; the format follows the suffix. vertices (V, 3) metres, faces (F, 3)."""
    import trimesh

    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"{path}: expected a suffix in {FORMATS}, got {path.suffix!r}")
    v = np.asarray(vertices.detach().cpu() if hasattr(vertices, "detach") else vertices, dtype=np.float64)
    f = np.asarray(faces.cpu() if hasattr(faces, "cpu") else faces, dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"{path}: vertices must be (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or (f.size and (f.min() < 0 or f.max() >= len(v))):
        raise ValueError(f"{path}: faces must be (F, 3) indices into {len(v)} vertices")
    mesh = trimesh.Trimesh(v, f, vertex_colors=vertex_colors, process=False)
    data = mesh.export(file_type=path.suffix.lower()[1:])
    return atomic_write_bytes(path, data if isinstance(data, bytes) else data.encode())
