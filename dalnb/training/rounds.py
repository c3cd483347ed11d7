"""Deform-and-learn rounds (explained in notebook 04): register, train, predict, register again.

Round 1 registers every training sample from the rest pose (with the stiff stage); the
regressor trains on the fits; it predicts on the training set; round r registers again from
those predictions; a ``FitStore`` keeps each sample's best fit; the regressor trains on, R
rounds in all. Everything goes into ``out_dir/round<r>/`` (fits, store, checkpoint, test
metrics, training-set predictions), each file written atomically, and a killed run resumes at
the first missing file. Under ``torchrun`` registration splits the samples over the ranks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from dalnb import distributed
from dalnb.fitting import (
    FitResult,
    RegistrationConfig,
    load_fits,
    register,
    save_fits,
)
from dalnb.io import atomic_write_json
from dalnb.regressor import (
    Regressor,
)
from dalnb.steps import Ledger
from dalnb.training.config import RoundsConfig
from dalnb.training.predict import evaluate_model, fit_error, mean_pose_error, predict
from dalnb.training.store import FitStore
from dalnb.training.train import train_regressor
from dalnb.training.trainset import TrainSet, build_trainset, subset_trainset


# the rounds
def _register_sharded(
    body, samples: list[dict], cfg: RegistrationConfig, init: FitResult | None, path: Path, progress: bool = False
) -> FitResult:
    """Register (each torchrun rank its share), save to ``path`` (rank 0), return all fits in
    sample order."""
    rank, world = distributed.rank_world()
    if world == 1:
        fits = register(body, samples, cfg, init=init, progress=progress)
        save_fits(path, fits, meshes=False)
        return fits
    distributed.init()
    if torch.cuda.is_available():
        cfg = replace(cfg, device=str(distributed.device_for(None)))
    part = path.with_name(f"{path.stem}.rank{rank}.npz")
    mine = list(range(rank, len(samples), world))
    save_fits(
        part,
        register(body, [samples[i] for i in mine], cfg, init=init.take(mine) if init is not None else None),
        meshes=False,
    )
    distributed.barrier()
    allf = reorder_fits(
        load_fits_list([path.with_name(f"{path.stem}.rank{r}.npz") for r in range(world)], body),
        [s["sample_id"] for s in samples],
    )
    if rank == 0:
        save_fits(path, allf, meshes=False)
    distributed.barrier()
    return allf


def load_fits_list(paths: list[Path], body) -> FitResult:
    from dalnb.fitting import concat_fits

    return concat_fits([load_fits(p, body) for p in paths])


def reorder_fits(fits: FitResult, sample_ids: list[str]) -> FitResult:
    return fits.take_ids(sample_ids)


def round_dir(out_dir: str | Path, r: int) -> Path:
    """Round ``r``'s folder in a ``run_rounds`` output folder: its fits, fit store, regressor and
    metrics."""
    return Path(out_dir) / f"round{r}"


def regressor_path(out_dir: str | Path, r: int | None = None) -> Path:
    """The regressor checkpoint that ``run_rounds`` saves for round ``r`` in ``out_dir``; with
    ``r=None``, the one a baseline (``single_step_baseline``, ``one_long_round``) saves in its own
    ``out_dir``."""
    return (round_dir(out_dir, r) if r is not None else Path(out_dir)) / "regressor.pt"


def run_rounds(
    body,
    train: list[dict],
    test: list[dict],
    out_dir: str | Path,
    cfg: RoundsConfig,
    first_fits: FitResult | None = None,
    progress: bool = True,
    on_round=None,
    real_tests: dict[str, list[dict]] | None = None,
    steps: Ledger | None = None,
    inputs: str = "",
) -> list[dict]:
    """Run (or resume) R rounds in ``out_dir``; returns one metrics row per round (on ``test``).

    ``first_fits``: round 1's registration when it was already done (notebook 03's fits of the
    same samples, any order); ``on_round(row)`` is called after each round (e.g. to display).
    ``real_tests``: held-out real samples per source kind, measured each round too (columns
    ``<kind>/<metric>``: PA-MPJPE where they have 3D truth, per-pixel error where dense points,
    keypoint reprojection error where keypoints; ``per_test_set`` lays them out).
    ``steps``: the run's step records; each file of each round is then reused only when it was
    made from the same settings and inputs (``inputs``: the digest of what the training and test
    sets and the first fits came from), and remade with everything after it otherwise.
    """
    torch.manual_seed(cfg.seed)
    data = build_trainset(train, cfg.regressor.image_size)
    by_id = {str(s["sample_id"]): s for s in train}
    state = _Rounds(
        body=body,
        cfg=cfg,
        out=Path(out_dir),
        data=data,
        train_samples=[by_id[i] for i in data.sample_ids],
        test_samples=test[: cfg.n_eval],
        real_tests=real_tests or {},
        store=FitStore(data.sample_ids),
        model=Regressor(cfg.regressor),
        made=_Made(steps, inputs, cfg),
        progress=progress,
    )
    rows: list[dict] = []
    prev_pred: FitResult | None = None
    for r in range(1, cfg.rounds + 1):
        t_round = time.perf_counter()
        fits = state.register(r, first_fits, prev_pred)
        replaced = state.keep_best(r, fits)
        hist = state.train(r)
        rows.append(state.measure(r, fits, replaced, hist, t_round))
        if on_round is not None:
            on_round(rows[-1])
        if r < cfg.rounds:
            prev_pred = state.predict(r)
    if cfg.finetune_epochs:
        state.made.finetune(state.out / "finetune")
        tr, te = state.train_samples, state.test_samples
        rows.append(_finetune(body, state.model, data, state.store, tr, te, state.out, cfg, progress))
        if on_round is not None:
            on_round(rows[-1])
    return rows


@dataclass
class _Rounds:
    """What the rounds share: the body, the settings, the run's folder, the training set (and its
    samples, in the training set's order), the test sets, the fit store, the regressor and the
    step records. Each step reuses its file when its record says it was made from the same."""

    body: object
    cfg: RoundsConfig
    out: Path
    data: TrainSet
    train_samples: list[dict]
    test_samples: list[dict]
    real_tests: dict[str, list[dict]]
    store: FitStore
    model: Regressor
    made: _Made
    progress: bool

    def register(self, r: int, first_fits: FitResult | None, prev_pred: FitResult | None) -> FitResult:
        """Round ``r``'s fits: round 1 from the rest pose (or notebook 03's fits), later rounds from
        the regressor's pose and shape, the stiff stage trying headings around its rotation."""
        cfg, ids, path = self.cfg, self.data.sample_ids, round_dir(self.out, r) / "fits.npz"
        self.made.fits(r, path, first_fits is not None)
        if path.exists():
            return reorder_fits(load_fits(path, self.body), ids)
        if r == 1 and first_fits is not None:
            fits = reorder_fits(first_fits, ids)
            if distributed.rank_world()[0] == 0:
                save_fits(path, fits, meshes=False)
            return fits
        rc = RegistrationConfig.with_iters(
            cfg.first_iters if r == 1 else cfg.later_iters, seed=cfg.seed, device=cfg.device
        )
        return _register_sharded(self.body, self.train_samples, rc, prev_pred if r > 1 else None, path, self.progress)

    def keep_best(self, r: int, fits: FitResult) -> int:
        """The fit store keeps each sample's best fit; returns how many round ``r`` replaced."""
        path = round_dir(self.out, r) / "store.npz"
        self.made.store(r, path)
        if path.exists():
            self.store = FitStore.load(path)
            return int((self.store.round == r).sum())
        replaced = self.store.update(fits, r)
        if distributed.rank_world()[0] == 0:
            self.store.save(path)
        return replaced

    def train(self, r: int) -> list[dict]:
        """Train the regressor on the store's fits, continuing from round ``r - 1``'s weights (round 1
        starts its head from the fits' mean)."""
        cfg, ckpt = self.cfg, regressor_path(self.out, r)
        self.made.regressor(r, ckpt)
        if r > 1 and not ckpt.exists():
            prev = torch.load(regressor_path(self.out, r - 1), map_location="cpu", weights_only=False)
            self.model.load_state_dict(prev["model"])
        targets, w = self.store.targets(self.data.sizes), self.store.valid
        if r == 1 and not ckpt.exists():
            self.model.set_mean(targets[w])
        tcfg = replace(
            cfg.train, epochs=cfg.epochs_per_round, seed=cfg.seed * 1000 + r, device=cfg.device or cfg.train.device
        )
        sub = subset_trainset(self.data, w)
        return train_regressor(
            self.body, self.model, sub, targets[w], tcfg, ckpt=ckpt, tag=f"round {r}", progress=self.progress
        )

    def measure(self, r: int, fits: FitResult, replaced: int, hist: list[dict], t0: float) -> dict:
        """Round ``r``'s metrics row: the regressor on the test sets, against the fits' mean body, and
        the fits' and the store's error on the training images."""
        cfg, body, path = self.cfg, self.body, round_dir(self.out, r) / "metrics.json"
        self.made.metrics(r, path, sorted(self.real_tests))
        if path.exists():
            return json.loads(path.read_text())
        row, _, _ = evaluate_model(body, self.model, self.test_samples, cfg.refine_iters, cfg.device, cfg.seed)
        targets, w = self.store.targets(self.data.sizes), self.store.valid
        row = {
            "round": r,
            **row,
            "mean_pose_pa_mpjpe_mm": mean_pose_error(body, targets[w], self.test_samples),
            "fits_replaced": replaced,
            "fit_loss_median": float(self.store.loss[self.store.valid].median()),
            "train_fit_pa_mpjpe_mm": fit_error(body, fits, self.train_samples),
            "store_fit_pa_mpjpe_mm": fit_error(body, self.store.as_fits(body), self.train_samples),
            "train_loss_last": hist[-1]["total"],
            "train_samples": int(w.sum()),
            "seconds": time.perf_counter() - t0,
        }
        for kind, samples in self.real_tests.items():
            real, _, _ = evaluate_model(body, self.model, samples[: cfg.n_eval], cfg.refine_iters, cfg.device, cfg.seed)
            row.update({f"{kind}/{k}": v for k, v in real.items()})
        if distributed.rank_world()[0] == 0:
            atomic_write_json(path, row)
        return row

    def predict(self, r: int) -> FitResult:
        """The regressor's bodies for the training images: the next round's start."""
        path = round_dir(self.out, r) / "pred_train.npz"
        self.made.predictions(r, path)
        if path.exists():
            return reorder_fits(load_fits(path, self.body), self.data.sample_ids)
        pred = predict(self.body, self.model, self.data, device=self.cfg.device)
        if distributed.rank_world()[0] == 0:
            save_fits(path, pred, meshes=False)
        return pred


