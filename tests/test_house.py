"""The house rules: small modules, no import cycle, one projection, the public API the README
shows, thin notebooks, and paths that resolve from the repository root."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dalnb.paths import NOTEBOOKS, ROOT, SHARED_DATA, resolve

PKG = ROOT / "dalnb"
MODULES = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in PKG.rglob("*.py")}


def test_no_module_is_over_400_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"


def _defined_in(package: str, name: str) -> str:
    """The submodule a package's __init__ takes ``name`` from (the package itself if none)."""
    tree = ast.parse(MODULES[package].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and any(a.asname or a.name == name for a in node.names):
            if node.module in MODULES:
                return node.module
    return package


def import_graph() -> dict[str, set[str]]:
    """Every dalnb module -> the dalnb modules it imports, at import time or inside functions;
    ``from pkg import name`` counts as an import of the submodule that defines ``name``."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    if sub in MODULES:
                        targets.append(sub)
                    elif node.module in MODULES and MODULES[node.module].name == "__init__.py":
                        targets.append(_defined_in(node.module, a.name))
                    else:
                        targets.append(node.module)
            graph[mod] |= {t for t in targets if t in MODULES and t != mod}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return path + [n, m]
            if m not in state and (c := visit(m, path + [n])):
                return c
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n, [])):
            return c
    return None


def test_no_import_cycle_among_dalnb_modules():
    assert find_cycle(import_graph()) is None, f"import cycle: {' -> '.join(find_cycle(import_graph()))}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def layers() -> dict[str, int]:
    """docs/ARCHITECTURE.md's table: module name prefix -> layer number."""
    out = {}
    for line in (ROOT / "docs" / "ARCHITECTURE.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            out |= {name: int(cells[0]) for name in re.findall(r"`([\w.]+)`", cells[2])}
    return out


def layer_of(module: str, table: dict[str, int]) -> int:
    """The layer of the longest table name that ``module`` is or starts with."""
    names = [n for n in table if module == n or module.startswith(n + ".")]
    if not names:
        raise KeyError(f"{module}: in no layer of docs/ARCHITECTURE.md")
    return table[max(names, key=len)]


def upward_imports(graph: dict[str, set[str]], table: dict[str, int]) -> list[str]:
    return sorted(
        f"{m} (layer {layer_of(m, table)}) imports {t} (layer {layer_of(t, table)})"
        for m, targets in graph.items()
        for t in targets
        if layer_of(t, table) > layer_of(m, table)
    )


def test_every_module_has_a_layer_and_imports_only_go_down():
    table = layers()
    assert len(set(table.values())) == 7, table
    assert not upward_imports(import_graph(), table), "\n".join(upward_imports(import_graph(), table))


def test_the_layer_check_finds_an_upward_import():
    table = {"dalnb.io": 0, "dalnb.viz": 5, "dalnb": 6}
    assert upward_imports({"dalnb.io": {"dalnb.viz"}, "dalnb.viz": {"dalnb.io"}}, table) == [
        "dalnb.io (layer 0) imports dalnb.viz (layer 5)"
    ]
    assert layer_of("dalnb.viz", table) == 5 and layer_of("dalnb.io", table) == 0


def test_no_module_imports_the_package_face():
    """``from dalnb import X`` inside the package only for a submodule X, never a name of dalnb/__init__."""
    face = []
    for mod, path in MODULES.items():
        if mod == "dalnb":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "dalnb" and node.level == 0:
                face += [f"{mod}: from dalnb import {a.name}" for a in node.names if f"dalnb.{a.name}" not in MODULES]
    assert not face, face


def test_package_inits_only_re_export():
    for mod, path in MODULES.items():
        if path.name != "__init__.py":
            continue
        for node in ast.parse(path.read_text()).body:
            ok = isinstance(node, (ast.Import, ast.ImportFrom)) or (
                isinstance(node, (ast.Expr, ast.Assign)) and not isinstance(getattr(node, "value", None), ast.Call)
            )
            assert ok, f"{mod}: {ast.unparse(node)[:80]!r} is more than a re-export"


def test_projection_is_defined_once():
    """Only body/camera.py turns camera-frame points into pixels (x / z or s x + t); functions
    elsewhere named for projecting call it."""
    formula = re.compile(r"\[(:|\.\.\.), :2\] / \w+\[(:|\.\.\.), 2:\]|\w+ \* \w+\[\.\.\., :2\] \+ \w+")
    assert {m for m, p in MODULES.items() if formula.search(p.read_text())} == {"dalnb.body.camera"}
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text())
        camera = {
            a.asname or a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module == "dalnb.body.camera"
            for a in n.names
        }
        for f in ast.walk(tree):
            if mod != "dalnb.body.camera" and isinstance(f, ast.FunctionDef) and re.match(r"_?project", f.name):
                calls = {c.func.id for c in ast.walk(f) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
                assert calls & camera, f"{mod}.{f.name} projects without dalnb.body.camera"


def _readme_quickstart() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md has no python block"
    return blocks[0]


def test_the_public_api_is_what_the_readme_imports():
    imports = [ln for ln in _readme_quickstart().splitlines() if ln.startswith(("from dalnb", "import dalnb"))]
    assert "from dalnb import BodyModel, load_samples, register, fit_photos" in imports
    ns: dict = {}
    exec("\n".join(imports), ns)
    import dalnb

    for name in ("BodyModel", "load_samples", "register", "fit_photos"):
        assert ns[name] is getattr(dalnb, name) and getattr(dalnb, name).__doc__


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]).strip() for c in nb["cells"] if c["cell_type"] == "code"]


