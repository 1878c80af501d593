"""The pipeline steps that read the data package do not import pandas (issue 14, item 5).

The review layer (`analysis.review`) works on typed rows, not DataFrames: for its tables of
10-300 rows pandas costs ~100 us an operation and 0.2 s to import; the engine's results
make their DataFrames only when one is read. Each step runs in a fresh
interpreter that records who imports pandas first (the innermost frame of an ``analysis``
module on the stack when ``import pandas`` starts).
"""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

DATA = str(ROOT / "data" / "datapackage.json")

# Runs `python -m analysis ARGS` in-process, then prints one JSON line: the exit status,
# whether pandas was imported, and the analysis module (path:line) that imported it first.
WATCH = r"""
import json, sys, traceback

first = []


class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" and not first:
            mine = [f for f in traceback.extract_stack() if "/analysis/" in f.filename.replace("\\", "/")]
            first.append(f"{mine[-1].filename.replace(chr(92), '/').rsplit('/analysis/', 1)[-1]}:{mine[-1].lineno}"
                         if mine else "outside the analysis package")
        return None


sys.meta_path.insert(0, Watch())
from analysis.cli import main

status = main(sys.argv[1:], prog="python -m analysis")
print("WATCH " + json.dumps({"status": status, "pandas": "pandas" in sys.modules,
                              "importer": first[0] if first else None}))
"""


def run_step(*args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", WATCH, *args], check=False, capture_output=True, text=True,
                       cwd=ROOT)
    lines = [line for line in r.stdout.splitlines() if line.startswith("WATCH ")]
    assert lines, f"the step did not finish: {r.stderr[-2000:]}"
    out = json.loads(lines[-1][len("WATCH "):])
    assert out["status"] == 0, r.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    d = tmp_path_factory.mktemp("steps")
    return {
        "check-data": run_step("check-data", "--in", DATA, "--out", str(d / "valid.json")),
        "analyze": run_step("analyze", "--in", DATA, "--out", str(d / "results.json")),
        "audit": run_step("audit", "--in", DATA, "--results", str(d / "results.json"), "--out",
                          str(d / "claims_audit.json")),
        "design": run_step("design", "--in", DATA, "--out", str(d / "calibration_design.json")),
    }


@pytest.mark.parametrize("step", ["check-data", "analyze", "audit", "design"])
def test_the_data_steps_never_import_pandas(steps, step):
    """Neither the review layer nor the engine needs a DataFrame to run these steps: the
    engine's results make theirs only when one is read (analysis.stats._columns)."""
    assert not steps[step]["pandas"], f"{step} imported pandas (first from {steps[step]['importer']})"


def test_building_the_command_line_imports_no_pandas():
    """Every step pays for the parser: registering the subcommands loads no heavy library."""
    code = ("import sys; from analysis.cli import build_parser; build_parser(); "
            "print(sorted({'pandas', 'matplotlib', 'scipy'} & {m.split('.')[0] for m in sys.modules}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert r.stdout.strip() == "[]", f"building the parser imports {r.stdout.strip()}"


REVIEW = sorted((ROOT / "analysis" / "review").rglob("*.py"))


@pytest.mark.parametrize("path", REVIEW, ids=lambda p: p.relative_to(ROOT / "analysis").as_posix())
def test_no_review_module_imports_pandas_when_loaded(path):
    """pandas only inside a function (a DataFrame asked for by a user, the pool command's
    reader), never at module level: a step's later import would hide one from the
    subprocess checks above."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    top += [n for block in tree.body if isinstance(block, ast.If | ast.Try)
            for n in ast.walk(block) if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in top if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    assert not names & {"pandas", "numpy"}, f"{path.name} imports {sorted(names & {'pandas', 'numpy'})} at module level"
