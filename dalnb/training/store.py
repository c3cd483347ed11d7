"""The fit store: each training sample's best fit so far, replaced only by a fit with a lower
registration loss (SPIN's fits_dict); its parameters are the regressor's targets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dalnb.fitting import (
    FitResult,
    skin_parameters,
)
from dalnb.io import atomic_write_npz
from dalnb.regressor import (
    fits_to_params,
)


# the fit store
class FitStore:
    """Each sample's best fit so far (SPIN's fits_dict): replaced only by a fit with a lower
    registration loss. Parameters are kept, not meshes."""

    KEYS = ("pose", "segment_scales", "rotation", "camera")

    def __init__(self, sample_ids: list[str]):
        n = len(sample_ids)
        self.sample_ids = list(sample_ids)
        self.index = {s: i for i, s in enumerate(self.sample_ids)}
        self.pose = torch.zeros(n, 24, 3)
        self.segment_scales = torch.ones(n, 24, 2)
        self.rotation = torch.eye(3).expand(n, 3, 3).clone()
        self.camera = torch.zeros(n, 3)
        self.loss = torch.full((n,), float("inf"))
        self.round = torch.full((n,), -1, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def valid(self) -> torch.Tensor:
        return torch.isfinite(self.loss)

    def update(self, fits: FitResult, round_: int) -> int:
        """Take each ok fit whose total loss is lower than the stored one; returns how many."""
        idx = torch.tensor([self.index[s] for s in fits.sample_ids])
        loss = fits.losses["total"].float()
        better = torch.as_tensor(fits.status == "ok") & torch.isfinite(loss) & (loss < self.loss[idx])
        j = idx[better]
        for k in self.KEYS:
            getattr(self, k)[j] = getattr(fits, k)[better].float()
        self.loss[j] = loss[better]
        self.round[j] = round_
        return int(better.sum())

    def targets(self, image_sizes: torch.Tensor) -> torch.Tensor:
        """(N, D) regression targets."""
        cam = self.camera.clone()
        cam = cam / image_sizes[:, None]  # pixels -> unit crop, then the layout's frame
        return fits_to_params(self.pose, self.segment_scales, self.rotation, cam, 1).flat()

    def as_fits(self, body) -> FitResult:
        """The stored parameters with their meshes (samples never fitted keep the rest pose)."""
        V, J = skin_parameters(body, self.pose, self.segment_scales, self.rotation)
        status = np.where(self.valid.numpy(), "ok", "never fitted")
        return FitResult(
            pose=self.pose,
            segment_scales=self.segment_scales,
            rotation=self.rotation,
            camera=self.camera,
            vertices=V,
            joints=J,
            losses={"total": self.loss.clone()},
            status=status,
            sample_ids=list(self.sample_ids),
        )

    def save(self, path: str | Path) -> Path:
        return atomic_write_npz(
            path,
            {
                "sample_id": np.asarray(self.sample_ids),
                **{k: getattr(self, k).numpy() for k in self.KEYS},
                "loss": self.loss.numpy(),
                "round": self.round.numpy(),
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> FitStore:
        with np.load(path) as z:
            st = cls(list(map(str, z["sample_id"])))
            for k in (*cls.KEYS, "loss", "round"):
                setattr(st, k, torch.as_tensor(z[k]))
        return st
