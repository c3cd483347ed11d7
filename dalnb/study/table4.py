"""Table 4 (deform-and-learn against its baselines) and the rounds' spread between seeds, read from
the ``rounds`` benchmark's records (``python -m dalnb.bench rounds``; ``dalnb.records``).

A run is the rows one call of the benchmark recorded: the rounds, and beside them the paper's two
baselines (``single_step``: one registration and one training, ``one_long_round``: as many epochs
in one round). Records are grouped by the kind of training annotations (``exact`` or ``real``).
"""

from __future__ import annotations

__all__ = [
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
