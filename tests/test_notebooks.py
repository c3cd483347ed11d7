"""Notebooks: kept without outputs, a parameters cell first, and the chain runs (tiny preset)."""
import json
from pathlib import Path

import pytest

from dalnb.pipeline import NOTEBOOKS, PipelineError, list_notebooks, run_pipeline

NBS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name for p in NBS][:1] == ["01_data_prep.ipynb"]


@pytest.mark.parametrize("path", NBS, ids=lambda p: p.name)
def test_notebook_stripped_and_parameterised(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in code), f"{path.name} has outputs: strip them"
    first = code[0]
    assert "parameters" in first.get("metadata", {}).get("tags", []), "first code cell must be tagged 'parameters'"
    src = "".join(first["source"])
    assert "run_dir" in src and "preset" in src


def test_pipeline_runs_every_notebook_tiny(tmp_path):
    results = run_pipeline("tiny", tmp_path / "run", reports=tmp_path / "reports")
    assert [r.status for r in results] == ["ok"] * len(list_notebooks())
    out = tmp_path / "reports" / "run"
    assert (out / "index.html").exists()
    for r in results:
        assert r.html is not None and r.html.stat().st_size > 10_000
    assert (tmp_path / "run" / "config" / "01_data_prep.yaml").exists()
    assert (tmp_path / "run" / "body" / "stepping.glb").exists()


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
    with pytest.raises(PipelineError, match=r"01_broken\.ipynb failed at cell \d+: ValueError: boom"):
        run_pipeline("tiny", tmp_path / "run", reports=tmp_path / "reports", notebooks_dir=nbdir)
    assert not (tmp_path / "reports" / "run" / "02_never.ipynb").exists()
    assert "failed" in (tmp_path / "reports" / "run" / "index.html").read_text()


def test_notebooks_dir_is_repo_folder():
    assert NOTEBOOKS == Path(__file__).resolve().parents[1] / "notebooks"
