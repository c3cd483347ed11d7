"""Execute the ordered notebooks with papermill into rendered reports.

    python -m dalnb.pipeline --preset small --run-dir runs/small

writes ``reports/<run>/NN_name.ipynb`` and ``.html`` for each notebook plus ``index.html``.
A failed notebook stops the chain with its name and the cell that failed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dalnb.io import atomic_write_text

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@dataclass
class NotebookResult:
    name: str
    status: str  # "ok" or "failed"
    seconds: float
    ipynb: Path
    html: Path | None
    error: str = ""


class PipelineError(RuntimeError):
    pass


def list_notebooks(only: list[str] | None = None, notebooks_dir: Path = NOTEBOOKS) -> list[Path]:
    nbs = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if only:
        nbs = [p for p in nbs if any(p.stem.startswith(o) for o in only)]
    return nbs


def to_html(ipynb: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    out = ipynb.with_suffix(".html")
    atomic_write_text(out, body)
    return out


def run_notebook(src: Path, out_dir: Path, parameters: dict, kernel: str = "python3") -> NotebookResult:
    import papermill as pm

    out = out_dir / src.name
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(src), str(out), parameters=parameters, kernel_name=kernel, cwd=str(ROOT), progress_bar=False)
    except pm.PapermillExecutionError as e:
        html_path = _try_html(out)
        return NotebookResult(src.stem, "failed", time.perf_counter() - t0, out, html_path,
                              f"cell {e.exec_count}: {e.ename}: {e.evalue}")  # fmt: skip
    return NotebookResult(src.stem, "ok", time.perf_counter() - t0, out, to_html(out))


def _try_html(path: Path) -> Path | None:
    try:
        return to_html(path) if path.exists() else None
    except Exception:  # noqa: BLE001 - best effort for a failed notebook
        return None


PAPER_TABLES = (
    ("Table 1: 3D error against peers", "05 (Table 1 counterpart)",
     "No Human3.6M training images or MoSh here: ours is measured on held-out synthetic anny bodies; the Human3.6M protocol "
     "runs end to end on 4 real frames (05) as a check, not a benchmark."),
    ("Table 2: per-pixel error, refinement", "05 (Table 2 counterpart)",
     "No DensePose-COCO training set: synthetic dense points, plus one real DensePose-COCO person (part-level error)."),
    ("Table 3: training data sources", "06 (Table 3 counterpart)", "Pose sources (motion capture / sampled / mixed) stand in for datasets."),
    ("Table 4, Fig. 8: rounds", "04 and 06 (Table 4 counterpart)", "Held-out synthetic bodies; bench rounds adds the single-step and one-long-round baselines."),
    ("Fig. 7: registration terms", "03 and 06 (Fig. 7 counterpart)", "Held-out anny bodies, exact and lifted depths."),
    ("cGAN lifter and its losses", "02 and 06", "Synthetic 2D keypoints with detector-like noise; 4 real Human3.6M frames."),
)  # fmt: skip


def headline_rows(run_dir: Path) -> list[tuple[str, str, str, str]]:
    """(quantity, ours with where/what machine, paper, peers) from the run's outputs and the
    recorded benchmarks; rows whose inputs are missing are left out."""
    import json

    from dalnb.bench import load_records

    rows = []
    rounds = sorted(Path(run_dir).glob("rounds/round*/metrics.json"), key=lambda p: int(p.parent.name[5:]))
    if rounds:
        first, last = (json.loads(p.read_text()) for p in (rounds[0], rounds[-1]))
        rows.append(("3D error, regressor (MPJPE / PA-MPJPE)", f"{last['mpjpe_mm']:.0f} / {last['pa_mpjpe_mm']:.0f} mm after {len(rounds)} rounds "
                     f"(this run, synthetic anny bodies)", "106 mm MPJPE after 5 rounds (Human3.6M)", "HMR unpaired 3D: 107 / 67 mm (Human3.6M)"))
        rows.append(("rounds: last / first MPJPE", f"{last['mpjpe_mm'] / first['mpjpe_mm']:.2f} (this run)", "106 / 140 = 0.76", ""))
        rows.append(("per-pixel error, regressor &rarr; refined", f"{last['pixel_err']:.1f} &rarr; {last['refined_pixel_err']:.1f} px (this run, synthetic)",
                     "18.6 &rarr; 12.0 px (DensePose-COCO)", ""))
    rows += table4_rows(load_records("rounds"))
    rows += speed_rows(load_records("registration"), load_records("predict"))
    lf = {r["setting"]: r for r in load_records("lifter")}
    if "full" in lf and "zero_depth_baseline" in lf:
        rows.append(("lifter PA-MPJPE (zero depth)", f"{lf['full']['pa_mpjpe_mm']:.0f} mm ({lf['zero_depth_baseline']['pa_mpjpe_mm']:.0f} mm), synthetic, "
                     f"{lf['full']['date']}", "", "Kudo et al. / Chen et al.: Human3.6M only"))
    return rows


def table4_rows(records: list[dict]) -> list[tuple[str, str, str, str]]:
    """Headline rows from recorded ``bench rounds`` runs: per kind of training annotations, the
    newest run with baselines (round 1 -> last, each baseline) and, over every recorded seed of
    its config, the margin of the rounds over one long round (negative: the rounds win)."""
    from dalnb.bench.rounds import table4_margins, table4_runs, table4_seeds
    from dalnb.claims import paired_margin

    rows = []
    seeds = table4_seeds(records)
    for kind, recs in table4_runs(records).items():
        rr = [r for r in recs if r["setting"] == "rounds"]
        base = {r["setting"]: r for r in recs if r["setting"] != "rounds"}
        a, b = rr[0], rr[-1]
        vs = "; ".join(f"{k.replace('_', ' ')} {base[k]['mpjpe_mm']:.0f}" for k in ("single_step", "one_long_round") if k in base)
        margin = paired_margin([(m["rounds_mpjpe_mm"], m["one_long_round_mpjpe_mm"]) for m in table4_margins(seeds[kind])])
        rows.append((f"bench rounds, {kind} training annotations: MPJPE round 1 &rarr; last (baselines)",
                     f"{a['mpjpe_mm']:.0f} &rarr; {b['mpjpe_mm']:.0f} mm ({vs} mm; seed {b.get('seed', 0)}, {b['preset']}, {b['n_train']} renders, "
                     f"{b['machine']['cpu'][:30]}, {b['date']}); rounds minus one long round: {margin}",
                     "140 &rarr; 106 mm (Human3.6M); single step clearly worse", ""))  # fmt: skip
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
        shown = ([max(batched, key=lambda r: r["fits_per_s"])] if batched else []) + ([min(single, key=lambda r: r["seconds_per_batch"])] if single else [])
        mode = lambda r: "compiled" if r.get("compiled") else "eager"  # noqa: E731
        parts = [f"{r['fits_per_s']:.0f} fits/s at batch {r['batch']} ({mode(r)})" if r["batch"] > 1 else
                 f"{r['seconds_per_batch']:.2f} s for one image ({mode(r)})" for r in shown]  # fmt: skip
        rows.append((f"registration speed, 100 it ({html.escape(dev)})", "; ".join(parts) + f" ({_dates(shown)})",
                     "5-6 s per image (50 it)", "SMPLify-X ~60 s per image"))  # fmt: skip
    latency = [r for r in predict if r.get("kind") == "latency"]
    for dev, mine in _newest_per_device(latency, lambda r: r["backbone"]).items():
        rows.append((f"prediction latency, one 224-px image ({html.escape(dev)})",
                     "; ".join(f"{r['backbone']} {r['ms_per_image']:.0f} ms" for r in mine) + f" ({_dates(mine)})", "0.07 s", ""))  # fmt: skip
    return rows


def earlier_results(out_dir: Path, results: list[NotebookResult], notebooks_dir: Path = NOTEBOOKS) -> list[NotebookResult]:
    """``results`` plus the chain's notebooks executed into ``out_dir`` by an earlier run (``--only``
    re-runs some; the index must still link all), with status and duration from papermill's metadata."""
    import json

    done = {r.name: r for r in results}
    out = []
    for src in list_notebooks(None, notebooks_dir):
        if src.stem in done:
            out.append(done[src.stem])
            continue
        ipynb = out_dir / src.name
        if not ipynb.exists():
            continue
        try:
            pm = json.loads(ipynb.read_text())["metadata"]["papermill"]
        except (ValueError, KeyError) as e:
            raise PipelineError(f"{ipynb}: not an executed notebook ({type(e).__name__}: {e})") from e
        failed = bool(pm.get("exception"))
        html_path = ipynb.with_suffix(".html")
        out.append(NotebookResult(src.stem, "failed" if failed else "ok", float(pm.get("duration") or 0.0), ipynb,
                                  html_path if html_path.exists() else None, "earlier run" if failed else ""))  # fmt: skip
    return out


