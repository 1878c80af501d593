"""The notebooks are stored stripped, run headless from a clean kernel, reproduce
data/derived/ (each notebook asserts it), and write nothing into data/ or figures/."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
TOPICS = ("01-evidence", "02-pooling-and-methods", "03-sensitivity", "04-claims-audit")
TIMEOUT = 120  # seconds per cell


@pytest.fixture(scope="module")
def derived_dir(tmp_path_factory) -> Path:
    """data/derived/ if `make report` has built it, else the two files the notebooks read,
    built here from the data package (a fresh clone)."""
    have = ROOT / "data" / "derived"
    if (have / "results.json").is_file() and (have / "claims_audit.json").is_file():
        return have
    out = tmp_path_factory.mktemp("derived")
    run = [sys.executable, "-m", "analysis"]
    pkg = str(ROOT / "data" / "datapackage.json")
    subprocess.run([*run, "analyze", "--in", pkg, "--out", str(out / "results.json")], check=True, cwd=ROOT,
                   capture_output=True)
    subprocess.run([*run, "audit", "--in", pkg, "--results", str(out / "results.json"), "--out",
                    str(out / "claims_audit.json")], check=True, cwd=ROOT, capture_output=True)
    return out


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(ROOT)): (p.stat().st_mtime_ns, p.stat().st_size)
            for folder in folders if folder.exists() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_four_topics_exist_in_order():
    assert [p.stem for p in NOTEBOOKS] == list(TOPICS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, "strip notebook metadata"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: strip outputs"
            assert cell["execution_count"] is None, f"{path.name}: strip execution counts"
        assert not cell.get("metadata"), f"{path.name}: strip cell metadata"
        assert "attachments" not in cell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_reads_data_derived(path):
    """Paths are relative to notebooks/ and the derived folder can be redirected."""
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                     if c["cell_type"] == "code")
    assert 'Path("../data/datapackage.json")' in code
    assert 'os.environ.get("BKVN_DERIVED", "../data/derived")' in code
    for forbidden in ("write_json", "write_text", "write_bytes", "savefig", "to_csv", "open("):
        assert forbidden not in code, f"{path.name} must not write files ({forbidden})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_reproduces_data_derived(path, derived_dir, monkeypatch):
    """Executing a notebook is the test: its assert cells compare every number it computes
    with data/derived/. It must not write into data/ or figures/."""
    monkeypatch.setenv("BKVN_DERIVED", str(derived_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    before = _snapshot(ROOT / "data", ROOT / "figures")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
    assert _snapshot(ROOT / "data", ROOT / "figures") == before, f"{path.name} wrote into data/ or figures/"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{path.name} printed to stderr (a warning?): {stderr[0][:300]}"
    # the kernel is the pinned environment's interpreter (the one running the tests)
    first = next(o.text for o in outputs if o.output_type == "stream" and o.text.startswith("python:"))
    kernel_python = Path(first.splitlines()[0].split(":", 1)[1].strip())
    assert kernel_python.parent == Path(sys.executable).parent
    # every figure the notebook shows is rendered as an image
    assert all("image/png" in o.data for o in outputs if o.output_type in ("execute_result", "display_data")
               and o.data.get("text/plain", "").startswith("<Figure"))
