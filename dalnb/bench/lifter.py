"""``python -m dalnb.bench lifter``: 3D accuracy of lifted keypoints from 2D alone.

Trained on 30k synthetic 2D keypoint sets (never 3D), 6,000 steps; held-out synthetic bodies
(anny phenotypes), 2D input with detector-like noise (Gaussian, ~1.5 % of the crop); PA-MPJPE and
scale-aligned MPJPE of the lifted COCO-17 joints against the truth, beside the zero-depth baseline;
settings without the geometric losses (the Kudo et al. setting), without multi-view rotations,
without the cycle term and without the orientation prior; a supervised ceiling (the same generator trained
on the pool's true depths: a diagnostic bound, 3D labels the method never has); each also on the test
bodies posed from mocap and from joint-limit samples apart; the Human3.6M frames in ../shared/data as a
real-data check; and
registration with lifted depths against 2D only, on images with dense points and keypoints and on the
same images with keypoints (and the person mask) only, as MPII / LSP / a photo give them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from dalnb.bench import emit, register_bench
from dalnb.study.lifter import evaluate_lift, pa_by_pose_source
from dalnb.study.registration import evaluate_fits

SETTINGS = {
    "full": {},
    "no_geometric_losses": dict(w_sym=0.0, w_ratio=0.0),
    "no_multiview": dict(rotations=1),
    "no_cycle": dict(w_cycle=0.0),
    "no_orientation_prior": dict(w_orient=0.0),
}


def lifter_data(n_train: int = 30000, n_test: int = 300, seed: int = 0):
    """Training pool: ``n_train`` keypoint sets drawn without rendering (``keypoints_only``: the generator's
    poses, bodies and cameras; 30k in ~15 s; their 3D serves the supervised ceiling only); test: rendered anny
    bodies with detector-like noise added to their 2D keypoints."""
    from dalnb.data.synth import SynthConfig, keypoints_only, make_samples

    pool = keypoints_only(n_train, (seed, 1), SynthConfig(image_size=64, anny_fraction=0.0))
    te = make_samples(
        n_test,
        (seed, 2),
        SynthConfig(image_size=128, anny_fraction=1.0, store_vertices=False, n_dense=10, truncation=0.0),
    )
    kt = np.stack([s["keypoints2d"] for s in te])
    kt[..., 2] = (kt[..., 2] > 0).astype(np.float32)  # occluded (v=1) keypoints are still annotated
    kt[..., :2] += np.random.default_rng(seed).normal(0, 0.015 * 128, kt[..., :2].shape)
    return pool, kt, np.stack([s["keypoints3d"] for s in te]), te


def supervised_lifter(pool: dict, cfg, seed: int = 0):
    """A diagnostic, not the method: the lifter's generator trained on the pool's true depths (3D labels, which
    the paper's setting does not have), squared error in the lifter's normalised units, as long as the cGAN. It
    bounds what lifting the same 2D keypoints can reach with this network and this many steps."""
    from dalnb.lifter import Generator, Lifter, normalize_2d, template_torso_m
    from dalnb.lifter.joints import HIPS

    kp = torch.as_tensor(pool["keypoints2d"])
    keep = (kp[..., 2] > 0).sum(1) >= 8
    xy, m, scale = normalize_2d(kp[keep])
    X, cam = torch.as_tensor(pool["keypoints3d"])[keep], torch.as_tensor(pool["camera"])[keep]
    # camera-frame depth relative to the hips, in the 2D normalisation's units (focal / distance pixels per metre)
    z = (X[..., 2] - X[:, HIPS, 2].mean(1, keepdim=True)) * (cam[:, 0] / cam[:, 3])[:, None] / scale[:, None]
    torch.manual_seed(seed)
    G, g = Generator(cfg), torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(G.parameters(), lr=1e-3)
    for _ in range(cfg.steps):
        i = torch.randint(0, len(xy), (cfg.batch,), generator=g)
        noisy = xy[i] + cfg.input_noise * torch.randn(xy[i].shape, generator=g) * m[i][..., None]
        loss = ((G(noisy, m[i]) - z[i]) ** 2 * m[i]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    G.eval()
    return Lifter(G, cfg, template_torso_m())


@register_bench("lifter")
def bench_lifter(
    steps: int = 6000,
    settings=(*SETTINGS, "supervised_ceiling"),
    device: str | None = None,
    registration_check: bool = True,
    n_train: int = 30000,
    ckpt_dir: str | None = None,
    **_,
) -> list[dict]:
    """``ckpt_dir``: keep each setting's lifter there (``<setting>_<steps>.pt``): an interrupted run
    resumes, and a finished one is reused (its record says so) instead of trained again."""
    from dalnb.lifter import LifterConfig, lift_3d, lift_depths, normalize_2d, train_lifter, with_lifted_depths

    pool3d, kt, gt, te = lifter_data(n_train)
    pool = pool3d["keypoints2d"]
    if ckpt_dir:
        Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
    out = []
    xy, m, _ = normalize_2d(torch.as_tensor(kt))
    zero = np.concatenate([xy.numpy(), np.zeros((len(kt), 17, 1))], -1)
    src = [s["pose_source"] for s in te]
    by_source = lambda p3: pa_by_pose_source(p3, gt, kt[..., 2], src).items()  # noqa: E731
    rec = lambda p3: {**evaluate_lift(p3, gt, kt[..., 2]), **{f"pa_mpjpe_{k}_mm": v for k, v in by_source(p3)}}  # noqa: E731
    out.append(emit("lifter", {"setting": "zero_depth_baseline", **rec(zero)}))
    lifters = {}
    for name in settings:
        t0 = time.perf_counter()
        ckpt = Path(ckpt_dir) / f"{name}_{steps}.pt" if ckpt_dir else None
        if name == "supervised_ceiling":  # 3D labels: a diagnostic bound, never the chain's lifter
            L = supervised_lifter(pool3d, LifterConfig(steps=steps, device="cpu"))
        else:
            L = train_lifter(pool, LifterConfig(steps=steps, device=device, **SETTINGS[name]), ckpt=ckpt)
        reused = L.resumed_at >= steps
        lifters[name] = L
        out.append(
            emit(
                "lifter",
                {
                    "setting": name,
                    **rec(lift_3d(L, kt)),
                    "steps": steps,
                    "n_train": len(pool),
                    "train_s": round(time.perf_counter() - t0, 1),
                    **({"reused_checkpoint": str(ckpt)} if reused else {}),
                },
            )
        )
    full = lifters.get("full")
    h36m = Path(__file__).resolve().parents[3] / "shared" / "data" / "03_pose3d_h36m" / "test_h36m_body3d.npz"
    if full is not None and h36m.exists():
        from dalnb.body import skeleton as sk
        from dalnb.data.loaders import load_h36m

        r = load_h36m(h36m)
        kp = np.stack([s["keypoints2d"] for s in r])  # 12 limb joints mapped by name, face missing
        pred = lift_3d(full, kp)
        names = [n for n in sk.COCO17 if kp[0, sk.COCO17.index(n), 2] > 0]
        ci = [sk.COCO17.index(n) for n in names]
        hi = [sk.H36M17.index({"left_ankle": "left_foot", "right_ankle": "right_foot"}.get(n, n)) for n in names]
        gt_h = np.stack([s["joints3d"] for s in r])[:, hi]
        zero_h = pred[:, ci].copy()
        zero_h[..., 2] = 0
        from dalnb import metrics as M

        out.append(
            emit(
                "lifter",
                {
                    "setting": "full_on_h36m_frames",
                    "pa_mpjpe_mm": float(M.pa_mpjpe(pred[:, ci], gt_h).mean() * 1000),
                    "zero_depth_pa_mpjpe_mm": float(M.pa_mpjpe(zero_h, gt_h).mean() * 1000),
                    "n": len(r),
                    "joints": len(ci),
                },
            )
        )
    if full is not None and registration_check:
        from dalnb import metrics as M
        from dalnb.bench.registration import benchmark_samples
        from dalnb.body.model import BodyModel
        from dalnb.fitting import RegistrationConfig, register, without_dense

        body = BodyModel.default()
        dense = benchmark_samples(64, "c_2d_only")
        kp = np.stack([s["keypoints2d"] for s in dense])
        d = lift_depths(full, kp)
        # which way each limb points in depth: the lifter's own depths against the fits' (what the prior could fix)
        gz = np.stack([s["gt_keypoints_depth"] for s in dense])
        signs = lambda z: M.limb_depth_sign_accuracy(z, gz)  # noqa: E731
        fz = lambda f: body.keypoints(f.vertices, "coco17")[..., 2].numpy()  # noqa: E731
        acc = signs(d)
        out.append(
            emit(
                "lifter",
                {
                    "setting": "lifted_depths_limb_signs",
                    "limb_depth_sign_accuracy": acc,
                    "mean_limb_depth_sign_accuracy": float(np.nanmean(list(acc.values()))),
                    "n": len(dense),
                },
            )
        )
        # two regimes: dense points + keypoints (DensePose-like), and the same images with keypoints (and mask) only
        for prefix, samples in (
            ("registration", dense),
            ("registration_keypoints_only", [without_dense(s) for s in dense]),
        ):
            lifted = with_lifted_depths(samples, d)  # NaN = no prior there (prepare_batch)
            for name, ss in (("2d_only", samples), ("with_lifted_depths", lifted)):
                f = register(body, ss, RegistrationConfig.with_iters(300))
                acc = signs(fz(f))
                out.append(
                    emit(
                        "lifter",
                        {
                            "setting": f"{prefix}_{name}",
                            **evaluate_fits(body, f, samples),
                            "limb_depth_sign_accuracy": acc,
                            "mean_limb_depth_sign_accuracy": float(np.nanmean(list(acc.values()))),
                        },
                    )
                )
    return out
