"""DensePose's (I, U, V) on our template (explained in notebook 01).

DensePose's charts live on SMPL's surface. Two ways onto our template:

(a) part level, no SMPL file needed: a DensePose point with part I corresponds to *some* point
    of our part I (same numbering); registration's part-level loss pulls it to the nearest
    projected vertex of that part (``part_vertex_ids``).
(b) exact, from a user's own ``UV_Processed.mat`` (DensePose's chart definition) and SMPL model
    file (neither can be shipped: licence): our template is registered onto SMPL's rest mesh
    (pose, segment scales and a similarity, part-aware chamfer), every DensePose chart vertex
    is carried to the closest point of the same part on our surface, and a query (I, U, V) is
    interpolated inside its DensePose chart triangle (``DensePoseMap.to_template``).
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dalnb.body.charts import SurfacePoints, barycentric_2d
from dalnb.data.loaders import DataError

log = logging.getLogger(__name__)

__all__ = [
    "part_vertex_ids",
    "load_uv_processed",
    "load_smpl_mesh",
    "DensePoseMap",
    "build_densepose_map",
    "closest_points_on_faces",
]


def part_vertex_ids(body, part: int) -> np.ndarray:
    """Our template's vertices of DensePose part ``part`` (1..24)."""
    if not (isinstance(part, (int, np.integer)) and 1 <= part <= 24):
        raise ValueError(f"part must be an integer in 1..24, got {part!r}")
    return np.flatnonzero(body.parts == part)


def load_uv_processed(path: str | Path) -> dict[str, np.ndarray]:
    """DensePose's ``UV_Processed.mat``: All_FaceIndices (Fd,), All_Faces (Fd, 3) 1-based,
    All_U_norm, All_V_norm, All_vertices (Nd,) 1-based SMPL vertex ids. Returned 0-based."""
    from scipy.io import loadmat

    try:
        m = loadmat(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (DensePose's UV_Processed.mat, from its get_densepose_uv.sh)") from None
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{path}: cannot read as a .mat file ({type(e).__name__}: {e})") from e
    need = ("All_FaceIndices", "All_Faces", "All_U_norm", "All_V_norm", "All_vertices")
    missing = [k for k in need if k not in m]
    if missing:
        raise DataError(f"{path}: missing {missing}; expected DensePose's UV_Processed.mat")
    out = {
        "face_part": np.ravel(m["All_FaceIndices"]).astype(np.int64),
        "faces": np.asarray(m["All_Faces"]).astype(np.int64) - 1,
        "uv": np.stack([np.ravel(m["All_U_norm"]), np.ravel(m["All_V_norm"])], 1).astype(np.float64),
        "smpl_vertex": np.ravel(m["All_vertices"]).astype(np.int64) - 1,
    }
    n = len(out["uv"])
    if out["faces"].min() < 0 or out["faces"].max() >= n or len(out["smpl_vertex"]) != n:
        raise DataError(f"{path}: inconsistent sizes (faces index {out['faces'].max() + 1} of {n} chart vertices)")
    return out


class _ChumpyStub:
    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {})

    def array(self):
        for k in ("x", "_x", "r"):
            if k in self.__dict__:
                return np.asarray(self.__dict__[k])
        raise DataError("chumpy object without an array (install chumpy to read this SMPL file)")


class _SmplUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] == "chumpy":
            return _ChumpyStub
        if module.split(".")[0] == "scipy" and "sparse" in module:
            return super().find_class(module, name)
        return super().find_class(module, name)


def load_smpl_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """SMPL's rest mesh (``v_template`` (6890, 3), ``f`` (13776, 3)) from the official .pkl
    (latin-1 pickle; chumpy arrays read without chumpy where their state holds the array) or
    an .npz with the same keys."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
        else:
            with open(path, "rb") as f:
                d = _SmplUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (SMPL model: register at smpl.is.tue.mpg.de)") from None
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{path}: cannot read SMPL model ({type(e).__name__}: {e})") from e
    if not isinstance(d, dict) or "v_template" not in d or "f" not in d:
        raise DataError(f"{path}: expected a dict with 'v_template' and 'f'")
    v, f = d["v_template"], d["f"]
    v = v.array() if isinstance(v, _ChumpyStub) else np.asarray(v)
    f = f.array() if isinstance(f, _ChumpyStub) else np.asarray(f)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise DataError(f"{path}: v_template {v.shape} / f {f.shape} are not (V, 3) / (F, 3)")
    return v.astype(np.float64), f.astype(np.int64)


def closest_points_on_faces(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For (Q, 3) points, the closest point on a set of triangles: face index (Q,), barycentrics
    (Q, 3) and distance (Q,). Exact (Ericson's region tests via clamped edge projections)."""
    tri = vertices[faces]  # (F, 3, 3)
    best_f = np.zeros(len(points), np.int64)
    best_b = np.zeros((len(points), 3))
    best_d = np.full(len(points), np.inf)
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk, None, :]  # (q, 1, 3)
        cand_pts, cand_bary = _closest_on_triangles(p, tri)
        d = np.linalg.norm(cand_pts - p, axis=-1)  # (q, F)
        k = d.argmin(1)
        r = np.arange(len(k))
        best_f[s : s + chunk] = k
        best_b[s : s + chunk] = cand_bary[r, k]
        best_d[s : s + chunk] = d[r, k]
    return best_f, best_b, best_d


