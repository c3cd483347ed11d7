"""The run's index page: links to each notebook's report, the headline numbers beside the paper's
and peers', the scorecard of the paper's claims, and where each of the paper's tables stands.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import asdict
from pathlib import Path

from dalnb.io import atomic_write_json, atomic_write_text
from dalnb.paths import shown
from dalnb.run import Run
from dalnb.study import paper as P

PAPER_TABLES = (
    (
        "Table 1: 3D error against peers",
        "05 (Table 1 counterpart)",
        "No Human3.6M training images or MoSh here: ours is measured on held-out synthetic anny bodies; the "
        "Human3.6M protocol "
        "runs end to end on 4 real frames (05) as a check, not a benchmark.",
    ),
    (
        "Table 2: per-pixel error, refinement",
        "05 (Table 2 counterpart)",
        "No DensePose-COCO training set: synthetic dense points, plus one real DensePose-COCO person "
        "(part-level error).",
    ),
    (
        "Table 3: training data sources",
        "06 (Table 3 counterpart)",
        "Pose sources (motion capture / sampled / mixed) stand in for datasets.",
    ),
    (
        "Table 4, Fig. 8: rounds",
        "04 and 06 (Table 4 counterpart)",
        "Held-out synthetic bodies; bench rounds adds the single-step and one-long-round baselines.",
    ),
    ("Fig. 7: registration terms", "03 and 06 (Fig. 7 counterpart)", "Held-out anny bodies, exact and lifted depths."),
    (
        "cGAN lifter and its losses",
        "02 and 06",
        "Synthetic 2D keypoints with detector-like noise; 4 real Human3.6M frames.",
    ),
)


def headline_rows(run_dir: Path) -> list[tuple[str, str, str, str]]:
    """(quantity, ours with where/what machine, paper, peers) from the run's outputs and the
    recorded benchmarks; rows whose inputs are missing are left out."""
    import json

    from dalnb.records import load_records

    rows = []
    run = Run(run_dir)
    rounds = [run.round_metrics(r) for r in run.rounds_done() if run.round_metrics(r).exists()]
    data = f"this run: synthetic renders at {_image_size(run_dir)} px, held-out anny bodies"
    if rounds:
        first, last = (json.loads(p.read_text()) for p in (rounds[0], rounds[-1]))
        rows.append(
            (
                "3D error, regressor (MPJPE / PA-MPJPE)",
                f"{last['mpjpe_mm']:.0f} / {last['pa_mpjpe_mm']:.0f} mm after {len(rounds)} rounds ({data})",
                f"{P.ROUNDS5_MPJPE_MM:.0f} mm MPJPE after 5 rounds (Human3.6M)",
                f"HMR unpaired 3D: {P.HMR_UNPAIRED_MM[0]:.0f} / {P.HMR_UNPAIRED_MM[1]} mm (Human3.6M)",
            )
        )
        rows.append(
            (
                "rounds: last / first MPJPE",
                f"{last['mpjpe_mm'] / first['mpjpe_mm']:.2f} ({data})",
                f"{P.ROUNDS5_MPJPE_MM:.0f} / {P.ROUND1_MPJPE_MM:.0f} = {P.ROUNDS_RATIO:.2f}",
                "",
            )
        )
        rows.append(
            (
                "per-pixel error, regressor &rarr; refined",
                f"{last['pixel_err']:.1f} &rarr; {last['refined_pixel_err']:.1f} px ({data}, exact dense points)",
                f"{P.PIXEL_REGRESSOR_PX} &rarr; {P.PIXEL_REFINED_PX} px (DensePose-COCO photos)",
                "",
            )
        )
    rows += table4_rows(load_records("rounds"))
    rows += speed_rows(load_records("registration"), load_records("predict"))
    lf = {r["setting"]: r for r in load_records("lifter")}
    if "full" in lf and "zero_depth_baseline" in lf:
        rows.append(
            (
                "lifter PA-MPJPE (zero depth)",
                f"{lf['full']['pa_mpjpe_mm']:.0f} mm ({lf['zero_depth_baseline']['pa_mpjpe_mm']:.0f} mm), synthetic, "
                f"{lf['full']['date']}",
                "",
                "Kudo et al. / Chen et al.: Human3.6M only",
            )
        )
    return rows


def _image_size(run_dir: Path) -> str:
    """The run's image size (pixels), from its saved config ('?' when none was saved)."""
    import yaml

    path = Run(run_dir).config("01_data_prep")
    if not path.exists():
        return "?"
    return str(yaml.safe_load(path.read_text())["data"]["synth"]["image_size"])


