"""``python -m dalnb.bench faults``: the chain killed at random moments resumes to the same results.

The tiny chain runs once uninterrupted (the reference), then again in a new run folder, killed
with SIGKILL (the pipeline and every process under it: papermill's kernel too) ``kills`` times:
the n-th kill aims at notebook ``n mod 6``, at a moment drawn uniformly over that notebook's
reference duration after it starts (a resumed notebook may end sooner: the record counts the
notebook each kill landed in), so the kills spread over the six notebooks and over what each does
(data shards, lifter steps, registration, training epochs, reports). After each kill every file
under a final name is read back whole (npz, json, yaml, pt, ipynb, html, images), and the next
run resumes under a taken-over lock. The last run goes uninterrupted; its claims, round metrics
and fits are compared with the reference's.

    python -m dalnb.bench faults --record --set kills=24
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dalnb.bench import emit, register_bench

NOTEBOOK_LINE = re.compile(r"Input Notebook:\s+\S*/(\d\d_\w+)\.ipynb")
DONE_LINE = re.compile(r"(\d\d_\w+)\.ipynb: ok in ([\d.]+) s")


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def unreadable_files(*folders: Path) -> list[str]:
    """Files under their final names (not dot-named temporaries) that do not read back whole."""
    import torch
    import yaml
    from PIL import Image

    bad = []
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")):
            if not p.is_file() or p.name.startswith(".") or any(q.startswith(".") for q in p.parts[-3:-1]):
                continue
            try:
                if p.suffix == ".npz":
                    with np.load(p, allow_pickle=False) as z:
                        for k in z.files:
                            z[k]
                elif p.suffix in (".json", ".ipynb"):
                    json.loads(p.read_text())
                elif p.suffix == ".yaml":
                    yaml.safe_load(p.read_text())
                elif p.suffix == ".pt":
                    torch.load(p, map_location="cpu", weights_only=False)
                elif p.suffix == ".html":
                    if not p.read_text().rstrip().endswith("</html>"):
                        raise ValueError("no closing </html>")
                elif p.suffix in (".png", ".jpg"):
                    Image.open(p).load()
            except Exception as e:  # any failure to read back is what we look for
                bad.append(f"{p}: {type(e).__name__}: {e}")
    return bad


def _numbers(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield path, float(x)


def compare_runs(ref: Path, got: Path, rtol: float = 1e-4) -> dict:
    """The largest relative difference of every number in the claims and round metrics, and the
    largest absolute difference (m) of the fits' vertices, between two run folders."""
    worst, where, missing = 0.0, "", []
    skip = ("seconds", "s_per_image", "wall", "time")
    for f in sorted(ref.glob("claims/*.json")) + sorted(ref.glob("rounds/round*/metrics.json")):
        g = got / f.relative_to(ref)
        if not g.exists():
            missing.append(str(f.relative_to(ref)))
            continue
        a, b = dict(_numbers(json.loads(f.read_text()))), dict(_numbers(json.loads(g.read_text())))
        for k, v in a.items():
            if any(s in k for s in skip) or k not in b or not (np.isfinite(v) and np.isfinite(b[k])):
                continue
            d = abs(v - b[k]) / max(abs(v), 1e-9)
            if d > worst:
                worst, where = d, f"{f.relative_to(ref)}{k}"
    fit_diff = 0.0
    for f in sorted(ref.glob("fits/round0/*.npz")) + sorted(ref.glob("rounds/round*/fits.npz")):
        g = got / f.relative_to(ref)
        if not g.exists():
            missing.append(str(f.relative_to(ref)))
            continue
        with np.load(f) as za, np.load(g) as zb:
            for k in ("pose", "segment_scales", "camera"):
                if k in za.files:
                    fit_diff = max(fit_diff, float(np.abs(za[k] - zb[k]).max()))
    return {
        "max_rel_diff": worst,
        "max_rel_diff_at": where,
        "max_fit_param_diff": fit_diff,
        "missing": missing,
        "equal": not missing and worst <= rtol and fit_diff <= 1e-3,
    }


def _durations(log: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in DONE_LINE.finditer(log)}


@register_bench("faults")
def bench_faults(kills: int = 24, preset: str = "tiny", seed: int = 0, keep: bool = False, **_) -> list[dict]:
    base = Path(tempfile.mkdtemp(prefix="dalnb-faults-"))
    cmd = [sys.executable, "-m", "dalnb.pipeline", "--preset", preset]
    t_start = time.perf_counter()
    ref_log = base / "reference.log"
    with open(ref_log, "w") as out:
        subprocess.run(
            cmd + ["--run-dir", str(base / "ref"), "--reports", str(base / "ref-reports")],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    t_ref = time.perf_counter() - t_start
    dur = _durations(ref_log.read_text())
    order = sorted(dur)
    rng = np.random.default_rng(seed)
    run, rep = base / "killed", base / "killed-reports"
    killed: list[dict] = []
    bad: list[str] = []
    attempt = 0
    while True:
        log = base / f"attempt{attempt:02d}.log"
        target = order[len(killed) % len(order)] if len(killed) < kills else None
        at = float(rng.uniform(0.05, 0.95) * dur[target]) if target else 0.0
        with open(log, "w") as out:
            p = subprocess.Popen(
                cmd + ["--run-dir", str(run), "--reports", str(rep)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            started = None
            while p.poll() is None:  # until it ends or is killed
                time.sleep(0.1)
                if target is None:
                    continue
                seen = NOTEBOOK_LINE.findall(log.read_text())
                if started is None and seen and seen[-1] == target:
                    started = time.perf_counter()
                if started is not None and time.perf_counter() - started >= at:
                    _kill_tree(p.pid)
                    p.wait()
                    running = NOTEBOOK_LINE.findall(log.read_text())[-1]  # the target may have ended already
                    killed.append({"notebook": running, "target": target, "after_s": round(at, 1), "attempt": attempt})
                    bad += unreadable_files(run, rep)
                    break
        p.wait()
        attempt += 1
        if p.returncode == 0 and (target is None or started is None):
            break  # finished uninterrupted
        if p.returncode not in (0, -signal.SIGKILL):
            raise RuntimeError(f"attempt {attempt - 1} failed (exit {p.returncode}); see {log}")
    cmp = compare_runs(base / "ref", run)
    per_nb = {nb: sum(k["notebook"] == nb for k in killed) for nb in order}  # where each kill landed
    rec = emit(
        "faults",
        {
            "preset": preset,
            "kills": len(killed),
            "kills_per_notebook": per_nb,
            "attempts": attempt,
            "unreadable_files": len(bad),
            **{k: v for k, v in cmp.items() if k != "missing"},
            "missing": len(cmp["missing"]),
            "reference_s": round(t_ref, 1),
            "seconds": round(time.perf_counter() - t_start, 1),
            "seed": seed,
        },
    )
    if bad or not cmp["equal"]:
        (base / "problems.json").write_text(json.dumps({"unreadable": bad, **cmp, "kills": killed}, indent=1))
    if not keep and not bad and cmp["equal"]:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return [rec]
