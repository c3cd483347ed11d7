"""Mesh export (.obj, .ply, .glb) through trimesh, written atomically; per-vertex surface areas."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dalnb.io import atomic_write_bytes

__all__ = ["export_mesh", "vertex_areas", "mirror_vertex_map"]
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


def vertex_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3), (F, 3) -> (V,): a third of the area of each face around each vertex (sums to the surface area)."""
    v, f = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"vertex_areas: expected (V, 3) vertices and (F, 3) faces, got {v.shape} and {f.shape}")
    tri = v[f]
    a = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    out = np.zeros(len(v))
    np.add.at(out, f.ravel(), np.repeat(a / 3, 3))
    return out


def mirror_vertex_map(vertices: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """(V, 3) rest vertices, left/right symmetric about x = 0 -> (V,) index of each vertex's
    mirror image. Raises when some vertex has no mirror within ``tol`` metres."""
    from scipy.spatial import cKDTree

    v = np.asarray(vertices, np.float64)
    d, idx = cKDTree(v).query(v * [-1.0, 1.0, 1.0])
    if d.max() > tol:
        raise ValueError(
            f"mirror_vertex_map: expected a mesh symmetric about x = 0 within {tol} m, got a vertex "
            f"{d.max():.4g} m from any mirror image"
        )
    return idx