class _Made:
    """The step records of ``run_rounds``: each step's key is the settings it reads and the
    digests of the steps it reads from (``steps.Ledger``); without a ledger, files are reused
    as found."""

    def __init__(self, steps: Ledger | None, inputs: str, cfg: RoundsConfig):
        self.steps, self.inputs, self.cfg, self.d = steps, inputs, cfg, {}

    def _ensure(self, name: str, key: dict, inputs: dict[str, str], out: Path) -> None:
        if self.steps is not None:
            self.d[name] = self.steps.ensure(name, {**key, "inputs": inputs}, [out])

    def fits(self, r: int, out: Path, given_first: bool) -> None:
        c = self.cfg
        if r == 1:
            key = {"from": "notebook 03's fits" if given_first else "rest pose", "iters": c.first_iters}
            start = {"data and first fits": self.inputs}
        else:
            key = {"from": "regressor", "iters": c.later_iters}
            start = {"start": self.d.get(f"round {r - 1} predictions", "")}
        self._ensure(f"round {r} fits", {**key, "seed": c.seed}, start, out)

    def store(self, r: int, out: Path) -> None:
        prev = {"previous store": self.d.get(f"round {r - 1} store", "")} if r > 1 else {}
        self._ensure(f"round {r} store", {}, {"fits": self.d.get(f"round {r} fits", ""), **prev}, out)

    def regressor(self, r: int, out: Path) -> None:
        prev = {"previous regressor": self.d.get(f"round {r - 1} regressor", "")} if r > 1 else {}
        store = {"store": self.d.get(f"round {r} store", "")}
        self._ensure(f"round {r} regressor", self.cfg.training_key(self.cfg.epochs_per_round), {**store, **prev}, out)

    def metrics(self, r: int, out: Path, real: list[str]) -> None:
        c = self.cfg
        key = {"n_eval": c.n_eval, "refine_iters": c.refine_iters, "seed": c.seed, "real test sets": real}
        inputs = {"regressor": self.d.get(f"round {r} regressor", ""), "test sets": self.inputs}
        self._ensure(f"round {r} metrics", key, inputs, out)

    def predictions(self, r: int, out: Path) -> None:
        self._ensure(f"round {r} predictions", {}, {"regressor": self.d.get(f"round {r} regressor", "")}, out)

    def finetune(self, out: Path) -> None:
        c = self.cfg
        key = {**self.cfg.training_key(c.finetune_epochs), "where": c.finetune_where, "n_eval": c.n_eval}
        last = self.d.get(f"round {c.rounds} regressor", "")
        self._ensure("fine-tune", {**key, "refine_iters": c.refine_iters}, {"regressor": last}, out)


