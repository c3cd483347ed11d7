"""The teaching players in a real JupyterLab, in headless Chromium: notebook 01 run in full and a
slider of its body explorer moved (the 3D view's pixels change), then notebook 03 run on that
run's data and its registration player's slider moved (the picture changes)."""

import io
from pathlib import Path

import nbformat
import numpy as np
from browser import jupyterlab_page, open_notebook
from PIL import Image

from dalnb.paths import NOTEBOOKS


def _copy(name: str, folder: Path, run_dir: Path) -> None:
    """The notebook with its parameters cell pointing at ``run_dir`` (tiny preset, CPU)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    params = nb.cells[0]
    assert "parameters" in params.metadata.get("tags", [])
    params.source += f'\nrun_dir = "{run_dir}"\npreset = "tiny"\ndevice = "cpu"'
    nbformat.write(nb, folder / name)


def _shot(locator) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("L")).astype(int)


def _run_all(page, port: int, name: str, done: str, shots: Path) -> None:
    """Open ``name`` in a workspace of its own, run all its cells, wait until ``done`` is on the
    page and the kernel is idle; a cell's traceback fails at once with its text."""
    open_notebook(page, port, name, workspace=Path(name).stem)
    page.click("text=Run >> nth=0")
    page.click("text=Run All Cells")
    failed = page.locator(".jp-OutputArea-output:has-text('Traceback (most recent call last)')")
    for _ in range(300):
        if page.locator(done).count() or failed.count():
            break
        page.wait_for_timeout(2000)
    page.screenshot(path=str(shots / f"{Path(name).stem}.png"))
    assert not failed.count(), f"{name}: a cell failed in JupyterLab:\n{failed.first.inner_text()[-2000:]}"
    assert page.locator(done).count(), f"{name}: {done} did not appear in 10 minutes (see {shots})"
    page.wait_for_selector("text=| Idle", timeout=600000)


def test_players_move_in_jupyterlab(tmp_path):
    run_dir = tmp_path / "run"
    for name in ("01_data_prep.ipynb", "02_cgan.ipynb", "03_registration.ipynb"):
        _copy(name, tmp_path, run_dir)
    with jupyterlab_page(tmp_path, (1400, 1000)) as (page, port, errors):
        # notebook 01: the body explorer
        _run_all(page, port, "01_data_prep.ipynb", ".jp-OutputArea-output:has-text('The open template has')", tmp_path)
        explorer = page.locator(".jp-OutputArea-output:has(.widget-tab)").first
        explorer.scroll_into_view_if_needed()
        view = explorer.locator("canvas").first
        page.wait_for_timeout(2000)
        a = _shot(view)
        explorer.locator(".noUi-handle").first.focus()  # the first pose slider: spine1 x
        page.keyboard.press("End")
        explorer.locator("text=updated in").wait_for(timeout=30000)
        page.wait_for_timeout(2000)
        b = _shot(view)
        took = explorer.locator("text=updated in").inner_text()
        page.screenshot(path=str(tmp_path / "explorer.png"))
        # notebook 03 on the run notebooks 01 and 02 wrote, each notebook's kernel taking the run folder in turn
        _run_all(page, port, "02_cgan.ipynb", ".jp-OutputArea-output:has-text('claims measured here')", tmp_path)
        _run_all(page, port, "03_registration.ipynb", "iframe[title^='registration player']", tmp_path)
        player = page.locator("iframe[title^='registration player']").first
        player.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        c = _shot(player)
        player.content_frame.locator("input[type=range]").focus()
        page.keyboard.press("End")
        page.wait_for_timeout(1000)
        d = _shot(player)
    assert not [e for e in errors if "widget" in e.lower() or "three" in e.lower()], errors
    assert a.std() > 5, "the body explorer's 3D view is blank"
    assert np.abs(a - b).mean() > 0.5, f"moving a pose slider did not change the 3D view ({took})"
    assert np.abs(c - d).mean() > 0.5, "moving the registration player's slider did not change its picture"
