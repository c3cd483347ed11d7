"""Notebook 06's ablations as functions that return tables: each registration ablation on the
same held-out bodies, Table 3's training sources, Table 4's baselines from the recorded
benchmark, the refinement curve, and the claims they judge."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd

from dalnb.claims import Claim, beyond, fig7_claims, lower, paired_margin
from dalnb.fitting import RegistrationConfig, ablation_configs, register
from dalnb.metrics import evaluate

__all__ = [
    "registration_row",
    "fig7_table",
    "shape_model_table",
    "lift_samples",
    "dense_count_table",
    "noise_table",
    "source_table",
    "table4_tables",
    "refinement_curve",
    "table3_claim",
    "table4_claims",
    "shape_claim",
    "lifter_claim",
]

METRICS = ("pa_mpjpe_mm", "pve_mm", "mpjpe_mm", "pixel_err")


def registration_row(body, samples: list[dict], cfg: RegistrationConfig, **info) -> dict:
    """Register ``samples`` with ``cfg``: ``info`` plus the metrics against their truth and the seconds."""
    t0 = time.perf_counter()
    e = evaluate(body, register(body, samples, cfg), samples)
    return {**info, **{k: e.get(k) for k in METRICS}, "seconds": time.perf_counter() - t0}


def fig7_table(body, samples: list[dict], reg: RegistrationConfig) -> pd.DataFrame:
    """The paper's Fig. 7: registration without one ingredient at a time."""
    rows = [registration_row(body, samples, c, registration=n) for n, c in ablation_configs(reg).items()]
    return pd.DataFrame(rows)


def shape_model_table(body, samples: list[dict], reg: RegistrationConfig) -> pd.DataFrame:
    """Segment scales free against the template's proportions (scales held at 1)."""
    frozen = replace(reg, stages=[replace(st, free=tuple(f for f in st.free if f != "scales")) for st in reg.stages])
    return pd.DataFrame(
        [
            registration_row(body, samples, reg, shape_model="24 segment scales (length, girth)"),
            registration_row(body, samples, frozen, shape_model="none (template proportions)"),
        ]
    )


def lift_samples(samples: list[dict], lifter) -> list[dict]:
    """The samples with the lifter's depths of their keypoints (unchanged when ``lifter`` is None)."""
    if lifter is None:
        return samples
    from dalnb.lifter import lift_depths

    dz = lift_depths(lifter, np.stack([s["keypoints2d"] for s in samples]))
    return [dict(s, keypoints_depth=z) for s, z in zip(samples, dz)]


def _renders(n: int, seed: int, size: int, **synth) -> list[dict]:
    from dalnb.data.synth import SynthConfig, make_samples

    return make_samples(n, (seed, 606), SynthConfig(image_size=size, anny_fraction=1.0, truncation=0.0, **synth))


def dense_count_table(
    body, n: int, seed: int, size: int, counts: list[int], reg: RegistrationConfig, lifter=None
) -> pd.DataFrame:
    """How many dense points: ``n`` renders with 200 points each, registered with a random subset
    of ``counts[i]`` points."""
    dense200 = lift_samples(_renders(n, seed, size, n_dense=200), lifter)
    rng = np.random.default_rng(seed)
    rows = []
    for k in counts:
        sub = []
        for s in dense200:
            keep = np.sort(rng.choice(len(s["dense_xy"]), min(k, len(s["dense_xy"])), replace=False))
            sub.append(dict(s, dense_xy=s["dense_xy"][keep], dense_vertex=s["dense_vertex"][keep]))
        rows.append(registration_row(body, sub, reg, dense_points=k))
    return pd.DataFrame(rows)


def robust_kernels(reg: RegistrationConfig) -> dict[str, RegistrationConfig]:
    """Squared residuals, a fixed Geman-McClure scale and one narrowing over the fit."""
    sig0 = reg.robust_sigma or RegistrationConfig.robust_sigma  # the default scale where the config squares
    sig1 = reg.robust_sigma_end or RegistrationConfig.robust_sigma_end
    return {
        "squared": replace(reg, robust_sigma=None),
        f"Geman-McClure σ={sig0}": replace(reg, robust_sigma=sig0, robust_sigma_end=None),
        f"Geman-McClure σ={sig0} -> {sig1}": replace(reg, robust_sigma=sig0, robust_sigma_end=sig1),
    }


