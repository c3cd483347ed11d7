"""Notebooks: kept without outputs, a parameters cell first, and the chain runs (tiny preset)."""

import html
import json
from pathlib import Path

import numpy as np
import pytest

from dalnb.pipeline import NOTEBOOKS, REFERENCE_PRESET, PipelineError, list_notebooks, run_pipeline

NBS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name for p in NBS][:1] == ["01_data_prep.ipynb"]


@pytest.mark.parametrize("path", NBS, ids=lambda p: p.name)
def test_notebook_stripped_and_parameterised(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in code), (
        f"{path.name} has outputs: strip them"
    )
    first = code[0]
    assert "parameters" in first.get("metadata", {}).get("tags", []), "first code cell must be tagged 'parameters'"
    src = "".join(first["source"])
    assert "run_dir" in src and "preset" in src


@pytest.fixture(scope="module")
def tiny_chain(tmp_path_factory):
    """The whole chain, once, with the tiny preset."""
    tmp = tmp_path_factory.mktemp("chain")
    return tmp, run_pipeline("tiny", tmp / "run", reports=tmp / "reports")


def test_pipeline_runs_every_notebook_tiny(tiny_chain):
    tmp_path, results = tiny_chain
    assert [r.status for r in results] == ["ok"] * len(list_notebooks())
    out = tmp_path / "reports" / "run"
    assert (out / "index.html").exists()
    for r in results:
        assert r.html is not None and r.html.stat().st_size > 10_000
    run = tmp_path / "run"
    assert (run / "config" / "01_data_prep.yaml").exists() and (run / "config" / "03_registration.yaml").exists()
    assert (run / "body" / "stepping.glb").exists()
    assert len(list((run / "data" / "train").glob("shard_*.npz"))) >= 1
    assert (run / "lifter" / "depths_test.npz").exists() and len(
        list((run / "fits" / "round0").glob("fits_*.npz"))
    ) >= 1
    rounds = sorted((run / "rounds").glob("round*/metrics.json"))
    assert len(rounds) == 2 and (run / "rounds" / "round2" / "regressor.pt").exists()
    last = json.loads(rounds[-1].read_text())
    assert last["ok"] == last["n"] > 0 and np.isfinite([last["mpjpe_mm"], last["refined_pixel_err"]]).all()
    assert (run / "config" / "06_ablations.yaml").exists() and len(
        list((run / "ablations" / "sources").glob("*/metrics.json"))
    ) == 3
    index = (out / "index.html").read_text()
    assert "Headline numbers" in index and "Table 4" in index
    from dalnb.claims import load_claims

    claims = load_claims(run)  # every notebook after 01 ends with the paper's claims and their verdicts
    assert {nb for nb, _ in claims} == {
        "02_cgan",
        "03_registration",
        "04_deform_and_learn",
        "05_evaluation",
        "06_ablations",
    }
    assert sum(c.holds is not None for _, c in claims) >= 8, [(nb, c.claim, c.ours) for nb, c in claims]
    assert "The paper's claims in this run" in index and index.count("class='v") == len(claims)


def _figure_cells(ipynb: Path) -> list[tuple[str, list[dict]]]:
    """(source, image outputs) of each executed code cell."""
    nb = json.loads(ipynb.read_text())
    return [
        (
            "".join(c["source"]),
            [o for o in c.get("outputs", []) if {"image/jpeg", "image/png"} & set(o.get("data", {}))],
        )
        for c in nb["cells"]
        if c["cell_type"] == "code"
    ]


def test_every_cell_that_shows_a_figure_carries_its_image(tiny_chain):
    """A cell that calls plt.show() shows an image, unless it printed why there is nothing to show."""
    _, results = tiny_chain
    for r in results:
        for src, images in _figure_cells(r.ipynb):
            if "plt.show()" in src and not images:
                nb = json.loads(r.ipynb.read_text())
                cell = next(c for c in nb["cells"] if "".join(c["source"]) == src)
                said = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
                assert said.strip(), f"{r.name}: a cell that shows a figure has no image:\n{src[:300]}"