def write_index(out_dir: Path, results: list[NotebookResult], preset: str, run_dir: Path) -> Path:
    from dalnb.bench import machine
    from dalnb.claims import load_claims, verdict

    rows = "\n".join(
        f"<tr><td><a href='{r.html.name if r.html else r.ipynb.name}'>{html.escape(r.name)}</a></td>"
        f"<td class='{r.status}'>{r.status}</td><td>{r.seconds:.1f}</td><td>{html.escape(r.error)}</td></tr>"
        for r in results
    )
    m = machine()
    head = "\n".join(f"<tr><td>{q}</td><td>{o}</td><td>{p}</td><td>{e}</td></tr>" for q, o, p, e in headline_rows(run_dir))
    tables = "\n".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td></tr>" for a, b, c in PAPER_TABLES)
    claims = "\n".join(f"<tr><td>{html.escape(nb)}</td><td>{html.escape(c.claim)}</td><td>{html.escape(c.paper)}</td><td>{html.escape(c.ours)}</td>"
                       f"<td class='v{str(c.holds).lower()}'>{verdict(c.holds)}</td><td>{html.escape(c.note)}</td></tr>" for nb, c in load_claims(run_dir))  # fmt: skip
    scorecard = (f"<h2>The paper's claims in this run</h2>\n<p>Each notebook ends with these; the verdict is computed from the run's own numbers.</p>\n"
                 f"<table><tr><th>notebook</th><th>claim</th><th>paper</th><th>this run</th><th>verdict</th><th>note</th></tr>\n{claims}\n</table>"
                 if claims else "")  # fmt: skip
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>dalnb report: {html.escape(out_dir.name)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.3em .8em;border-bottom:1px solid #ddd}}
.ok,.vtrue{{color:#060}}.failed,.vfalse{{color:#b00}}.vnone{{color:#777}}</style></head><body>
<h1>deform-and-learn study: run <code>{html.escape(out_dir.name)}</code></h1>
<p>Yoshiyasu &amp; Gamez, <i>Learning Body Shape and Pose from Dense Correspondences</i> (arXiv 1907.11955), reproduced with
an open template and no 3D labels. Preset <b>{html.escape(preset)}</b>, run folder <code>{html.escape(str(run_dir))}</code>,
machine: {html.escape(m['cpu'])} ({m['cores']} cores{', ' + html.escape(m['gpu']) if 'gpu' in m else ', no GPU'}), {dt.date.today().isoformat()}.</p>
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


def run_pipeline(preset: str, run_dir: Path, reports: Path | None = None, only: list[str] | None = None,
                 kernel: str = "python3", extra_parameters: dict | None = None,
                 notebooks_dir: Path = NOTEBOOKS) -> list[NotebookResult]:  # fmt: skip
    run_dir = Path(run_dir).resolve()
    out_dir = Path(reports or ROOT / "reports") / run_dir.name
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    nbs = list_notebooks(only, notebooks_dir)
    if not nbs:
        raise PipelineError(f"no notebooks found in {notebooks_dir} matching {only}")
    results: list[NotebookResult] = []
    for src in nbs:
        log.info("running %s (preset %s)", src.name, preset)
        params = {"run_dir": str(run_dir), "preset": preset, **(extra_parameters or {})}
        (run_dir / "claims" / f"{src.stem}.json").unlink(missing_ok=True)  # the scorecard shows this execution's claims only
        r = run_notebook(src, out_dir, params, kernel)
        results.append(r)
        log.info("%s: %s in %.1f s", src.name, r.status, r.seconds)
        if r.status != "ok":
            write_index(out_dir, earlier_results(out_dir, results, notebooks_dir), preset, run_dir)
            raise PipelineError(f"notebook {src.name} failed at {r.error} (see {r.ipynb})")
    write_index(out_dir, earlier_results(out_dir, results, notebooks_dir), preset, run_dir)
    return results


def _parse_overrides(items: list[str]) -> dict:
    import yaml

    out = {}
    for it in items:
        if "=" not in it:
            raise SystemExit(f"--override {it!r}: expected KEY=VALUE")
        k, v = it.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dalnb.pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small", choices=["tiny", "small", "full"])
    ap.add_argument("--run-dir", default=None, help="default: runs/<preset>")
    ap.add_argument("--reports", default=None, help="default: reports/")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    ap.add_argument("--kernel", default="python3")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                    help="preset override passed to every notebook, e.g. --override data.n_train=2000")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run_dir = Path(args.run_dir or f"runs/{args.preset}")
    try:
        extra = {"overrides": _parse_overrides(args.override)} if args.override else None
        results = run_pipeline(args.preset, run_dir, Path(args.reports) if args.reports else None, args.only, args.kernel, extra)
    except PipelineError as e:
        print(f"pipeline failed: {e}", file=sys.stderr)
        return 1
    out = results[-1].ipynb.parent
    print(f"reports written to {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
