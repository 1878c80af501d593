"""Imports flow one way (STYLE.md 2.2); notebooks define no functions (2.9)."""

import ast
import json

import pytest
from conftest import ROOT

PKG = ROOT / "analysis"

# module -> layer; a module may import package modules of a lower layer only, plus the
# explicit same-layer exceptions below.
LAYERS = {
    "_validation": 0, "_citations": 0, "results": 0,
    "proportions": 1, "effects": 1, "heterogeneity": 1, "glmm": 1, "pooling": 1,
    "calibration": 1, "grade": 1, "audit_rules": 1,
    "io": 2, "_package_rules": 2, "plotting": 2,
    "synthesis": 3, "audit": 3, "figures": 3, "report": 3, "pipeline": 3, "cli": 3, "__main__": 3,
    "__init__": 3, "citation": 3, "slides": 3, "notebooks": 3,
}
SAME_LAYER_OK = {
    ("pooling", "effects"), ("pooling", "heterogeneity"), ("pooling", "glmm"),
    ("pooling", "proportions"), ("effects", "proportions"), ("calibration", "pooling"),
    ("calibration", "glmm"), ("calibration", "proportions"), ("calibration", "heterogeneity"),
    ("calibration", "effects"), ("io", "_package_rules"), ("_validation", "results"),
    ("results", "_citations"), ("grade", "pooling"),
}
FORBIDDEN_IN_STATS = {"matplotlib", "analysis.io", "analysis.plotting"}


def package_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level >= 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(a.name for a in node.names)
            elif node.module and node.module.startswith("analysis"):
                parts = node.module.split(".")
                found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("analysis."):
                    found.add(a.name.split(".")[1])
    return found


def external_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


MODULES = sorted(p for p in PKG.glob("*.py"))


def test_every_module_has_a_layer():
    missing = [p.stem for p in MODULES if p.stem not in LAYERS]
    assert not missing, f"add these modules to LAYERS: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_imports_point_down(path):
    me = path.stem
    for other in package_imports(path):
        if other == me or other not in LAYERS:
            continue
        ok = LAYERS[me] == 3 or LAYERS[other] < LAYERS[me] or (me, other) in SAME_LAYER_OK
        assert ok, f"{me} (layer {LAYERS[me]}) must not import {other} (layer {LAYERS[other]})"


@pytest.mark.parametrize("path", [p for p in MODULES if LAYERS.get(p.stem, 9) <= 1],
                         ids=lambda p: p.stem)
def test_statistics_do_not_touch_plotting_or_files(path):
    assert "matplotlib" not in external_imports(path)
    assert not ({"io", "plotting", "cli", "report"} & package_imports(path))


def test_plotting_does_no_statistics():
    path = PKG / "plotting.py"
    if not path.exists():
        pytest.skip("plotting not written yet")
    assert not ({"pooling", "glmm", "heterogeneity", "effects", "io"} & package_imports(path))


def test_notebooks_define_no_functions():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
            tree = ast.parse(src)
            defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)]
            assert not defs, f"{nb.name} defines {defs[0].name}"


def test_importing_the_package_has_no_side_effects():
    import subprocess
    import sys

    code = "import sys, analysis; print(sorted(m for m in sys.modules if m.startswith('matplotlib'))[:1])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert r.stdout.strip() == "[]", "importing analysis must not import matplotlib"
    assert r.stderr == ""