def table4_rows(records: list[dict]) -> list[tuple[str, str, str, str]]:
    """Headline rows from recorded ``bench rounds`` runs: per kind of training annotations, the
    newest run with baselines (round 1 -> last, each baseline) and, over every recorded seed of
    its config, the margin of the rounds over one long round (negative: the rounds win)."""
    from dalnb.claims import paired_margin
    from dalnb.study.table4 import table4_margins, table4_runs, table4_seeds

    rows = []
    seeds = table4_seeds(records)
    for kind, recs in table4_runs(records).items():
        rr = [r for r in recs if r["setting"] == "rounds"]
        base = {r["setting"]: r for r in recs if r["setting"] != "rounds"}
        a, b = rr[0], rr[-1]
        vs = "; ".join(
            f"{k.replace('_', ' ')} {base[k]['mpjpe_mm']:.0f}" for k in ("single_step", "one_long_round") if k in base
        )
        margin = paired_margin(
            [(m["rounds_mpjpe_mm"], m["one_long_round_mpjpe_mm"]) for m in table4_margins(seeds[kind])]
        )
        rows.append(
            (
                f"bench rounds, {kind} training annotations: MPJPE round 1 &rarr; last (baselines)",
                f"{a['mpjpe_mm']:.0f} &rarr; {b['mpjpe_mm']:.0f} mm ({vs} mm; seed {b.get('seed', 0)}, "
                f"{b['preset']}, {b['n_train']} renders, "
                f"{b['machine']['cpu'][:30]}, {b['date']}); rounds minus one long round: {margin}",
                f"{P.ROUND1_MPJPE_MM:.0f} &rarr; {P.ROUNDS5_MPJPE_MM:.0f} mm (Human3.6M); single step clearly worse",
                "",
            )
        )
    return rows


def latest_by(records: list[dict], key) -> list[dict]:
    """The newest record (last in the file) for each ``key(record)``, in order of first appearance."""
    out: dict = {}
    for r in records:
        out[key(r)] = r
    return list(out.values())


def _device_label(r: dict) -> str:
    m = r.get("machine", {})
    if r.get("device") == "cuda":
        return m.get("gpu") or r.get("gpu") or "GPU"
    return f"{m.get('cpu', 'CPU')[:30]}, {m.get('cores', '?')} cores"


def _newest_per_device(records: list[dict], key) -> dict[str, list[dict]]:
    """Records grouped by device (CPU, each GPU), the newest one per ``key(record)`` within each."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(_device_label(r), []).append(r)
    return {dev: latest_by(rs, key) for dev, rs in groups.items()}


def _dates(records: list[dict]) -> str:
    return ", ".join(sorted({r["date"] for r in records}))


def speed_rows(registration: list[dict], predict: list[dict]) -> list[tuple[str, str, str, str]]:
    """Headline rows for registration speed and prediction latency, one per device (CPU, each GPU):
    the newest record per configuration, so a figure never mixes machines or an old code's run."""
    rows = []
    speed = [r for r in registration if r.get("kind") == "speed" and not r.get("silhouette")]
    for dev, mine in _newest_per_device(speed, lambda r: (r["batch"], bool(r.get("compiled")))).items():
        batched = [r for r in mine if r["batch"] > 1]
        single = [r for r in mine if r["batch"] == 1]
        shown = ([max(batched, key=lambda r: r["fits_per_s"])] if batched else []) + (
            [min(single, key=lambda r: r["seconds_per_batch"])] if single else []
        )
        mode = lambda r: "compiled" if r.get("compiled") else "eager"  # noqa: E731
        parts = [
            f"{r['fits_per_s']:.0f} fits/s at batch {r['batch']} ({mode(r)})"
            if r["batch"] > 1
            else f"{r['seconds_per_batch']:.2f} s for one image ({mode(r)})"
            for r in shown
        ]
        rows.append(
            (
                f"registration speed, 100 it ({html.escape(dev)})",
                "; ".join(parts) + f" ({_dates(shown)})",
                "5-6 s per image (50 it)",
                "SMPLify-X ~60 s per image",
            )
        )
    latency = [r for r in predict if r.get("kind") == "latency"]
    for dev, mine in _newest_per_device(latency, lambda r: r["backbone"]).items():
        rows.append(
            (
                f"prediction latency, one 224-px image ({html.escape(dev)})",
                "; ".join(f"{r['backbone']} {r['ms_per_image']:.0f} ms" for r in mine) + f" ({_dates(mine)})",
                "0.07 s",
                "",
            )
        )
    return rows


