"""The interactive 3D view (pythreejs) renders in a real JupyterLab in headless Chromium."""

import nbformat
from browser import jupyterlab_page, open_notebook


def test_mesh_widget_renders_in_jupyterlab(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from dalnb import BodyModel\nfrom dalnb.viz import mesh_widget, part_colors\n"
            "b = BodyModel.default()\nmesh_widget(b.v_template, b.faces, colors=part_colors(b.parts))"
        )
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "w.ipynb")
    with jupyterlab_page(tmp_path) as (page, port, errors):
        open_notebook(page, port, "w.ipynb")
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
    assert "Error displaying widget" not in out and "can not be instantiated" not in out, out
    assert not [e for e in errors if "three" in e.lower() or "widget" in e.lower()], errors
