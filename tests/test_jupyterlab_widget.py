"""The interactive 3D view (pythreejs) renders in a real JupyterLab in headless Chromium."""

import nbformat
import pytest
from browser import CHROMIUM_ARGS, chromium_path, free_port, start_jupyterlab


def test_mesh_widget_renders_in_jupyterlab(tmp_path):
    exe = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from dalnb import BodyModel\nfrom dalnb.viz import mesh_widget, part_colors\n"
            "b = BodyModel.default()\nmesh_widget(b.v_template, b.faces, colors=part_colors(b.parts))"
        )
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "w.ipynb")
    port = free_port()
    server = start_jupyterlab(tmp_path, port)
    errors = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/lab/tree/w.ipynb", timeout=60000)
            page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=60000)
            page.wait_for_selector("text=| Idle", timeout=90000)  # the kernel is connected
            page.click(".jp-Notebook .jp-Cell .cm-content")
            page.click("text=Run >> nth=0")
            page.click("text=Run Selected Cell")
            try:
                page.wait_for_selector(".jp-OutputArea-output canvas", timeout=120000)
            except Exception:
                page.screenshot(path="/tmp/lab_fail.png")
                raise
            page.wait_for_timeout(1500)
            page.screenshot(path=str(tmp_path / "lab.png"))
            out = page.inner_text(".jp-OutputArea")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Error displaying widget" not in out and "can not be instantiated" not in out, out
    assert not [e for e in errors if "three" in e.lower() or "widget" in e.lower()], errors