def write_index(out_dir: Path, results: list, preset: str, run_dir: Path) -> Path:
    from dalnb.claims import count_verdicts, load_claims, verdict, verdict_class
    from dalnb.records import machine

    rows = "\n".join(
        f"<tr><td><a href='{r.html.name if r.html else r.ipynb.name}'>{html.escape(r.name)}</a></td>"
        f"<td class='{r.status}'>{r.status}</td><td>{r.seconds:.1f}</td><td>{html.escape(r.error)}</td></tr>"
        for r in results
    )
    m = machine()
    headline = headline_rows(run_dir)
    head = "\n".join(f"<tr><td>{q}</td><td>{o}</td><td>{p}</td><td>{e}</td></tr>" for q, o, p, e in headline)
    tables = "\n".join(
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td></tr>"
        for a, b, c in PAPER_TABLES
    )
    scored = load_claims(run_dir)
    claims = "\n".join(
        f"<tr><td>{html.escape(nb)}</td><td>{html.escape(c.claim)}</td><td>{html.escape(c.paper)}</td>"
        f"<td>{html.escape(c.ours)}</td><td class='{verdict_class(c.holds)}'>{verdict(c.holds)}</td>"
        f"<td>{html.escape(c.note)}</td></tr>"
        for nb, c in scored
    )
    scorecard = (
        f"<h2>The paper's claims in this run</h2>\n<p class='counts'>{len(scored)} claims: "
        f"{count_verdicts(c for _, c in scored)}. Each notebook ends with these; the "
        "verdict is computed from the run's own numbers, and a gain no larger than the spread between recorded "
        "repeats reads <i>within noise</i>.</p>\n<table><tr><th>notebook</th><th>claim</th><th>paper</th><th>this "
        f"run</th><th>verdict</th><th>note</th></tr>\n{claims}\n</table>"
        if claims
        else ""
    )
    atomic_write_json(out_dir / "claims.json", [{"notebook": nb, **asdict(c)} for nb, c in scored])
    atomic_write_json(
        out_dir / "headline.json", [dict(zip(("quantity", "ours", "paper", "peers"), r)) for r in headline]
    )
    gpu = ", " + html.escape(m["gpu"]) if "gpu" in m else ", no GPU"
    where = f"{html.escape(m['cpu'])} ({m['cores']} cores{gpu}), {dt.date.today().isoformat()}"
    name, run = html.escape(out_dir.name), html.escape(shown(run_dir))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>dalnb report: {name}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
td,th{{padding:.3em .8em;border-bottom:1px solid #ddd}}
.ok,.vtrue{{color:#060}}.failed,.vfalse{{color:#b00}}.vnone{{color:#777}}.vnoise{{color:#a60}}</style></head><body>
<h1>deform-and-learn study: run <code>{name}</code></h1>
<p>Yoshiyasu &amp; Gamez, <i>Learning Body Shape and Pose from Dense Correspondences</i> (arXiv 1907.11955),
reproduced with an open template and no 3D labels. Preset <b>{html.escape(preset)}</b>, run folder <code>{run}</code>,
machine: {where}.</p>
<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>error</th></tr>
{rows}
</table>
<h2>Headline numbers</h2>
<p>Ours beside the paper's and peers', each with the data it was measured on. They are not the same test sets.</p>
<table><tr><th>quantity</th><th>ours</th><th>paper</th><th>peers</th></tr>
{head}
</table>
{scorecard}
<h2>The paper's tables and their counterparts</h2>
<table><tr><th>paper</th><th>where</th><th>what stands in</th></tr>
{tables}
</table></body></html>"""
    return atomic_write_text(out_dir / "index.html", page)
