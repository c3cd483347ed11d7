"""Execute the ordered notebooks with papermill into rendered reports.

    python -m dalnb.pipeline --preset small --run-dir runs/small
    python -m dalnb.pipeline --preset tiny --run-dir runs/mine --source photos=my_photos/

``--source KIND=PATH[:EXTRA]`` (repeatable; KIND one of densepose_coco, coco, mpii, h36m,
photos) adds a real source to the training and test sets (``data.sources``); a missing source
or one that is not what its kind claims fails before any notebook runs. The chain writes
``reports/<run>/NN_name.ipynb`` and ``.html`` for each notebook plus ``index.html``.
A failed notebook stops the chain with its name and the cell that failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dalnb.io import WriteError
from dalnb.paths import NOTEBOOKS, ROOT, resolve
from dalnb.report import write_index
from dalnb.run import Run
from dalnb.steps import LOCK_ENV, STRICT_ENV, RunInUse, RunLock

log = logging.getLogger(__name__)


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
    """The executed notebook as a page that stands alone offline (``report.html.export_html``)."""
    from dalnb.report.html import export_html

    return export_html(ipynb)


def run_notebook(src: Path, out_dir: Path, parameters: dict, kernel: str = "python3") -> NotebookResult:
    """Execute one notebook as JupyterLab would (working directory notebooks/), with no progress
    bars (``dalnb.progress``: a batch run's HTML shows none), into ``out_dir``."""
    import papermill as pm

    from dalnb.progress import ENV

    out = out_dir / src.name
    running = out.with_name(f".{out.stem}.running.ipynb")  # renamed to ``out`` when done: never half-written
    t0 = time.perf_counter()
    before = os.environ.get(ENV)
    os.environ[ENV] = "0"  # the kernel inherits it
    try:
        try:
            pm.execute_notebook(
                str(src),
                str(running),
                parameters=parameters,
                kernel_name=kernel,
                cwd=str(src.parent),
                progress_bar=False,
            )
        finally:
            if running.exists():
                os.replace(running, out)
    except pm.PapermillExecutionError as e:
        html_path = _try_html(out)
        return NotebookResult(
            src.stem, "failed", time.perf_counter() - t0, out, html_path, f"cell {e.exec_count}: {e.ename}: {e.evalue}"
        )
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
    return NotebookResult(src.stem, "ok", time.perf_counter() - t0, out, to_html(out))


def _try_html(path: Path) -> Path | None:
    try:
        return to_html(path) if path.exists() else None
    except Exception:  # noqa: BLE001 - best effort for a failed notebook
        return None


def earlier_results(
    out_dir: Path, results: list[NotebookResult], notebooks_dir: Path = NOTEBOOKS
) -> list[NotebookResult]:
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
        out.append(
            NotebookResult(
                src.stem,
                "failed" if failed else "ok",
                float(pm.get("duration") or 0.0),
                ipynb,
                html_path if html_path.exists() else None,
                "earlier run" if failed else "",
            )
        )
    return out


def run_pipeline(
    preset: str,
    run_dir: Path,
    reports: Path | None = None,
    only: list[str] | None = None,
    kernel: str = "python3",
    extra_parameters: dict | None = None,
    notebooks_dir: Path = NOTEBOOKS,
) -> list[NotebookResult]:
    run_dir = resolve(run_dir)
    out_dir = Path(reports or ROOT / "reports") / run_dir.name
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    nbs = list_notebooks(only, notebooks_dir)
    if not nbs:
        raise PipelineError(f"no notebooks found in {notebooks_dir} matching {only}")
    lock = RunLock(run_dir, "python -m dalnb.pipeline " + " ".join(sys.argv[1:]))
    lock.acquire()  # a second writer fails here, naming this one
    before = os.environ.get(LOCK_ENV)
    os.environ[LOCK_ENV] = lock.token  # the kernels write under this lock
    try:
        return _run_chain(nbs, preset, run_dir, out_dir, kernel, extra_parameters, notebooks_dir)
    finally:
        lock.release()
        if before is None:
            os.environ.pop(LOCK_ENV, None)
        else:
            os.environ[LOCK_ENV] = before


def _run_chain(nbs, preset, run_dir, out_dir, kernel, extra_parameters, notebooks_dir) -> list[NotebookResult]:
    results: list[NotebookResult] = []
    for src in nbs:
        log.info("running %s (preset %s)", src.name, preset)
        # the pages show the run folder as the reader names it: relative to the repository when inside it
        shown = run_dir.relative_to(ROOT) if run_dir.is_relative_to(ROOT) else run_dir
        params = {"run_dir": str(shown), "preset": preset, **(extra_parameters or {})}
        (Run(run_dir).claims_dir / f"{src.stem}.json").unlink(
            missing_ok=True
        )  # the scorecard shows this execution's claims only
        r = run_notebook(src, out_dir, params, kernel)
        results.append(r)
        log.info("%s: %s in %.1f s", src.name, r.status, r.seconds)
        if r.status != "ok":
            write_index(out_dir, earlier_results(out_dir, results, notebooks_dir), preset, run_dir)
            raise PipelineError(f"notebook {src.name} failed at {r.error} (see {r.ipynb})")
    write_index(out_dir, earlier_results(out_dir, results, notebooks_dir), preset, run_dir)
    return results


def _parse_overrides(items: list[str]) -> dict:
    """``--override KEY=VALUE`` items as a dict of dotted keys (YAML values), for every notebook."""
    from dalnb.config import parse_override

    try:
        return dict(parse_override(it) for it in items)
    except ValueError as e:
        raise SystemExit(f"--{e}") from None


def _parse_sources(items: list[str]) -> dict[str, str]:
    """``--source KIND=PATH[:EXTRA]`` items as ``data.sources`` (absolute paths: the notebooks
    run in notebooks/), each checked now."""
    from dalnb.data.loaders import DataError
    from dalnb.data.sources import check_source, parse_source

    out = {}
    for it in items:
        try:
            src = check_source(parse_source(it))
        except DataError as e:
            raise SystemExit(f"--source: {e}") from None
        out[src.kind] = src.location()
    return out


REFERENCE_PRESET = "cpu"  # the preset of the committed reference study (make reference)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m dalnb.pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="small", choices=["tiny", "small", "cpu", "full"])
    ap.add_argument("--run-dir", default=None, help="default: runs/<preset>")
    ap.add_argument("--reports", default=None, help="default: reports/")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    ap.add_argument("--kernel", default="python3")
    ap.add_argument("--readme", action="store_true", help="write the run's results into README.md (the reference run)")
    ap.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="preset override passed to every notebook, e.g. --override data.n_train=2000",
    )
    ap.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="KIND=PATH[:EXTRA]",
        help="a real source for the training and test sets, e.g. --source photos=my_photos/ "
        "or --source densepose_coco=densepose_coco_2014_train.json:train2014/",
    )
    ap.add_argument(
        "--status",
        action="store_true",
        help="show, per step, whether a run with this preset and these overrides would reuse or remake it, and why",
    )
    ap.add_argument(
        "--strict", action="store_true", help="refuse to remake a step made from other settings (names the keys)"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run_dir = Path(args.run_dir or f"runs/{args.preset}")
    if args.strict:
        os.environ[STRICT_ENV] = "1"  # the kernels inherit it
    try:
        overrides = _parse_overrides(args.override)
        if args.source:
            overrides["data.sources"] = _parse_sources(args.source)
        if args.status:
            from dalnb.config import plan

            for row in plan(run_dir, args.preset, overrides):
                print(f"{row['step']:<28} {row['digest'] or '-':<17} {row['state']}")
            return 0
        extra = {"overrides": overrides} if overrides else None
        results = run_pipeline(
            args.preset, run_dir, Path(args.reports) if args.reports else None, args.only, args.kernel, extra
        )
    except (PipelineError, RunInUse, WriteError) as e:
        print(f"pipeline failed: {e}", file=sys.stderr)
        return 1
    out = results[-1].ipynb.parent
    if args.readme:
        from dalnb.report import write_results

        write_results(ROOT / "README.md", out)
    print(f"reports written to {out / 'index.html'}")
    if args.preset != REFERENCE_PRESET:
        print(
            f"The reference study (reports/reference-{REFERENCE_PRESET}/, the README's results) used the longer "
            f"{REFERENCE_PRESET!r} preset: make reference (within two hours on 2 CPU cores)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
