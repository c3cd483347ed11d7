"""Deform-and-learn rounds (explained in notebook 04): register, train, predict, register again.

Round 1 registers every training sample from the rest pose (with the stiff stage); the
regressor trains on the fits; it predicts on the training set; round r registers again from
those predictions (fewer iterations); a ``FitStore`` keeps each sample's best fit and replaces
it only by a fit with a lower registration loss; the regressor trains on, R rounds in all.

Runs are first-class: everything goes into ``out_dir/round<r>/`` (fits, store, checkpoint,
test metrics, training-set predictions), each file written atomically, and a killed run
resumes at the first missing file (training at the last finished epoch), ending with the same
result as an uninterrupted run. Under ``torchrun`` training uses DistributedDataParallel
(gloo on CPU, nccl on GPU) and registration splits the samples over the ranks.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from dalnb.body import skeleton as sk
from dalnb.data.schema import SampleError
from dalnb.io import atomic_torch_save, atomic_write_json, atomic_write_npz
from dalnb.registration import (
    FitResult,
    RegistrationConfig,
    load_fits,
    register,
    save_fits,
    skin_parameters,
)
from dalnb.regressor import (
    Mirror,
    Prediction,
    Regressor,
    RegressorConfig,
    fits_to_params,
    images_to_tensor,
    mean_target,
    params_to_body,
    regressor_loss,
)

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "RoundsConfig", "TrainSet", "FitStore", "build_trainset", "train_regressor", "predict",
           "evaluate_model", "run_rounds", "round_dir", "regressor_path", "load_regressor", "predict_in_image", "mean_pose_error"]  # fmt: skip


@dataclass
class TrainConfig:
    epochs: int = 4
    batch: int = 32
    lr: float = 3e-4  # AdamW from scratch: 1e-3 left the training loss at the mean's (measured, notebook 04)
    weight_decay: float = 1e-4
    seed: int = 0
    device: str | None = None
    bf16: bool = True  # autocast on GPU
    flip_jitter_px: float = 0.0  # random translation of the crop (pixels, applied to targets too)
    # probability of training on a sample's mirror image (image, annotations and targets; regressor.Mirror). Off: at 0.5,
    # `bench rounds` (small) gave 208 / 111 -> 195 / 109 -> 194 / 108 mm against 214 / 108 -> 196 / 107 -> 194 / 108 without.
    mirror: float = 0.0


@dataclass
class RoundsConfig:
    rounds: int = 3
    first_iters: int = 300  # registration from the rest pose (round 1)
    later_iters: int = 300  # from the regressor's prediction (rounds 2..R); 100 left fits worse than round 1's (notebook 04)
    refine_iters: int = 50  # test-time refinement
    epochs_per_round: int = 4
    n_eval: int = 200  # test samples evaluated per round
    finetune_epochs: int = 0  # optional final fine-tune on a subset (the paper fine-tunes on Human3.6M only)
    finetune_where: dict = field(default_factory=dict)  # sample key -> value, e.g. {"pose_source": "mocap"}
    train: TrainConfig = field(default_factory=TrainConfig)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)
    seed: int = 0
    device: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> RoundsConfig:
        d = dict(d)
        tr = TrainConfig(**d.pop("train", {}))
        rg = RegressorConfig(**d.pop("regressor", {}))
        return cls(train=tr, regressor=rg, **d)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_preset(cls, rounds: dict, image_size: int, first_iters: int, seed: int = 0, device: str | None = None) -> RoundsConfig:
        """From a preset's ``rounds`` section (dalnb.config.PRESETS) and the run's image size and
        first-round registration budget."""
        r = dict(rounds)
        train = TrainConfig(batch=r.pop("batch"), lr=r.pop("lr"))
        reg = RegressorConfig(backbone=r.pop("backbone"), image_size=image_size)
        return cls(first_iters=first_iters, seed=seed, device=device, train=train, regressor=reg, **r)


# ---------------------------------------------------------------------------------------
# data


@dataclass
class TrainSet:
    """Images and annotations as tensors, in each crop's normalised frame (xy/S - 1/2)."""

    images: torch.Tensor  # (N, 3, S, S) uint8
    dense_vertex: torch.Tensor  # (N, P) int64
    dense_xy: torch.Tensor  # (N, P, 2)
    dense_w: torch.Tensor  # (N, P)
    keypoints: torch.Tensor  # (N, 17, 3) normalised x, y, confidence
    sizes: torch.Tensor  # (N,) original crop size (pixels)
    sample_ids: list[str]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sample_ids)