def _closest_on_triangles(p: np.ndarray, tri: np.ndarray):
    """p (q, 1, 3), tri (F, 3, 3) -> closest points (q, F, 3) and barycentrics (q, F, 3)."""
    a, b, c = tri[None, :, 0], tri[None, :, 1], tri[None, :, 2]
    ab, ac = b - a, c - a
    n = np.cross(ab, ac)
    nn = (n * n).sum(-1, keepdims=True).clip(1e-18)
    # projection onto the plane, barycentrics there
    ap = p - a
    t = (ap * n).sum(-1, keepdims=True) / nn
    q = p - t * n
    v0, v1, v2 = ab, ac, q - a
    d00, d01, d11 = (v0 * v0).sum(-1), (v0 * v1).sum(-1), (v1 * v1).sum(-1)
    d20, d21 = (v2 * v0).sum(-1), (v2 * v1).sum(-1)
    den = (d00 * d11 - d01 * d01).clip(1e-18)
    w1 = (d11 * d20 - d01 * d21) / den
    w2 = (d00 * d21 - d01 * d20) / den
    w0 = 1 - w1 - w2
    bary = np.stack([w0, w1, w2], -1)
    inside = (bary >= 0).all(-1)
    pts = np.where(inside[..., None], q, 0.0)
    if (~inside).any():
        # outside: the closest point lies on one of the three edges
        best = np.full(inside.shape, np.inf)
        best_pts = np.zeros_like(q)
        best_bary = np.zeros_like(bary)
        for i, j in ((0, 1), (1, 2), (2, 0)):
            P0, P1 = tri[None, :, i], tri[None, :, j]
            e = P1 - P0
            s = ((p - P0) * e).sum(-1) / (e * e).sum(-1).clip(1e-18)
            s = s.clip(0, 1)
            x = P0 + s[..., None] * e
            d = ((x - p) ** 2).sum(-1)
            better = d < best
            best = np.where(better, d, best)
            best_pts = np.where(better[..., None], x, best_pts)
            bb = np.zeros_like(bary)
            bb[..., i] = 1 - s
            bb[..., j] = s
            best_bary = np.where(better[..., None], bb, best_bary)
        pts = np.where(inside[..., None], q, best_pts)
        bary = np.where(inside[..., None], bary, best_bary)
    return pts, bary


@dataclass
class DensePoseMap:
    """Exact DensePose (I, U, V) -> our template surface."""

    uvp: dict[str, np.ndarray]  # the UV_Processed chart (0-based)
    chart_points: np.ndarray  # (Nd, 3) each chart vertex carried onto our rest template
    template_vertices: np.ndarray  # (V, 3) our rest template
    template_faces: np.ndarray  # (F, 3)
    template_parts: np.ndarray  # (V,)
    fit_error_m: float  # mean distance between the fitted template and SMPL's surface

    def to_template(self, iuv: np.ndarray) -> SurfacePoints:
        """(P, 3) DensePose [I, U, V] -> surface points (face, barycentrics) on our template,
        on the same-numbered part."""
        iuv = np.asarray(iuv, np.float64)
        if iuv.ndim != 2 or iuv.shape[1] != 3:
            raise ValueError(f"iuv: expected shape (P, 3), got {iuv.shape}")
        P = len(iuv)
        pts = np.zeros((P, 3))
        part = iuv[:, 0].astype(int)
        if P and (part.min() < 1 or part.max() > 24):
            raise ValueError(f"iuv: part must lie in 1..24, got [{part.min()}, {part.max()}]")
        fp, faces, uv = self.uvp["face_part"], self.uvp["faces"], self.uvp["uv"]
        for p in np.unique(part):
            q = np.flatnonzero(part == p)
            fids = np.flatnonzero(fp == p)
            lam = barycentric_2d(iuv[q, 1:], uv[faces[fids]])
            best = lam.min(-1).argmax(1)
            w = np.clip(lam[np.arange(len(q)), best], 0, None)
            w /= w.sum(1, keepdims=True).clip(1e-12)
            pts[q] = (self.chart_points[faces[fids[best]]] * w[..., None]).sum(1)
        face = np.zeros(P, np.int64)
        bary = np.zeros((P, 3))
        tf = self.template_faces
        fpart = self.template_parts[tf]
        for p in np.unique(part):
            q = np.flatnonzero(part == p)
            fids = np.flatnonzero((fpart == p).all(1))
            f, b, _ = closest_points_on_faces(pts[q], self.template_vertices, tf[fids])
            face[q], bary[q] = fids[f], b
        return SurfacePoints(face=face, bary=bary, inside=np.ones(P, bool))


