"""Fit results: ``FitResult`` (parameters, meshes, per-term losses and status of N samples) and
its files on disk (one ``.npz`` per batch of fits, written atomically).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from dalnb.body.camera import project


@dataclass(kw_only=True)
class FitResult:
    """Fits of N samples. vertices/joints are the model posed, scaled and rotated (camera frame
    up to a translation); camera (s, tx, ty) projects them to pixels."""

    pose: torch.Tensor  # (N, 24, 3) axis-angle, root zero (the global rotation is `rotation`)
    segment_scales: torch.Tensor  # (N, 24, 2)
    rotation: torch.Tensor  # (N, 3, 3)
    camera: torch.Tensor  # (N, 3) s, tx, ty (pixels)
    vertices: torch.Tensor  # (N, V, 3)
    joints: torch.Tensor  # (N, 24, 3)
    losses: dict[str, torch.Tensor]  # term -> (N,) final unweighted values; "total" weighted
    status: np.ndarray  # (N,) 'ok' or the reason
    sample_ids: list[str] = field(default_factory=list)
    history: dict[str, np.ndarray] = field(default_factory=dict)  # term -> (iters,) batch means
    iterations: np.ndarray | None = None  # (N,) iterations each sample ran
    seconds: float = 0.0
    perspective: torch.Tensor | None = (
        None  # (N, 3) kappa (1/m), principal point cx, cy (pixels); None: weak perspective
    )
    # the states kept every few iterations (``register(..., keep_every=k)``), of the first chunk's
    # samples: {"iteration": int, "vertices": (n, V, 3), "camera": (n, 3) pixels}
    frames: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.status)

    def keypoints(self, body, names: str = "coco17") -> torch.Tensor:
        return body.keypoints(self.vertices, names)

    def take_ids(self, sample_ids) -> FitResult:
        """The fits of ``sample_ids``, in that order; a KeyError names the ids without a fit."""
        pos = {str(s): i for i, s in enumerate(self.sample_ids)}
        missing = [str(s) for s in sample_ids if str(s) not in pos]
        if missing:
            raise KeyError(f"no fit for {len(missing)} samples, e.g. {missing[:3]}")
        return self.take([pos[str(s)] for s in sample_ids])

    def take(self, index) -> FitResult:
        """The fits at ``index`` (an int, slice or index array), as a FitResult."""
        idx = [index] if isinstance(index, int) else index
        pick = lambda t: t[idx]  # noqa: E731
        ids = np.arange(len(self))[idx]
        return replace(
            self,
            pose=pick(self.pose),
            segment_scales=pick(self.segment_scales),
            rotation=pick(self.rotation),
            camera=pick(self.camera),
            vertices=pick(self.vertices),
            joints=pick(self.joints),
            losses={k: pick(v) for k, v in self.losses.items()},
            status=np.asarray(self.status)[ids],
            sample_ids=[self.sample_ids[i] for i in np.atleast_1d(ids)] if self.sample_ids else [],
            iterations=None if self.iterations is None else self.iterations[ids],
            perspective=None if self.perspective is None else pick(self.perspective),
        )

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """(N, K, 3) model-frame points of these N fits -> (N, K, 2) pixels (``project``)."""
        if points.dim() != 3 or points.shape[0] != len(self):
            raise ValueError(f"project: expected points of shape ({len(self)}, K, 3), got {tuple(points.shape)}")
        if self.perspective is None:
            return project(points, self.camera.to(points))
        pp = self.perspective.to(points)
        return project(points, self.camera.to(points), pp[:, 0], pp[:, 1:])


def concat_fits(parts: list[FitResult]) -> FitResult:
    if len(parts) == 1:
        return parts[0]
    cat = lambda k: torch.cat([getattr(p, k) for p in parts])  # noqa: E731
    keys = set().union(*[p.losses for p in parts])
    losses = {k: torch.cat([p.losses.get(k, torch.full((len(p),), float("nan"))) for p in parts]) for k in keys}
    return FitResult(
        pose=cat("pose"),
        segment_scales=cat("segment_scales"),
        rotation=cat("rotation"),
        camera=cat("camera"),
        vertices=cat("vertices"),
        joints=cat("joints"),
        losses=losses,
        status=np.concatenate([p.status for p in parts]),
        sample_ids=sum((p.sample_ids for p in parts), []),
        iterations=np.concatenate([p.iterations for p in parts]),
        perspective=None if any(p.perspective is None for p in parts) else cat("perspective"),
    )


# fits on disk
def save_fits(path: Path, fits: FitResult, meshes: bool = True) -> Path:
    """One .npz with the fit schema (pose, segment_scales, rotation, camera, vertices, joints,
    per-term losses ``loss_<term>``, status, sample_id; ``perspective`` (N, 3) kappa, cx, cy
    when the fit has one), written atomically. ``meshes=False``
    leaves out vertices and joints (a round's internal files: ``load_fits(..., body=)`` skins
    them again from the parameters)."""
    from dalnb.io import atomic_write_npz

    arr = {
        "pose": fits.pose.numpy(),
        "segment_scales": fits.segment_scales.numpy(),
        "rotation": fits.rotation.numpy(),
        "camera": fits.camera.numpy(),
        "status": np.asarray(fits.status, dtype=str),
        "sample_id": np.asarray(fits.sample_ids, dtype=str),
        "iterations": fits.iterations if fits.iterations is not None else np.zeros(len(fits), np.int64),
    }
    if meshes:
        arr["vertices"], arr["joints"] = fits.vertices.numpy().astype(np.float32), fits.joints.numpy()
    if fits.perspective is not None:
        arr["perspective"] = fits.perspective.numpy()
    for k, v in fits.losses.items():
        arr[f"loss_{k}"] = v.numpy()
    for k, v in arr.items():
        if v.dtype.kind == "f" and not np.isfinite(v).all() and not k.startswith("loss_"):
            raise ValueError(f"{path}: refusing to write non-finite {k}")
    return atomic_write_npz(path, arr)


@torch.no_grad()
def skin_parameters(body, pose: torch.Tensor, segment_scales: torch.Tensor, rotation: torch.Tensor, batch: int = 1024):
    """Full meshes (N, V, 3) and joints (N, 24, 3) of fit parameters, ``batch`` at a time."""
    outs = [
        body(
            pose[a : a + batch].float(),
            segment_scales=segment_scales[a : a + batch].float(),
            rotation=rotation[a : a + batch].float(),
        )
        for a in range(0, len(pose), batch)
    ]
    return torch.cat([o.vertices for o in outs]), torch.cat([o.joints for o in outs])


def load_fits(folder: str | Path, body=None) -> FitResult:
    """Fits from one .npz or every ``fits_*.npz`` of a folder; files saved without meshes need
    ``body`` to skin them again."""
    files = sorted(Path(folder).glob("fits_*.npz")) if Path(folder).is_dir() else [Path(folder)]
    if not files:
        raise FileNotFoundError(f"{folder}: no fits_*.npz files")
    parts = []
    for f in files:
        with np.load(f) as z:
            t = lambda k: torch.as_tensor(z[k])  # noqa: E731,B023
            losses = {k[5:]: t(k) for k in z.files if k.startswith("loss_")}
            if "vertices" in z.files:
                V, J = t("vertices"), t("joints")
            elif body is None:
                raise ValueError(f"{f}: saved without meshes; pass body= to skin them from the parameters")
            else:
                V, J = skin_parameters(body, t("pose"), t("segment_scales"), t("rotation"))
            parts.append(
                FitResult(
                    pose=t("pose"),
                    segment_scales=t("segment_scales"),
                    rotation=t("rotation"),
                    camera=t("camera"),
                    vertices=V,
                    joints=J,
                    losses=losses,
                    status=z["status"],
                    sample_ids=list(z["sample_id"]),
                    iterations=z["iterations"],
                    perspective=t("perspective") if "perspective" in z.files else None,
                )
            )
    return concat_fits(parts)