NBS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NBS, ids=lambda p: p.name)
def test_notebook_code_has_no_joined_statements(path):
    for src in _code_cells(path):
        for node in ast.walk(ast.parse(re.sub(r"^[!%].*$", "", src, flags=re.M))):
            body = getattr(node, "body", None)
            if isinstance(body, list):
                lines = [s.lineno for s in body]
                assert len(lines) == len(set(lines)), f"{path.name}: statements joined by ';' in\n{src[:200]}"


def test_paths_resolve_from_the_repository_root_whatever_the_working_directory(monkeypatch):
    from dalnb import Run

    monkeypatch.chdir(NOTEBOOKS)
    assert Run("runs/dev").root == ROOT / "runs" / "dev"
    assert resolve("../shared/data") == ROOT.parent / "shared" / "data" == SHARED_DATA
    assert resolve("/abs/path") == Path("/abs/path")


@pytest.mark.parametrize("path", NBS, ids=lambda p: p.name)
def test_default_parameters_point_where_the_pipeline_looks(path):
    """Each notebook's default paths, resolved as the notebook resolves them, are the repository's
    runs/ and the shared data the pipeline's runs read."""
    params = {}
    exec(_code_cells(path)[0], {}, params)
    assert resolve(params["run_dir"]).parent == ROOT / "runs"
    for key in ("shared_data", "photos_dir"):
        if key in params:
            assert resolve(params[key]).is_relative_to(SHARED_DATA), (key, params[key])


def test_a_notebook_run_from_the_notebooks_folder_writes_under_the_repository(tmp_path):
    """Run as JupyterLab runs it (working directory notebooks/), a notebook's relative run folder
    lands under the repository's runs/, not notebooks/runs/."""
    name = f"runs/test-cwd-{os.getpid()}"
    code = f"from dalnb.config import start_run\ncfg = start_run({name!r}, 'probe', 'tiny')\nprint(cfg.preset)"
    r = subprocess.run([sys.executable, "-c", code], cwd=NOTEBOOKS, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    try:
        assert (ROOT / name / "config" / "probe.yaml").exists() and not (NOTEBOOKS / "runs").exists()
    finally:
        import shutil

        shutil.rmtree(ROOT / name, ignore_errors=True)


PAPER_NUMBERS = re.compile(r"(?<![\d.])(106|140|18\.6|12\.0|106\.84|66\.5|87\.97|56\.8|0\.76|0\.65)(?![\d.])")


def test_the_paper_s_numbers_stand_once_in_study_paper():
    """The study layer and the reports quote the paper through ``study.paper``: no literal of its
    numbers there (numbers or text), and none in any notebook cell."""
    table = layers()
    typed = []
    for mod, path in MODULES.items():
        if mod == "dalnb.study.paper" or not (layer_of(mod, table) == 4 or mod.startswith("dalnb.report")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
                text = node.value if isinstance(node.value, str) else repr(node.value)
                if isinstance(node.value, (int, float, str)) and PAPER_NUMBERS.search(str(text)):
                    typed.append(f"{mod}:{node.lineno}: {str(text)[:60]!r}")
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if m := PAPER_NUMBERS.search("".join(cell["source"])):
                typed.append(f"{nb.name} cell {i}: {m.group(0)}")
    assert not typed, typed


def test_no_private_name_is_imported_across_modules():
    private = [
        f"{mod}: from {node.module} import {a.name}"
        for mod, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dalnb")
        for a in node.names
        if a.name.startswith("_") and a.name != "__version__"
    ]
    assert not private, private


def test_fit_results_are_built_by_field_name():
    import numpy as np
    import torch

    from dalnb.fitting import FitResult

    z = torch.zeros(1, 24, 3)
    with pytest.raises(TypeError):
        FitResult(z, z, z, z, z, z, {}, np.array(["ok"]))
    fields = dict(pose=z, segment_scales=z, rotation=z, camera=z, vertices=z, joints=z, losses={})
    assert FitResult(**fields, status=np.array(["ok"])).status[0] == "ok"


def test_no_function_in_fitting_or_training_is_over_60_lines():
    long = [
        f"{mod}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for mod, path in MODULES.items()
        if mod.startswith(("dalnb.fitting", "dalnb.training"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long, long


def _imports(code: str) -> set[str]:
    """The modules a code cell imports (``from dalnb import bench`` counts as ``dalnb.bench``)."""
    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_notebooks_import_nothing_from_the_benchmark_runners():
    found = [
        f"{nb.name} cell {i}: {sorted(m for m in mods if m.startswith('dalnb.bench'))}"
        for nb in sorted(NOTEBOOKS.glob("*.ipynb"))
        for i, cell in enumerate(json.loads(nb.read_text())["cells"])
        if cell["cell_type"] == "code"
        for mods in [_imports("".join(cell["source"]))]
        if any(m == "dalnb.bench" or m.startswith("dalnb.bench.") for m in mods)
    ]
    assert not found, found
    assert _imports("from dalnb import bench") >= {"dalnb.bench"}
