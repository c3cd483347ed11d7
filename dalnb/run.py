"""The run folder: where each notebook reads and writes, in one place.

    run = Run("runs/dev")            # relative to the repository root, whatever the working directory
    run.data("train")                # notebook 01's samples
    run.depths("test")               # notebook 02's lifted depths
    run.first_fits                   # notebook 03's fits (round 0, from the rest pose)
    run.regressor(run.last_round())  # notebook 04's regressor of its last round

Layout: ``config/`` (each notebook's resolved config), ``body/``, ``data/{train,test}`` (real
sources' crops in ``data/train/real/<kind>``, ``data/real_test/<kind>``, reports in ``data/sources``),
``lifter/`` (checkpoint, depths per split), ``fits/`` (round 0 and the depth-prior check),
``photos/``, ``rounds/round<r>/`` (fits, store, regressor, metrics), ``eval/``, ``ablations/``,
``claims/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dalnb.paths import resolve

__all__ = ["Run"]


@dataclass(frozen=True)
class Run:
    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", resolve(root))

    def config(self, notebook: str) -> Path:
        return self.root / "config" / f"{notebook}.yaml"

    # notebook 01
    @property
    def body_dir(self) -> Path:
        return self.root / "body"

    def data(self, split: str) -> Path:
        """``data/train`` or ``data/test``: folders of sample shards (``load_samples``)."""
        if split not in ("train", "test"):
            raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
        return self.root / "data" / split

    def real_train(self, kind: str) -> Path:
        """A real source's training crops: inside ``data/train``, so every reader of the training
        set (lifter depths, registration, rounds) takes them with the renders."""
        return self.data("train") / "real" / kind

    def real_test(self, kind: str) -> Path:
        """A real source's held-out crops (Human3.6M: S9/S11)."""
        return self.root / "data" / "real_test" / kind

    def source_report(self, kind: str) -> Path:
        return self.root / "data" / "sources" / f"{kind}.json"

    # notebook 02
    @property
    def lifter_dir(self) -> Path:
        return self.root / "lifter"

    @property
    def lifter(self) -> Path:
        return self.lifter_dir / "lifter.pt"

    def depths(self, split: str) -> Path:
        """The lifted depths of a split's samples, by sample_id."""
        return self.lifter_dir / f"depths_{self.data(split).name}.npz"

    # notebook 03
    @property
    def fits_dir(self) -> Path:
        """Registration's folder: the first fits and the depth-prior check (``depth_prior.json``)."""
        return self.root / "fits"

    @property
    def first_fits(self) -> Path:
        return self.fits_dir / "round0"

    @property
    def photos_dir(self) -> Path:
        return self.root / "photos"

    # notebook 04
    @property
    def rounds_dir(self) -> Path:
        return self.root / "rounds"

    def round_dir(self, r: int) -> Path:
        return self.rounds_dir / f"round{r}"

    def regressor(self, r: int) -> Path:
        return self.round_dir(r) / "regressor.pt"

    def round_fits(self, r: int) -> Path:
        return self.round_dir(r) / "fits.npz"

    def round_store(self, r: int) -> Path:
        return self.round_dir(r) / "store.npz"

    def round_metrics(self, r: int) -> Path:
        return self.round_dir(r) / "metrics.json"

    def rounds_done(self) -> list[int]:
        """The rounds whose regressor is saved, in order."""
        found = (int(p.name[len("round") :]) for p in self.rounds_dir.glob("round*") if p.name[5:].isdigit())
        return sorted(r for r in found if self.regressor(r).exists())

    def last_round(self) -> int:
        done = self.rounds_done()
        if not done:
            raise FileNotFoundError(f"{self.rounds_dir}: no round with a saved regressor (run notebook 04 first)")
        return done[-1]

    # notebooks 05, 06
    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    def ablation_dir(self, name: str) -> Path:
        return self.root / "ablations" / name

    @property
    def claims_dir(self) -> Path:
        return self.root / "claims"