def _image(s: dict, i: int) -> np.ndarray:
    name = s.get("sample_id", f"#{i}")
    if "image" not in s:
        raise SampleError(f"sample {name}: no image")
    im = np.asarray(s["image"])
    if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8 or im.shape[0] != im.shape[1] or im.shape[0] < 16:
        raise SampleError(f"sample {name}: image: expected a square (S, S, 3) uint8 crop, got {im.shape} {im.dtype}")
    return im


def build_trainset(samples: list[dict], image_size: int, skip_bad: bool = False) -> TrainSet:
    """Collate samples with images; a corrupt image or annotation raises ``SampleError`` naming
    the sample, or is skipped (and listed in ``skipped``) when ``skip_bad``."""
    import torch.nn.functional as F

    keep, imgs, skipped = [], [], []
    for i, s in enumerate(samples):
        try:
            im = _image(s, i)
            for k in ("dense_xy", "keypoints2d"):
                if k in s and not np.isfinite(np.asarray(s[k], np.float64)).all():
                    raise SampleError(f"sample {s.get('sample_id', i)}: non-finite values in {k}")
        except SampleError:
            if not skip_bad:
                raise
            skipped.append(str(s.get("sample_id", i)))
            continue
        keep.append(s)
        imgs.append(im)
    if not keep:
        raise SampleError(f"no usable samples among {len(samples)}")
    N = len(keep)
    P = max([len(s.get("dense_xy", [])) for s in keep] + [1])
    dv, dxy, dw = torch.zeros(N, P, dtype=torch.int64), torch.zeros(N, P, 2), torch.zeros(N, P)
    kp = torch.zeros(N, 17, 3)
    sizes = torch.tensor([float(im.shape[0]) for im in imgs])
    out = torch.empty(N, 3, image_size, image_size, dtype=torch.uint8)
    for i, (s, im) in enumerate(zip(keep, imgs)):
        S = float(im.shape[0])
        t = images_to_tensor(im[None])
        if im.shape[0] != image_size:
            t = F.interpolate(t, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
        out[i] = (t[0] * 255 + 0.5).clamp(0, 255).to(torch.uint8)
        if "dense_vertex" in s and len(s["dense_xy"]):
            m = len(s["dense_xy"])
            dv[i, :m] = torch.as_tensor(np.asarray(s["dense_vertex"], np.int64))
            dxy[i, :m] = torch.as_tensor(np.asarray(s["dense_xy"], np.float32)) / S - 0.5
            dw[i, :m] = 1
        k = np.asarray(s.get("keypoints2d", np.zeros((17, 3))), np.float32)
        kp[i, :, :2] = torch.as_tensor(k[:, :2]) / S - 0.5
        kp[i, :, 2] = torch.as_tensor((k[:, 2] > 0).astype(np.float32))
    return TrainSet(out, dv, dxy, dw, kp, sizes, [str(s.get("sample_id", i)) for i, s in enumerate(keep)], skipped)


# ---------------------------------------------------------------------------------------
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
        return FitResult(self.pose, self.segment_scales, self.rotation, self.camera, V, J, {"total": self.loss.clone()}, status,
                         list(self.sample_ids))  # fmt: skip

    def save(self, path: str | Path) -> Path:
        return atomic_write_npz(path, {"sample_id": np.asarray(self.sample_ids), **{k: getattr(self, k).numpy() for k in self.KEYS},
                                       "loss": self.loss.numpy(), "round": self.round.numpy()})  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> FitStore:
        with np.load(path) as z:
            st = cls(list(map(str, z["sample_id"])))
            for k in (*cls.KEYS, "loss", "round"):
                setattr(st, k, torch.as_tensor(z[k]))
        return st


# ---------------------------------------------------------------------------------------
# training and prediction


def _dist() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _device(dev: str | None) -> torch.device:
    rank, world = _dist()
    if dev is None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', rank)) % torch.cuda.device_count()}")
    return torch.device(dev or "cpu")


def _kp_support(body) -> tuple[torch.Tensor, torch.Tensor]:
    reg = body.data.coco_regressor[: len(sk.COCO17)]
    ids = np.unique(np.nonzero(reg)[1])
    return torch.as_tensor(ids), torch.as_tensor(reg[:, ids], dtype=torch.float32)


def train_regressor(body, model: Regressor, data: TrainSet, targets: torch.Tensor | None, cfg: TrainConfig,
                    ckpt: str | Path | None = None, tag: str = "", progress: bool = False) -> list[dict]:  # fmt: skip
    """Train ``model`` in place for ``cfg.epochs`` epochs; returns per-epoch mean losses.

    ``targets`` (N, D) from the fit store (None: the single-step baseline, dense and keypoint
    losses only, no registration). With ``ckpt``, a checkpoint (model, optimiser, epoch,
    history) is written atomically after every epoch and training resumes from it. Shuffling is
    seeded per epoch, so a resumed run ends with the same weights as an uninterrupted one. A
    non-finite loss stops training with a message naming the step, before any update or save.
    """
    from tqdm.auto import tqdm

    rank, world = _dist()
    dev = _device(cfg.device)
    model.to(dev)
    body_d = body.on(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: list[dict] = []
    start = 0
    if ckpt is not None and Path(ckpt).exists():
        st = torch.load(ckpt, map_location=dev, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        start, history = st["epoch"], st["history"]
        log.info("%s: resumed at epoch %d from %s", tag or "regressor", start, ckpt)
    net = model
    if world > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel as DDP

        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        net = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    support, kp_reg = _kp_support(body)
    support, kp_reg = support.to(dev), kp_reg.to(dev)
    mirror = Mirror.of(body) if cfg.mirror > 0 else None
    N = len(data)
    batch = max(min(cfg.batch, N // world), 1)  # small sets: one smaller batch per step
    steps_per_epoch = max(N // (batch * world), 1)
    sched_total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + np.cos(np.pi * min(i / max(sched_total, 1), 1.0))) * 0.95 + 0.05)
    if start and "sched" in st:
        sched.load_state_dict(st["sched"])
        for group, lr in zip(opt.param_groups, sched.get_last_lr()):  # the constructor reset them to the schedule's start
            group["lr"] = lr
    autocast = dev.type == "cuda" and cfg.bf16
    for epoch in range(start, cfg.epochs):
        model.train()
        g = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
        perm = torch.randperm(N, generator=g)[: steps_per_epoch * batch * world]
        flips = torch.rand(perm.shape, generator=g) < cfg.mirror  # per sample of the epoch, drawn before the loop: resumable
        mine = perm.reshape(steps_per_epoch, world, batch)[:, rank]
        mine_flip = flips.reshape(steps_per_epoch, world, batch)[:, rank]
        sums: dict[str, float] = {}
        bar = tqdm(mine, desc=f"{tag} epoch {epoch + 1}/{cfg.epochs}", disable=not progress or rank != 0, leave=False)
        for step, idx in enumerate(bar):
            img = data.images[idx].to(dev, non_blocking=True).float() / 255
            tgt = None if targets is None else targets[idx].to(dev)
            dv, dxy, kp = data.dense_vertex[idx].to(dev), data.dense_xy[idx].to(dev), data.keypoints[idx].to(dev)
            if mirror is not None:
                img, tgt, dv, dxy, kp = mirror.batch(img, tgt, dv, dxy, kp, mine_flip[step].to(dev))
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
                pred = net(img)
            if not torch.isfinite(pred).all():
                raise FloatingPointError(f"{tag or 'regressor'}: non-finite prediction at epoch {epoch + 1}, step {step}; "
                                         "no update or checkpoint was written")  # fmt: skip
            T = regressor_loss(body_d, pred.float(), tgt, dv, dxy, data.dense_w[idx].to(dev), kp, support, kp_reg, model.cfg)
            if not torch.isfinite(T["total"]):
                raise FloatingPointError(f"{tag or 'regressor'}: non-finite loss at epoch {epoch + 1}, step {step} "
                                         f"({ {k: float(v) for k, v in T.items()} }); no update or checkpoint was written")  # fmt: skip
            opt.zero_grad(set_to_none=True)
            T["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            sched.step()
            for k, v in T.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{float(T['total'].detach()):.4f}")
        history.append({"epoch": epoch + 1, **{k: v / len(mine) for k, v in sums.items()}})
        if world > 1:  # BatchNorm statistics are per rank: take rank 0's, so every rank holds the same model
            import torch.distributed as dist

            for buf in model.buffers():
                dist.broadcast(buf, 0)
        if ckpt is not None and rank == 0:
            atomic_torch_save(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": epoch + 1, "history": history,
                                     "regressor": model.cfg.to_dict()})  # fmt: skip
        if world > 1:
            import torch.distributed as dist

            dist.barrier()
    model.eval()
    return history


@torch.no_grad()
def predict(body, model: Regressor, data: TrainSet, batch: int = 256, device: str | None = None) -> FitResult:
    """The regressor's bodies as a ``FitResult`` (camera in each crop's pixels), ready to
    evaluate or to start registration from."""
    dev = _device(device)
    model.to(dev).eval()
    body_d = body.on(dev)
    parts = []
    for a in range(0, len(data), batch):
        img = data.images[a : a + batch].to(dev).float() / 255
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            x = model(img)
        p = Prediction.from_flat(x.float())
        out = params_to_body(body_d, p)
        cam = p.pixel_camera(1) * data.sizes[a : a + batch, None].to(dev)
        parts.append((p.pose(), p.log_scales.exp(), p.rotation(), cam, out.vertices, out.joints))
    cat = [torch.cat([q[i] for q in parts]).cpu().float() for i in range(6)]
    n = len(data)
    return FitResult(*cat, losses={}, status=np.full(n, "ok"), sample_ids=list(data.sample_ids))


def predict_in_image(body, model: Regressor, samples: list[dict], margin: float = 1.3, device: str | None = None) -> FitResult:
    """Predict on uncropped samples (real photos, Human3.6M frames): each is cropped around
    its keypoints (``dalnb.data.crop``), predicted, and the camera mapped back to the original
    image's pixels, so the result can start registration on the original annotations."""
    from dalnb.data.crop import crop_sample

    crops = [crop_sample(s, model.cfg.image_size, margin) for s in samples]
    pred = predict(body, model, build_trainset(crops, model.cfg.image_size), device=device)
    box = torch.as_tensor(np.stack([c["crop_box"] for c in crops]), dtype=torch.float32)  # (B, 3) x0, y0, side
    k = box[:, 2] / model.cfg.image_size
    pred.camera = torch.stack([pred.camera[:, 0] * k, pred.camera[:, 1] * k + box[:, 0], pred.camera[:, 2] * k + box[:, 1]], 1)
    return pred


def load_regressor(path: str | Path, device: str = "cpu") -> Regressor:
    st = torch.load(path, map_location=device, weights_only=False)
    m = Regressor(RegressorConfig(**st["regressor"]))
    m.load_state_dict(st["model"])
    return m.eval()


# ---------------------------------------------------------------------------------------
# evaluation


def evaluate_model(body, model: Regressor, samples: list[dict], refine_iters: int = 50, device: str | None = None,
                   seed: int = 0) -> tuple[dict, FitResult, FitResult | None]:  # fmt: skip
    """Metrics of the regressor on samples with ground truth, before and after test-time
    refinement (registration from the prediction for ``refine_iters`` iterations)."""
    from dalnb.metrics import evaluate

    data = build_trainset(samples, model.cfg.image_size)
    t0 = time.perf_counter()
    pred = predict(body, model, data, device=device)
    t_pred = (time.perf_counter() - t0) / len(samples)
    row = {f"{k}": v for k, v in evaluate(body, pred, samples).items()}
    row["predict_s_per_image"] = t_pred
    ref = None
    if refine_iters:
        cfg = RegistrationConfig.with_iters(refine_iters, seed=seed, device=device).without_stiff_stage()
        ref = register(body, samples, cfg, init=pred)
        for k, v in evaluate(body, ref, samples).items():
            if k not in ("n", "ok"):
                row[f"refined_{k}"] = v
        row["refine_s_per_image"] = ref.seconds / len(samples)
    return row, pred, ref


# ---------------------------------------------------------------------------------------
# the rounds


def _register_sharded(body, samples: list[dict], cfg: RegistrationConfig, init: FitResult | None, path: Path,
                      progress: bool = False) -> FitResult:  # fmt: skip
    """Register (each torchrun rank its share), save to ``path`` (rank 0), return all fits in
    sample order."""
    rank, world = _dist()
    if world == 1:
        fits = register(body, samples, cfg, init=init, progress=progress)
        save_fits(path, fits, meshes=False)
        return fits
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        cfg = replace(cfg, device=str(_device(None)))
    part = path.with_name(f"{path.stem}.rank{rank}.npz")
    mine = list(range(rank, len(samples), world))
    save_fits(part, register(body, [samples[i] for i in mine], cfg, init=init.take(mine) if init is not None else None), meshes=False)
    dist.barrier()
    allf = _reorder(load_fits_list([path.with_name(f"{path.stem}.rank{r}.npz") for r in range(world)], body), [s["sample_id"] for s in samples])
    if rank == 0:
        save_fits(path, allf, meshes=False)
    dist.barrier()
    return allf


def load_fits_list(paths: list[Path], body) -> FitResult:
    from dalnb.registration import _concat

    return _concat([load_fits(p, body) for p in paths])


def _reorder(fits: FitResult, sample_ids: list[str]) -> FitResult:
    pos = {s: i for i, s in enumerate(fits.sample_ids)}
    return fits.take([pos[str(s)] for s in sample_ids])


def round_dir(out_dir: str | Path, r: int) -> Path:
    """Round ``r``'s folder in a ``run_rounds`` output folder: its fits, fit store, regressor and
    metrics."""
    return Path(out_dir) / f"round{r}"


def regressor_path(out_dir: str | Path, r: int | None = None) -> Path:
    """The regressor checkpoint that ``run_rounds`` saves for round ``r`` in ``out_dir``; with
    ``r=None``, the one a baseline (``single_step_baseline``, ``one_long_round``) saves in its own
    ``out_dir``."""
    return (round_dir(out_dir, r) if r is not None else Path(out_dir)) / "regressor.pt"


def run_rounds(body, train: list[dict], test: list[dict], out_dir: str | Path, cfg: RoundsConfig, first_fits: FitResult | None = None,
               progress: bool = True, on_round=None) -> list[dict]:  # fmt: skip
    """Run (or resume) R rounds in ``out_dir``; returns one metrics row per round (on ``test``).

    ``first_fits``: round 1's registration when it was already done (notebook 03's fits of the
    same samples, any order); ``on_round(row)`` is called after each round (e.g. to display).
    """
    out = Path(out_dir)
    rank, _ = _dist()
    torch.manual_seed(cfg.seed)
    data = build_trainset(train, cfg.regressor.image_size)
    ids = data.sample_ids
    by_id = {str(s["sample_id"]): s for s in train}
    train_ok = [by_id[i] for i in ids]
    test_eval = test[: cfg.n_eval]
    store = FitStore(ids)
    model = Regressor(cfg.regressor)
    rows: list[dict] = []
    prev_pred: FitResult | None = None
    for r in range(1, cfg.rounds + 1):
        rd = round_dir(out, r)
        t_round = time.perf_counter()
        # 1. registration
        fpath = rd / "fits.npz"
        if fpath.exists():
            fits = _reorder(load_fits(fpath, body), ids)
        elif r == 1 and first_fits is not None:
            fits = _reorder(first_fits, ids)
            if rank == 0:
                save_fits(fpath, fits, meshes=False)
        else:
            # round 1 from the rest pose; later rounds from the regressor's pose and shape, the stiff
            # stage trying four headings around its rotation (its weakest output)
            rc = RegistrationConfig.with_iters(cfg.first_iters if r == 1 else cfg.later_iters, seed=cfg.seed, device=cfg.device)
            fits = _register_sharded(body, train_ok, rc, prev_pred if r > 1 else None, fpath, progress)
        # 2. the fit store keeps the best fit per sample
        spath = rd / "store.npz"
        if spath.exists():
            store = FitStore.load(spath)
            replaced = int((store.round == r).sum())
        else:
            replaced = store.update(fits, r)
            if rank == 0:
                store.save(spath)
        # 3. train (continuing from the previous round's weights)
        ckpt = regressor_path(out, r)
        if r > 1 and not ckpt.exists():
            model.load_state_dict(torch.load(regressor_path(out, r - 1), map_location="cpu", weights_only=False)["model"])
        targets, w = store.targets(data.sizes), store.valid
        if r == 1 and not ckpt.exists():
            model.set_mean(targets[w])
        tcfg = replace(cfg.train, epochs=cfg.epochs_per_round, seed=cfg.seed * 1000 + r, device=cfg.device or cfg.train.device)
        sub = _subset(data, w)
        hist = train_regressor(body, model, sub, targets[w], tcfg, ckpt=ckpt, tag=f"round {r}", progress=progress)
        # 4. evaluate on the test set
        mpath = rd / "metrics.json"
        if mpath.exists():
            row = json.loads(mpath.read_text())
        else:
            row, _, _ = evaluate_model(body, model, test_eval, cfg.refine_iters, cfg.device, cfg.seed)
            fit_err = _fit_error(body, fits, train_ok)
            store_err = _fit_error(body, store.as_fits(body), train_ok)
            row = {"round": r, **row, "mean_pose_pa_mpjpe_mm": mean_pose_error(body, targets[w], test_eval), "fits_replaced": replaced,
                   "fit_loss_median": float(store.loss[store.valid].median()), "train_fit_pa_mpjpe_mm": fit_err, "store_fit_pa_mpjpe_mm": store_err,
                   "train_loss_last": hist[-1]["total"], "train_samples": int(w.sum()), "seconds": time.perf_counter() - t_round}  # fmt: skip
            if rank == 0:
                atomic_write_json(mpath, row)
        rows.append(row)
        if on_round is not None:
            on_round(row)
        # 5. predict on the training set: the next round's start
        if r < cfg.rounds:
            ppath = rd / "pred_train.npz"
            if ppath.exists():
                prev_pred = _reorder(load_fits(ppath, body), ids)
            else:
                prev_pred = predict(body, model, data, device=cfg.device)
                if rank == 0:
                    save_fits(ppath, prev_pred, meshes=False)
    if cfg.finetune_epochs:
        rows.append(_finetune(body, model, data, store, [by_id[i] for i in ids], test_eval, out, cfg, progress))
        if on_round is not None:
            on_round(rows[-1])
    return rows


def _finetune(body, model: Regressor, data: TrainSet, store: FitStore, train: list[dict], test: list[dict], out: Path, cfg: RoundsConfig,
              progress: bool) -> dict:  # fmt: skip
    """The last round's regressor trained on for ``finetune_epochs`` on the samples matching
    ``finetune_where`` (their stored fits); resumable like a round."""
    fd = out / "finetune"
    mpath = fd / "metrics.json"
    if mpath.exists():
        return json.loads(mpath.read_text())
    keep = torch.tensor([all(str(s.get(k)) == str(v) for k, v in cfg.finetune_where.items()) for s in train]) & store.valid
    if not keep.any():
        raise ValueError(f"finetune_where {cfg.finetune_where}: no fitted training sample matches")
    t0 = time.perf_counter()
    tcfg = replace(cfg.train, epochs=cfg.finetune_epochs, seed=cfg.seed * 1000 + 999, device=cfg.device or cfg.train.device)
    hist = train_regressor(body, model, _subset(data, keep), store.targets(data.sizes)[keep], tcfg, ckpt=regressor_path(fd), tag="fine-tune",
                           progress=progress)  # fmt: skip
    row, _, _ = evaluate_model(body, model, test, cfg.refine_iters, cfg.device, cfg.seed)
    row = {"round": cfg.rounds + 1, "finetune": True, "finetune_where": dict(cfg.finetune_where), **row, "train_samples": int(keep.sum()),
           "train_loss_last": hist[-1]["total"], "seconds": time.perf_counter() - t0}  # fmt: skip
    if _dist()[0] == 0:
        atomic_write_json(mpath, row)
    return row


def _subset(data: TrainSet, keep: torch.Tensor) -> TrainSet:
    k = keep.nonzero()[:, 0]
    return TrainSet(data.images[k], data.dense_vertex[k], data.dense_xy[k], data.dense_w[k], data.keypoints[k], data.sizes[k],
                    [data.sample_ids[i] for i in k.tolist()])  # fmt: skip


def _fit_error(body, fits: FitResult, samples: list[dict]) -> float:
    """Median PA-MPJPE (mm) of the fits against the ground truth (synthetic training data only;
    NaN without it). Registration never sees it."""
    if not all("joints3d" in s for s in samples):
        return float("nan")
    from dalnb.metrics import pa_mpjpe

    ok = fits.status == "ok"
    H = body.keypoints(fits.vertices, "h36m17").numpy()[ok]
    gt = np.stack([s["joints3d"] for s in samples])[ok]
    return float(np.median(pa_mpjpe(H, gt)) * 1000)


def mean_pose_error(body, targets: torch.Tensor, samples: list[dict]) -> float:
    """Mean PA-MPJPE (mm) on ``samples`` of one body for all: the mean pose and segment scales
    of the training targets (N, D) (``regressor.mean_target``, where the regressor starts). A
    regressor near this figure has learned the average body, not the image's; NaN without
    ground truth."""
    if not samples or not all("joints3d" in s for s in samples):
        return float("nan")
    from dalnb.metrics import pa_mpjpe

    with torch.no_grad():
        H = body.keypoints(params_to_body(body, Prediction.from_flat(mean_target(targets)[None])).vertices, "h36m17").numpy()
    gt = np.stack([s["joints3d"] for s in samples])
    return float(pa_mpjpe(np.repeat(H, len(gt), 0), gt).mean() * 1000)


def _baseline(body, train: list[dict], test: list[dict], out_dir: str | Path, cfg: RoundsConfig, epochs: int, setting: str,
              seed_offset: int, fits: FitResult | None, progress: bool) -> dict:  # fmt: skip
    """A regressor trained from scratch for ``epochs`` epochs on ``fits`` (None: no fits, the
    dense and keypoint losses alone), evaluated on ``test``; resumable, metrics in out_dir."""
    out = Path(out_dir)
    mpath = out / "metrics.json"
    if mpath.exists():
        return json.loads(mpath.read_text())
    torch.manual_seed(cfg.seed)
    data = build_trainset(train, cfg.regressor.image_size)
    model = Regressor(cfg.regressor)
    targets, extra = None, {}
    if fits is not None:
        store = FitStore(data.sample_ids)
        store.update(_reorder(fits, data.sample_ids), 1)
        w = store.valid
        targets, data, extra = store.targets(data.sizes)[w], _subset(data, w), {"train_samples": int(w.sum())}
        model.set_mean(targets)
    tcfg = replace(cfg.train, epochs=epochs, seed=cfg.seed * 1000 + seed_offset, device=cfg.device or cfg.train.device)
    hist = train_regressor(body, model, data, targets, tcfg, ckpt=regressor_path(out), tag=setting, progress=progress)
    row, _, _ = evaluate_model(body, model, test[: cfg.n_eval], cfg.refine_iters, cfg.device, cfg.seed)
    row = {"setting": setting, **row, "train_loss_last": hist[-1]["total"], **extra}
    atomic_write_json(mpath, row)
    return row


def single_step_baseline(body, train: list[dict], test: list[dict], out_dir: str | Path, cfg: RoundsConfig, epochs: int,
                         progress: bool = True) -> dict:  # fmt: skip
    """The paper's single-step baseline: the regressor trained on the dense and keypoint losses
    alone (no registration, no fits), for ``epochs`` epochs; resumable like the rounds."""
    return _baseline(body, train, test, out_dir, cfg, epochs, "single step (no registration)", 99, None, progress)


def one_long_round(body, train: list[dict], test: list[dict], out_dir: str | Path, cfg: RoundsConfig, first_fits: FitResult,
                   epochs: int, progress: bool = True, setting: str = "one long round") -> dict:  # fmt: skip
    """Table 4's middle row: round 1's fits only, trained for ``epochs`` epochs (as long as all
    rounds together), no re-registration. Also trains on any subset of the fitted samples
    (pass that subset as ``train``; notebook 06's Table 3 counterpart)."""
    return _baseline(body, train, test, out_dir, cfg, epochs, setting, 98, first_fits, progress)