def test_no_shown_figure_has_an_empty_axes(tiny_chain):
    """Every figure reaches the page drawn: each image output names its empty axes (viz.notebook_style)."""
    _, results = tiny_chain
    shown = 0
    for r in results:
        for src, images in _figure_cells(r.ipynb):
            for o in images:
                empty = o.get("metadata", {}).get("dalnb_empty_axes")
                assert empty is not None, f"{r.name}: a figure shown without the check:\n{src[:200]}"
                assert empty == [], f"{r.name}: empty axes {empty} in the figure of\n{src[:300]}"
                shown += 1
    assert shown >= 15, shown


def _output_text(ipynb: Path) -> str:
    nb = json.loads(ipynb.read_text())
    outs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    return "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")) for o in outs)


def test_the_chain_runs_as_jupyterlab_runs_it_and_skips_nothing(tiny_chain):
    """The pipeline executes each notebook from notebooks/ (JupyterLab's working directory), so
    what it finds is what a reader stepping through finds: with ../shared/data beside the
    checkout, no real-data section is skipped."""
    from dalnb.paths import SHARED_DATA

    _, results = tiny_chain
    assert all(json.loads(r.ipynb.read_text())["metadata"]["papermill"]["parameters"]["run_dir"] for r in results)
    if not SHARED_DATA.exists():
        pytest.skip(f"{SHARED_DATA} absent: the real-data sections are skipped by design")
    for r in results:
        text = _output_text(r.ipynb)
        assert not any(k in text for k in ("skipped", "not found", "not available")), (r.name, text[-500:])


def test_outputs_show_no_absolute_path_of_the_run(tiny_chain):
    """What the notebooks print names the run's files relative to the repository (``paths.shown``),
    never by the machine's absolute path."""
    tmp_path, results = tiny_chain
    for r in results:
        assert str(tmp_path) not in _output_text(r.ipynb), r.name


def test_shown_paths_are_repository_relative_or_short(tmp_path):
    from dalnb.paths import ROOT, shown

    assert shown(ROOT / "runs" / "small" / "lifter") == "runs/small/lifter"
    assert shown(tmp_path / "run" / "lifter") == ".../run/lifter" and shown("runs/x") == "runs/x"


def check_reports_offline(out: Path) -> None:
    """Every page of a run's report in headless Chromium with the network refused: no request
    leaves the machine, no script or console error, every image loads, formulas are MathML, each
    page is titled after its notebook and links back to the index, each 3D view is centred and
    lit (its canvas neither empty nor mostly black), and the pages keep within 2 MB each and
    10 MB together."""
    import io

    import numpy as np
    from browser import CHROMIUM_ARGS, chromium_path
    from PIL import Image

    exe = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api")
    pages = sorted(out.glob("[0-9][0-9]_*.html"))
    assert len(pages) == 6 and (out / "index.html").exists()
    sizes = {p.name: p.stat().st_size for p in pages}
    assert max(sizes.values()) <= 2_000_000 and sum(sizes.values()) <= 10_000_000, sizes
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        for path in [out / "index.html", *pages]:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            online, errors = [], []

            def refuse(route, online=online):
                online.append(route.request.url)
                route.abort()

            page.route("http*://**", refuse)
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
            page.on("requestfailed", lambda r, errors=errors: errors.append(f"failed: {r.url}"))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(500)
            assert not online and not errors, (path.name, online, errors)
            broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || !i.naturalWidth).length")
            assert broken == 0, path.name
            if path.name != "index.html":
                text = path.read_text()
                assert page.title().startswith(path.stem[:2] + " ·"), page.title()
                assert page.locator("nav.dalnb-nav a[href='index.html']").count() == 1
                assert "widget-state" not in text
                prose = " ".join(page.locator(".jp-RenderedMarkdown").all_inner_texts())
                assert "$" not in prose, f"{path.name}: raw LaTeX in the text"
                for frame in page.locator('iframe[title^="3D mesh view"]').all():
                    frame.scroll_into_view_if_needed()
                    page.wait_for_timeout(1500)
                    px = np.asarray(Image.open(io.BytesIO(frame.screenshot())).convert("L")).astype(int)
                    body = px < 235  # not the light background
                    assert 0.03 < body.mean() < 0.9, f"{path.name}: 3D view empty or full ({body.mean():.2f})"
                    assert (px[body] < 40).mean() < 0.2, f"{path.name}: 3D view mostly black"
            page.close()
        browser.close()


