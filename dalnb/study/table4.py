"""Table 4 (deform-and-learn against its baselines) and the rounds' spread between seeds, read from
the ``rounds`` benchmark's records (``python -m dalnb.bench rounds``; ``dalnb.records``).

A run is the rows one call of the benchmark recorded: the rounds, and beside them the paper's two
baselines (``single_step``: one registration and one training, ``one_long_round``: as many epochs
in one round). Records are grouped by the kind of training annotations (``exact`` or ``real``).
"""

from __future__ import annotations

import pandas as pd

from dalnb.claims import Claim, beyond, paired_margin

__all__ = [
    "table4_tables",
    "table4_claims",
    "CONFIG_KEYS",
    "table4_runs",
    "table4_seeds",
    "table4_margins",
    "seed_spread",
    "hair_table",
    "run_name",
    "annotation_kind",
    "record_key",
    "run_rows",
]


def table4_runs(records: list[dict]) -> dict[str, list[dict]]:
    """Recorded ``rounds`` records -> for each kind of training annotations (``exact`` where a
    record names none), the rows of the newest run that has the paper's baselines beside its
    rounds, one per (setting, round), the last recorded (a resumed run records its finished
    rounds again)."""
    newest: dict[str, str] = {}
    for r in records:
        if r["setting"] == "single_step":
            newest[annotation_kind(r)] = run_name(r)
    return {kind: run_rows(records, name, kind) for kind, name in newest.items()}


# what makes two recorded runs the same experiment but for the seed (each seed: its own data and training): the
# fields of ``record_config``
CONFIG_KEYS = (
    "preset",
    "n_train",
    "n_test",
    "image_size",
    "backbone",
    "epochs_per_round",
    "batch",
    "lr",
    "mirror",
    "w_pose",
    "w_joints",
    "w_joints_camera",
    "robust_sigma_end",
    "hair",
)


def table4_seeds(records: list[dict]) -> dict[str, dict[int, list[dict]]]:
    """For each kind of training annotations: the newest run with baselines (``table4_runs``) and
    every recorded run of the same config with baselines and another seed, newest per seed:
    ``{kind: {seed: rows}}``. A record without a seed ran with seed 0."""
    out: dict[str, dict[int, list[dict]]] = {}
    for kind, rows in table4_runs(records).items():
        config = record_key(rows[0])
        by_seed: dict[int, str] = {}
        for r in records:
            if r["setting"] == "single_step" and annotation_kind(r) == kind and record_key(r) == config:
                by_seed[int(r.get("seed", 0))] = run_name(r)
        out[kind] = {seed: run_rows(records, name, kind) for seed, name in sorted(by_seed.items())}
    return out


def table4_margins(seed_runs: dict[int, list[dict]]) -> list[dict]:
    """``table4_seeds``'s runs of one kind -> one row per seed: the last round's MPJPE beside each
    baseline's and the margin, rounds minus baseline (negative: the rounds are better; NaN where a
    baseline was not recorded)."""
    out = []
    for seed, rows in seed_runs.items():
        last = max((r for r in rows if r["setting"] == "rounds"), key=lambda r: r["round"])
        base = {r["setting"]: r["mpjpe_mm"] for r in rows if r["setting"] != "rounds"}
        out.append(
            {
                "seed": seed,
                "run": run_name(last),
                "rounds": int(last["round"]),
                "rounds_mpjpe_mm": last["mpjpe_mm"],
                **{f"{k}_mpjpe_mm": base.get(k, float("nan")) for k in ("single_step", "one_long_round")},
                **{
                    f"{k}_margin_mm": last["mpjpe_mm"] - base.get(k, float("nan"))
                    for k in ("single_step", "one_long_round")
                },
            }
        )
    return out


def run_name(r: dict) -> str:
    return r.get("run") or r["date"] + r["preset"]


def annotation_kind(r: dict) -> str:
    """The record's kind of training annotations (``exact`` where a record names none)."""
    return r.get("annotations", "exact")


def record_key(r: dict) -> tuple:
    return tuple(r.get(k) for k in CONFIG_KEYS)


def run_rows(records: list[dict], name: str, kind: str) -> list[dict]:
    """One row per (setting, round) of run ``name``, the last recorded (a resumed run records its
    finished rounds again); rounds first."""
    rows: dict = {}
    for r in records:
        if run_name(r) == name and annotation_kind(r) == kind:
            rows.pop((r["setting"], r["round"]), None)
            rows[(r["setting"], r["round"])] = r
    return sorted(rows.values(), key=lambda r: (r["setting"] != "rounds", r["round"] or 0))


def hair_table(hr):
    """The hair ablation's records (``rounds_hair``): bald against hair per training setting, and
    a line saying what the runs were."""
    import numpy as np

    hr = hr.assign(renders=np.where(hr["hair"], "hair", "bald"))
    rnd = "round " + hr["round"].fillna(0).astype(int).astype(str)
    hr = hr.assign(training=np.where(hr["setting"] == "rounds", rnd, hr["setting"].str.replace("_", " ")))
    cols = {
        "mpjpe_mm": "MPJPE",
        "pa_mpjpe_mm": "PA-MPJPE",
        "torso_rot_median_deg": "torso rotation, median (deg)",
        "torso_rot_over_90_pct": "over 90 deg (%)",
        "refined_mpjpe_mm": "refined MPJPE",
    }
    order = list(dict.fromkeys(hr["training"]))
    t = hr.pivot_table(index="training", columns="renders", values=list(cols), sort=False).reindex(order)[list(cols)]
    first = hr.iloc[0]
    about = (
        f"bench rounds, {first['annotations']} annotations, seed {int(first['seed'])}, {first['n_train']} renders at "
        f"{first['image_size']} px, {first['backbone']}; {first['machine']['cpu']}, {hr['date'].iloc[-1]}"
    )
    return t.rename(columns=cols, level=0), about


def seed_spread(records: list[dict], kind: str = "exact") -> dict:
    """How far the rounds benchmark moves between seeds (each its own data and training), for one
    kind of training annotations (``table4_seeds``): sample standard deviations (mm) over seeds of
    each round's MPJPE fall (``fall``, by round), of the fit store's improvement from round 1
    (``store``) and of the last round's lead over one mean body for all (``mean_body``); ``n`` the
    seeds. Empty when fewer than two seeds are recorded."""
    import statistics

    runs = table4_seeds(records).get(kind, {})
    if len(runs) < 2:
        return {}
    per = [sorted((r for r in rows if r["setting"] == "rounds"), key=lambda r: r["round"]) for rows in runs.values()]
    n_rounds = min(len(p) for p in per)
    falls = {r: [p[r - 2]["mpjpe_mm"] - p[r - 1]["mpjpe_mm"] for p in per] for r in range(2, n_rounds + 1)}
    store = [p[0]["store_fit_pa_mpjpe_mm"] - p[n_rounds - 1]["store_fit_pa_mpjpe_mm"] for p in per]
    gap = [p[n_rounds - 1]["mean_pose_pa_mpjpe_mm"] - p[n_rounds - 1]["pa_mpjpe_mm"] for p in per]
    sd = statistics.stdev
    return {"n": len(per), "fall": {r: sd(v) for r, v in falls.items()}, "store": sd(store), "mean_body": sd(gap)}


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