def noise_table(
    body, n: int, seed: int, size: int, noise_px: list[float], reg: RegistrationConfig, lifter=None
) -> pd.DataFrame:
    """Annotation noise (pixels; from 3 px also 5 % outliers and 3 % left-right swaps) against each
    robust kernel."""
    rows = []
    for px in noise_px:
        big = px >= 3
        noise = dict(noise_px=float(px), outlier_rate=0.05 if big else 0.0, swap_rate=0.03 if big else 0.0)
        ns = lift_samples(_renders(n, seed, size, n_dense=120, **noise), lifter)
        info = dict(noise_px=px, outliers="5 %" if big else "0", swaps="3 %" if big else "0")
        for kern, cfg_k in robust_kernels(reg).items():
            rows.append(registration_row(body, ns, cfg_k, **info, kernel=kern))
    return pd.DataFrame(rows)


def source_table(body, train: list[dict], test: list[dict], out_dir, rc, first_fits, epochs: int) -> pd.DataFrame:
    """Table 3: one long round on mocap poses only, sampled poses only, and half of each (as many
    images each)."""
    from dalnb.training import one_long_round

    by = {src: [s for s in train if s.get("pose_source") == src] for src in ("mocap", "limits")}
    k = min(len(v) for v in by.values())
    subsets = {
        "mocap poses only": by["mocap"][:k],
        "sampled poses only": by["limits"][:k],
        "mixed (half each)": by["mocap"][: (k + 1) // 2] + by["limits"][: k // 2],
    }
    rows = []
    for name, sub in subsets.items():
        out = out_dir / name.split(" ")[0]
        r = one_long_round(body, sub, test, out, rc, first_fits, epochs, progress=False, setting=name)
        rows.append(
            {
                "training poses": name,
                "images": len(sub),
                **{c: r[c] for c in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pixel_err")},
            }
        )
    return pd.DataFrame(rows)


def real_source_table(
    body, train: list[dict], test: tuple[str, list[dict]], out_dir, rc, first_fits, epochs: int
) -> pd.DataFrame | None:
    """Table 3 on the paper's datasets: one long round on DensePose-COCO images only, Human3.6M
    frames only, and half of each (as many images each), measured on ``test`` (name, samples);
    None unless the run has both sources."""
    from dalnb.data.sources import source_of
    from dalnb.training import one_long_round

    by = {k: [s for s in train if source_of(s) == k] for k in ("densepose_coco", "h36m")}
    if not all(by.values()):
        return None
    k = min(len(v) for v in by.values())
    subsets = {
        "DensePose-COCO only": by["densepose_coco"][:k],
        "Human3.6M only": by["h36m"][:k],
        "both (half each)": by["densepose_coco"][: (k + 1) // 2] + by["h36m"][: k // 2],
    }
    rows = []
    for name, sub in subsets.items():
        r = one_long_round(body, sub, test[1], out_dir / name.split(" ")[0], rc, first_fits, epochs, False, name)
        rows.append(
            {
                "training images": name,
                "images": len(sub),
                "test set": f"{test[0]} ({len(test[1])})",
                **{c: r.get(c) for c in ("mpjpe_mm", "pa_mpjpe_mm", "keypoint_err_px")},
            }
        )
    return pd.DataFrame(rows)


def table4_tables(
    this_run: list[dict], records: list[dict]
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame]:
    """Table 4: this run's rounds beside the newest recorded benchmark run with the baselines (per
    kind of training annotations), and the margins of every recorded seed of that benchmark."""
    from dalnb.study.table4 import table4_margins, table4_runs, table4_seeds

    this = pd.DataFrame(this_run)
    rows = [this.assign(setting="this run, round " + this["round"].astype(str))]
    bench = {kind: pd.DataFrame(r) for kind, r in table4_runs(records).items()}
    for kind, b in bench.items():
        names = [
            f"round {int(r['round'])}" if r["setting"] == "rounds" else r["setting"].replace("_", " ")
            for _, r in b.iterrows()
        ]
        rows.append(
            b.assign(
                setting=[f"bench ({r['preset']}, {kind} annotations), {n}" for n, (_, r) in zip(names, b.iterrows())]
            )
        )
    t4 = pd.concat(rows, ignore_index=True)[
        ["setting", "mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pixel_err", "refined_pixel_err"]
    ]
    seeds = table4_seeds(records)
    repeats = pd.DataFrame([{"annotations": kind, **m} for kind, runs in seeds.items() for m in table4_margins(runs)])
    return t4, bench, repeats


def refinement_curve(body, model, samples: list[dict], iters: list[int], refine) -> pd.DataFrame:
    """Error and time against refinement iterations from the regressor's prediction (0: the
    prediction itself); ``refine(n)`` gives the registration config of n iterations."""
    from dalnb.training import build_trainset, predict

    pred = predict(body, model, build_trainset(samples, model.cfg.image_size), device=refine(1).device)
    rows = []
    for it in iters:
        t0 = time.perf_counter()
        f = pred if it == 0 else register(body, samples, refine(it), init=pred)
        e = evaluate(body, f, samples)
        rows.append(
            {
                "iterations": it,
                **{k: e[k] for k in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pixel_err")},
                "seconds per image": (time.perf_counter() - t0) / len(samples),
            }
        )
    return pd.DataFrame(rows)


def table3_claim(t3: pd.DataFrame) -> Claim:
    mixed = t3[t3["training poses"].str.startswith("mixed")].iloc[0]
    single = t3[~t3["training poses"].str.startswith("mixed")]
    figs = "; ".join(f"{r['training poses']} {r['pa_mpjpe_mm']:.0f} mm" for _, r in t3.iterrows())
    return Claim(
        "Mixing training sources beats any single one",
        "Table 3: the mixed training set gives the lowest error",
        f"{figs} PA-MPJPE ({int(mixed['images'])} images each)",
        lower(mixed["pa_mpjpe_mm"], single["pa_mpjpe_mm"].min()),
    )


_TABLE4 = (
    ("single_step", "Deform-and-learn beats the single-step baseline (all losses at once, no registration)"),
    ("one_long_round", "Deform-and-learn beats one long round on the first fits (no re-registration)"),
)


def table4_claims(bench: dict[str, pd.DataFrame], repeats: pd.DataFrame) -> list[Claim]:
    """Table 4's claims over every recorded seed: the mean margin of the rounds over each baseline
    weighed against its spread between seeds (a lead no larger than the spread is within noise)."""
    if not bench:
        return [
            Claim(
                "Deform-and-learn beats the single-step baseline and one long round",
                "Table 4",
                "no recorded bench rounds run with the baselines",
                None,
                "run python -m dalnb.bench rounds --record",
            )
        ]
    claims = []
    for kind, b in bench.items():
        last = b[b["setting"] == "rounds"].sort_values("round").iloc[-1]
        where = (
            f"bench rounds, {kind} training annotations ({last['preset']}, {last['machine']['cpu'][:28]}, "
            f"{last['date']})"
        )
        reps = repeats[repeats["annotations"] == kind]
        note = (
            f"{len(reps)} seeds, each its own data and training: the mean margin is weighed against its sd"
            if len(reps) > 1
            else "one seed recorded: how far the margin moves with another is not measured"
        )
        for setting, text in _TABLE4:
            pairs = list(zip(reps["rounds_mpjpe_mm"], reps[f"{setting}_mpjpe_mm"]))
            each = zip(reps["seed"], reps["rounds"], pairs)
            figs = "; ".join(f"seed {s}: round {r} {a:.0f} mm MPJPE against {c:.0f}" for s, r, (a, c) in each)
            margin = paired_margin(pairs)  # negative: the rounds are better
            claims.append(
                Claim(
                    text,
                    "Table 4",
                    f"{figs}; rounds minus baseline {margin} ({where})",
                    beyond(-margin.mean, margin.sd),
                    note,
                )
            )
    return claims


def shape_claim(shape: pd.DataFrame) -> Claim:
    pve = shape["pve_mm"]
    return Claim(
        "A rigged template with per-segment scales fits body shape without a statistical body model",
        "the method's shape model: segment scales with smoothness, no learned shape space",
        f"{pve.iloc[0]:.0f} mm PVE with segment scales against {pve.iloc[1]:.0f} mm with the template's proportions",
        lower(pve.iloc[0], pve.iloc[1]),
    )


def lifter_claim(lifter_records: pd.DataFrame) -> Claim:
    """The cGAN's geometric losses, from the recorded lifter benchmark."""
    text = (
        "The cGAN's geometric losses (bone symmetry and ratios) improve the lifted poses",
        "the lifter's ablation (Kudo et al. setting)",
    )
    L = lifter_records.set_index("setting") if len(lifter_records) else None
    if L is None or not {"full", "no_geometric_losses"} <= set(L.index):
        return Claim(*text, "no recorded lifter benchmark", None, "run python -m dalnb.bench lifter --record")
    a, b = L.loc["full", "pa_mpjpe_mm"], L.loc["no_geometric_losses", "pa_mpjpe_mm"]
    ours = f"{a:.0f} mm PA-MPJPE with them against {b:.0f} mm without (recorded bench lifter, {L.loc['full', 'date']})"
    return Claim(*text, ours, lower(a, b))


def ablation_claims(t3, bench, repeats, fig7, shape, lifter_records, study_n: int, prior: str) -> list[Claim]:
    """Notebook 06's scorecard."""
    claims = [table3_claim(t3), *table4_claims(bench, repeats)]
    claims += fig7_claims(
        fig7.set_index("registration")["pa_mpjpe_mm"].to_dict(), f"{study_n} held-out bodies, depth prior: {prior}"
    )
    return claims + [shape_claim(shape), lifter_claim(lifter_records)]