def per_test_set(rows: list[dict], synthetic: str = "synthetic") -> list[dict]:
    """``run_rounds``' rows in long form: one row per (round, test set), the synthetic test set
    named ``synthetic`` and each real one by its kind, with the metrics it has."""
    out = []
    for row in rows:
        kinds = sorted({k.split("/", 1)[0] for k in row if "/" in k})
        out.append({"round": row["round"], "test set": synthetic, **{k: v for k, v in row.items() if "/" not in k}})
        for kind in kinds:
            pre = f"{kind}/"
            out.append(
                {
                    "round": row["round"],
                    "test set": kind,
                    **{k[len(pre) :]: v for k, v in row.items() if k.startswith(pre)},
                }
            )
    return out


def _finetune(
    body,
    model: Regressor,
    data: TrainSet,
    store: FitStore,
    train: list[dict],
    test: list[dict],
    out: Path,
    cfg: RoundsConfig,
    progress: bool,
) -> dict:
    """The last round's regressor trained on for ``finetune_epochs`` on the samples matching
    ``finetune_where`` (their stored fits); resumable like a round."""
    fd = out / "finetune"
    mpath = fd / "metrics.json"
    if mpath.exists():
        return json.loads(mpath.read_text())
    keep = (
        torch.tensor([all(str(s.get(k)) == str(v) for k, v in cfg.finetune_where.items()) for s in train]) & store.valid
    )
    if not keep.any():
        raise ValueError(f"finetune_where {cfg.finetune_where}: no fitted training sample matches")
    t0 = time.perf_counter()
    tcfg = replace(
        cfg.train, epochs=cfg.finetune_epochs, seed=cfg.seed * 1000 + 999, device=cfg.device or cfg.train.device
    )
    hist = train_regressor(
        body,
        model,
        subset_trainset(data, keep),
        store.targets(data.sizes)[keep],
        tcfg,
        ckpt=regressor_path(fd),
        tag="fine-tune",
        progress=progress,
    )
    row, _, _ = evaluate_model(body, model, test, cfg.refine_iters, cfg.device, cfg.seed)
    row = {
        "round": cfg.rounds + 1,
        "finetune": True,
        "finetune_where": dict(cfg.finetune_where),
        **row,
        "train_samples": int(keep.sum()),
        "train_loss_last": hist[-1]["total"],
        "seconds": time.perf_counter() - t0,
    }
    if distributed.rank_world()[0] == 0:
        atomic_write_json(mpath, row)
    return row