def test_reports_stand_alone_offline(tiny_chain):
    tmp_path, results = tiny_chain
    out = tmp_path / "reports" / "run"
    check_reports_offline(out)
    first = (out / "01_data_prep.html").read_text()
    assert "<math" in first and "index.html" in first


def test_pipeline_failure_names_notebook_and_cell(tmp_path):
    import nbformat

    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('run_dir = "x"\npreset = "tiny"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nbdir / "01_broken.ipynb")
    nbformat.write(nb, nbdir / "02_never.ipynb")
    from dalnb.claims import Claim, load_claims, save_claims

    save_claims(tmp_path / "run", "01_broken", [Claim("from an earlier run", "p", "o", True)])
    with pytest.raises(PipelineError, match=r"01_broken\.ipynb failed at cell \d+: ValueError: boom"):
        run_pipeline("tiny", tmp_path / "run", reports=tmp_path / "reports", notebooks_dir=nbdir)
    assert not (tmp_path / "reports" / "run" / "02_never.ipynb").exists()
    assert "failed" in (tmp_path / "reports" / "run" / "index.html").read_text()
    assert load_claims(tmp_path / "run") == []  # a failed notebook leaves no stale claims on the scorecard


def test_notebooks_dir_is_repo_folder():
    assert NOTEBOOKS == Path(__file__).resolve().parents[1] / "notebooks"


def test_headline_speed_rows_one_per_device_newest_first():
    """The index's speed rows: CPU and each GPU apart (a GPU record's host CPU does not make it a
    CPU figure), the newest record per configuration (an old code's run is not the best-ever
    figure), single image beside batched, runs with a person mask left out."""
    from dalnb.report import speed_rows

    cpu = {"cpu": "Xeon", "cores": 2}
    gpu = {"cpu": "EPYC", "cores": 16, "gpu": "NVIDIA H200"}

    def reg(batch, fps, device="cpu", m=cpu, compiled=False, date="d1", **kw):
        return {
            "kind": "speed",
            "batch": batch,
            "fits_per_s": fps,
            "seconds_per_batch": batch / fps,
            "device": device,
            "machine": m,
            "compiled": compiled,
            "date": date,
            **kw,
        }

    records = [
        reg(256, 300.0),
        reg(256, 100.0, date="d2"),
        reg(1, 2.0, compiled=True),
        reg(256, 500.0, silhouette=True),
        reg(4096, 1100.0, "cuda", gpu),
        reg(1, 0.5, "cuda", gpu),
    ]
    pred = [
        {
            "kind": "latency",
            "backbone": "resnet18",
            "ms_per_image": 25.2,
            "device": "cpu",
            "machine": cpu,
            "date": "d1",
        },
        {
            "kind": "latency",
            "backbone": "resnet18",
            "ms_per_image": 8.1,
            "device": "cuda",
            "machine": gpu,
            "date": "d1",
        },
    ]
    rows = {q: o for q, o, _, _ in speed_rows(records, pred)}
    assert (
        rows["registration speed, 100 it (Xeon, 2 cores)"]
        == "100 fits/s at batch 256 (eager); 0.50 s for one image (compiled) (d1, d2)"
    )
    assert (
        rows["registration speed, 100 it (NVIDIA H200)"]
        == "1100 fits/s at batch 4096 (eager); 2.00 s for one image (eager) (d1)"
    )
    assert rows["prediction latency, one 224-px image (Xeon, 2 cores)"] == "resnet18 25 ms (d1)"
    assert rows["prediction latency, one 224-px image (NVIDIA H200)"] == "resnet18 8 ms (d1)"
    assert len(rows) == 4


def test_headline_table4_row_gives_the_newest_run_and_the_margin_over_every_seed():
    from dalnb.report import table4_rows

    def rec(run, seed, setting, rnd, mpjpe):
        return {
            "bench": "rounds",
            "run": run,
            "seed": seed,
            "setting": setting,
            "round": rnd,
            "mpjpe_mm": mpjpe,
            "annotations": "real",
            "preset": "small",
            "n_train": 3000,
            "date": "2026-12-07",
            "machine": {"cpu": "AMD EPYC", "cores": 2},
        }

    recs = [
        rec("s0", 0, "rounds", 1, 200.0),
        rec("s0", 0, "rounds", 2, 186.0),
        rec("s0", 0, "single_step", None, 234.0),
        rec("s0", 0, "one_long_round", None, 190.0),
        rec("s1", 1, "rounds", 1, 212.0),
        rec("s1", 1, "rounds", 2, 194.0),
        rec("s1", 1, "single_step", None, 244.0),
        rec("s1", 1, "one_long_round", None, 192.0),
    ]
    (row,) = table4_rows(recs)
    assert row[0].startswith("bench rounds, real training annotations")
    assert (
        "212 &rarr; 194 mm (single step 244; one long round 192 mm; seed 1, small, 3000 renders, AMD EPYC, 2026-12-07)"
        in row[1]
    )
    assert row[1].endswith("rounds minus one long round: -1.0 +- 4.2 (sd) mm over 2 seeds")  # (186 - 190, 194 - 192)
    assert table4_rows(recs[:2]) == []  # no run with baselines


def check_mesh_view_offline(html_path):
    """The report's three.js mesh view draws and rotates in headless Chromium with every
    network request refused."""
    import io

    import numpy as np
    from browser import CHROMIUM_ARGS, chromium_path
    from PIL import Image

    exe = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        online = []

        def refuse(route):
            online.append(route.request.url)
            route.abort()

        page.route("http*://**", refuse)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html_path.as_uri(), wait_until="load")
        frame_el = page.locator('iframe[title^="3D mesh view"]').first
        frame_el.scroll_into_view_if_needed()
        page.wait_for_timeout(2500)

        def shot():
            return np.asarray(Image.open(io.BytesIO(frame_el.screenshot())).convert("RGB")).astype(int)

        a = shot()
        colours = len(np.unique(a.reshape(-1, 3) // 8, axis=0))
        box = frame_el.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 150, box["y"] + box["height"] / 2 + 20, steps=8)
        page.mouse.up()
        page.wait_for_timeout(800)
        b = shot()
        browser.close()
    assert not [e for e in errors if "WebGL" not in e], errors
    assert colours > 20, f"the mesh view looks empty ({colours} colours)"
    assert np.abs(a - b).mean() > 1.0, "dragging did not rotate the view"
    return online


def test_mesh_view_renders_offline_in_the_report(tiny_chain):
    _, results = tiny_chain
    report = next(r.html for r in results if r.name.startswith("01_"))
    assert check_mesh_view_offline(report) == []  # and the page asked the network for nothing


def test_reference_study_renders_offline():
    """The committed reference study: its index links every notebook, every page stands alone
    offline (``check_reports_offline``), and the evaluation report's 3D view rotates."""
    ref = Path(__file__).resolve().parents[1] / "reports" / f"reference-{REFERENCE_PRESET}"
    if not (ref / "index.html").exists():
        pytest.skip("no reference study in reports/")
    index = (ref / "index.html").read_text()
    for nb in ("01_data_prep", "02_cgan", "03_registration", "04_deform_and_learn", "05_evaluation", "06_ablations"):
        assert f"href='{nb}.html'" in index and (ref / f"{nb}.html").exists(), nb
    check_reports_offline(ref)
    assert check_mesh_view_offline(ref / "05_evaluation.html") == []


def test_rerunning_some_notebooks_keeps_the_index_whole(tiny_chain):
    """``--only 05`` re-runs one notebook; the index still links every notebook of the run
    (the others from their executed copies, status and duration from papermill's metadata)."""
    tmp_path, _ = tiny_chain
    out = tmp_path / "reports" / "run"
    again = run_pipeline("tiny", tmp_path / "run", reports=tmp_path / "reports", only=["05"])
    assert [r.name for r in again] == ["05_evaluation"] and again[0].status == "ok"
    index = (out / "index.html").read_text()
    for nb in list_notebooks():
        assert f"href='{nb.stem}.html'" in index, nb.stem
    assert index.count("class='ok'") == len(list_notebooks())


def test_readme_results_equal_the_reference_run():
    """README.md's results block is what the pipeline writes from the reference run's report, and
    the reference index shows the same claims and verdict counts."""
    from dalnb.claims import Claim, count_verdicts
    from dalnb.report.readme import BEGIN, END, results_block

    ref = Path(__file__).resolve().parents[1] / "reports" / f"reference-{REFERENCE_PRESET}"
    readme = (ref.parents[1] / "README.md").read_text()
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == results_block(ref).strip()
    claims = [
        Claim(**{k: v for k, v in r.items() if k != "notebook"}) for r in json.loads((ref / "claims.json").read_text())
    ]
    index = (ref / "index.html").read_text()
    assert f"{len(claims)} claims: {count_verdicts(claims)}" in index
    for c in claims:
        assert html.escape(c.ours) in index, c.ours
    for row in json.loads((ref / "headline.json").read_text()):
        assert row["ours"] in index


PLAYERS = ('iframe[title^="registration player"]', 'iframe[title^="rounds comparer"]')


def player_bytes(html_path: Path) -> int:
    """What the players (their iframes: registration player, rounds comparer, the body explorer's
    precomputed poses) weigh in a report page."""
    import re

    text = html_path.read_text()
    titles = ("registration player", "rounds comparer", "3D mesh view")
    return sum(len(m.group(0)) for m in re.finditer(r"<iframe[^>]*>", text) if any(t in m.group(0) for t in titles))


def check_players_offline(html_path: Path) -> int:
    """Each frame player of a report page in headless Chromium, every network request refused:
    moving its slider (and its picker) changes the picture, with no error. Returns how many."""
    import io

    from browser import CHROMIUM_ARGS, chromium_path
    from PIL import Image

    exe = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api")
    n = 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        online, errors = [], []

        def refuse(route):
            online.append(route.request.url)
            route.abort()

        page.route("http*://**", refuse)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(html_path.as_uri(), wait_until="load")
        for sel in PLAYERS:
            for el in page.locator(sel).all():
                el.scroll_into_view_if_needed()
                page.wait_for_timeout(500)
                shot = lambda el=el: np.asarray(Image.open(io.BytesIO(el.screenshot())).convert("L")).astype(int)  # noqa: E731
                inner = el.content_frame
                a = shot()
                inner.locator("input[type=range]").focus()
                page.keyboard.press("End")
                page.wait_for_timeout(500)
                b = shot()
                assert np.abs(a - b).mean() > 0.5, f"{html_path.name}: moving the slider of {sel} changed nothing"
                if inner.locator("select").count():
                    inner.locator("select").select_option(index=1)
                    page.wait_for_timeout(500)
                    assert np.abs(b - shot()).mean() > 0.5, f"{html_path.name}: picking another image changed nothing"
                n += 1
        browser.close()
    assert not online and not errors, (html_path.name, online, errors)
    return n


def test_players_play_offline_in_the_report(tiny_chain):
    """The registration player (03) and the rounds comparer (04) step through their frames in the
    exported HTML with no kernel and no network; the players weigh at most 1.5 MB on any page."""
    tmp_path, _ = tiny_chain
    out = tmp_path / "reports" / "run"
    assert check_players_offline(out / "03_registration.html") == 1
    assert check_players_offline(out / "04_deform_and_learn.html") == 1
    weights = {p.name: player_bytes(p) for p in sorted(out.glob("[0-9][0-9]_*.html"))}
    assert weights["01_data_prep.html"] > 0 and max(weights.values()) <= 1_500_000, weights


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_a_rerun_reuses_what_its_config_made_and_remakes_what_a_changed_knob_touches(tiny_chain):
    """Notebook 04 again on the chain's run folder: unchanged, it remakes nothing; with
    rounds.later_iters changed, round 2 is remade (round 1 kept), the page says why and shows the
    new results. (The choice of what a knob remakes, for every notebook: tests/test_steps.py.)"""
    tmp_path, _ = tiny_chain
    run = tmp_path / "run"
    before = _mtimes(run / "rounds")
    (r,) = run_pipeline("tiny", run, reports=tmp_path / "rerun", only=["04"])
    assert r.status == "ok" and _mtimes(run / "rounds") == before
    assert "remade" not in _output_text(r.ipynb)
    with np.load(run / "rounds" / "round2" / "fits.npz") as z:
        old_pose = z["pose"].copy()
    (r,) = run_pipeline(
        "tiny", run, reports=tmp_path / "rerun", only=["04"], extra_parameters={"overrides": {"rounds.later_iters": 5}}
    )
    after = _mtimes(run / "rounds")
    assert r.status == "ok"
    for f in ("round1/fits.npz", "round1/store.npz", "round1/regressor.pt", "round1/metrics.json"):
        assert after[f] == before[f], f
    for f in ("round2/fits.npz", "round2/store.npz", "round2/regressor.pt", "round2/metrics.json"):
        assert after[f] != before[f], f
    with np.load(run / "rounds" / "round2" / "fits.npz") as z:
        assert not np.allclose(z["pose"], old_pose)  # 5 iterations from the regressor, not 20
    new = json.loads((run / "rounds" / "round2" / "metrics.json").read_text())
    text = _output_text(r.ipynb)
    assert "round 2 fits: iters 20 -> 5, remade" in text
    assert "60 / 5 / 10" in text and f"{new['mpjpe_mm']:.1f}" in text


@pytest.mark.parametrize(
    "notebook, knob, value, remade, kept",
    [
        ("06", "ablations.n", 4, "ablations", ["rounds", "eval", "fits", "lifter"]),
        ("05", "evaluation.n_failures", 2, "eval", ["rounds", "ablations", "fits", "lifter"]),
        ("02", "lifter.steps", 30, "lifter", ["rounds", "eval", "ablations", "fits"]),
    ],
)
def test_a_changed_knob_remakes_its_notebook_s_results_and_leaves_the_others(
    tiny_chain, notebook, knob, value, remade, kept
):
    """One notebook re-run on the chain's folder with one of its knobs changed: its results are
    made again (the page says why), the other notebooks' are left as they are. (Notebook 03's
    knobs: tests/test_steps.py plans them; its re-run costs a minute of the suite.)"""
    tmp_path, _ = tiny_chain
    run = tmp_path / "run"
    before = {k: _mtimes(run / k) for k in [remade, *kept]}
    over = {"overrides": {knob: value}}
    (r,) = run_pipeline("tiny", run, reports=tmp_path / "rerun", only=[notebook], extra_parameters=over)
    assert r.status == "ok", r.error
    after = _mtimes(run / remade)
    assert after and all(after.get(f) != t for f, t in before[remade].items()), f"{remade} not remade"
    for k in kept:
        assert _mtimes(run / k) == before[k], f"{k} changed"
    assert f"{knob} " in _output_text(r.ipynb) and "remade" in _output_text(r.ipynb)