def _fit_template_to_mesh(
    body, target_v: np.ndarray, target_part: np.ndarray, iters: int = 300, seed: int = 0
) -> tuple[np.ndarray, float]:
    """Fit pose, segment scales and a similarity of our template to a target mesh's vertices
    with a part-aware symmetric chamfer; returns fitted vertices (V, 3) and the mean error."""
    torch.manual_seed(seed)
    dt = torch.float64
    tgt = torch.as_tensor(target_v, dtype=dt)
    src_part = torch.as_tensor(body.parts)
    tpart = torch.as_tensor(target_part)
    parts = [p for p in range(1, 25) if (src_part == p).any() and (tpart == p).any()]
    from dalnb.body.model import BodyModel

    b64 = BodyModel(body.data, dtype=dt)
    # similarity init: match heights and centres
    v0 = b64.v_template
    s0 = float((tgt[:, 1].max() - tgt[:, 1].min()) / (v0[:, 1].max() - v0[:, 1].min()))
    pose = torch.zeros(1, 24, 3, dtype=dt, requires_grad=True)
    log_sc = torch.zeros(1, 24, 2, dtype=dt, requires_grad=True)
    log_s = torch.tensor(np.log(s0), dtype=dt, requires_grad=True)
    trans = (tgt.mean(0) - s0 * v0.mean(0)).clone().requires_grad_(True)
    opt = torch.optim.Adam([pose, log_sc, log_s, trans], lr=0.02)
    g = torch.Generator().manual_seed(seed)

    def sub(idx: torch.Tensor, k: int = 250) -> torch.Tensor:  # at most k points per part keep the chamfer cheap
        return idx if len(idx) <= k else idx[torch.randperm(len(idx), generator=g)[:k]]

    idx_s = {p: sub(torch.nonzero(src_part == p).squeeze(1)) for p in parts}
    idx_t = {p: sub(torch.nonzero(tpart == p).squeeze(1), 400) for p in parts}
    err = float("nan")
    for it in range(iters):
        opt.zero_grad()
        v = b64(pose, segment_scales=log_sc.exp()).vertices[0] * log_s.exp() + trans
        loss = 0.0
        tot = 0.0
        for p in parts:
            d = torch.cdist(v[idx_s[p]], tgt[idx_t[p]])
            loss = loss + d.min(1).values.mean() + d.min(0).values.mean()
            tot += float(d.detach().min(1).values.mean())
        loss = loss / len(parts) + 1e-3 * pose.square().sum() + 1e-2 * log_sc.square().sum()
        loss.backward()
        opt.step()
        err = tot / len(parts)
        if it % 100 == 0:
            log.info("densepose map fit: iter %d, mean distance %.4f m", it, err)
    with torch.no_grad():
        v = b64(pose, segment_scales=log_sc.exp()).vertices[0] * log_s.exp() + trans
    return v.numpy(), err


def build_densepose_map(uv_processed: str | Path, smpl_model: str | Path, body, iters: int = 300) -> DensePoseMap:
    """Build the exact map from the user's DensePose and SMPL files (see module docstring)."""
    uvp = load_uv_processed(uv_processed)
    sv, _ = load_smpl_mesh(smpl_model)
    if uvp["smpl_vertex"].max() >= len(sv):
        raise DataError(
            f"{uv_processed}: chart vertices index SMPL vertex {uvp['smpl_vertex'].max()}, but {smpl_model} "
            f"has {len(sv)}"
        )
    # part of each SMPL vertex from the chart faces
    vpart = np.zeros(len(sv), np.int64)
    for fpart, fv in zip(uvp["face_part"], uvp["faces"]):
        vpart[uvp["smpl_vertex"][fv]] = fpart
    fitted, err = _fit_template_to_mesh(body, sv, vpart, iters)
    # carry each chart vertex onto our fitted surface (same part), then back to the rest template
    tf = body.data.faces
    fpart = body.parts[tf]
    chart_xyz = sv[uvp["smpl_vertex"]]
    cpart = np.zeros(len(chart_xyz), np.int64)
    for fp, fv in zip(uvp["face_part"], uvp["faces"]):
        cpart[fv] = fp
    chart_points = np.zeros_like(chart_xyz)
    for p in range(1, 25):
        q = np.flatnonzero(cpart == p)
        if not len(q):
            continue
        fids = np.flatnonzero((fpart == p).all(1))
        f, b, _ = closest_points_on_faces(chart_xyz[q], fitted, tf[fids])
        chart_points[q] = (body.data.vertices[tf[fids[f]]] * b[..., None]).sum(1)
    return DensePoseMap(uvp, chart_points, body.data.vertices, tf, body.parts, err)
