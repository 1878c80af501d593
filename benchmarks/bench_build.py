"""`make bench` (build part): how long the package and the build take on this machine.

Measured, never asserted (issue 14 targets in brackets):

* ``python -c "import analysis"`` in a fresh interpreter (< 0.3 s): the public API is lazy;
* ``python -m analysis analyze`` on the shipped data package (< 1 s);
* a clean ``make report`` with the calibration target already built (< 5 s), and a
  no-op ``make report`` (< 1 s).

The build runs in a throw-away copy of the working tree (``git worktree``-free: a plain
copy of the tracked files plus the existing .venv), so the working tree is never touched.
Every run uses Python's default bytecode cache (``__pycache__``), as the Makefile does,
and one BLAS thread, as the Makefile sets; ``analyze`` is the median of five runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def wall(cmd: list[str], cwd: Path, repeats: int = 1, env: dict | None = None) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def copy_tree(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    os.symlink(ROOT / ".venv", dest / ".venv")


def main() -> None:
    # Python's default: compiled modules are cached in __pycache__ (as `make` runs them; an
    # environment with PYTHONDONTWRITEBYTECODE would recompile every module every run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"  # as the Makefile sets them
    rows = []
    wall([PY, "-c", "import analysis.cli, analysis.review.synthesis"], ROOT, 1, env)  # warm the cache
    rows.append(("import analysis (fresh interpreter)", wall([PY, "-c", "import analysis"], ROOT, 7, env), 0.3))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        cmd = [PY, "-m", "analysis", "analyze", "--in", "data/datapackage.json", "--out", str(out)]
        rows.append(("analyze (shipped data package)", wall(cmd, ROOT, 5, env), 1.0))
        work = Path(tmp) / "tree"
        work.mkdir()
        copy_tree(work)
        subprocess.run(["git", "init", "-q"], cwd=work, check=True)
        env = {**env, "MAKEFLAGS": ""}
        make = ["make", "--no-print-directory", "-o", ".venv/.installed"]
        # build the calibration target first: it has its own budget (issue 11)
        subprocess.run([*make, "calibration"], cwd=work, check=True, capture_output=True, env=env)
        rows.append(("make report, clean (calibration already built)", wall([*make, "report"], work, 1, env), 5.0))
        rows.append(("make report, no-op", wall([*make, "report"], work, 3, env), 1.0))
    width = max(len(r[0]) for r in rows)
    print(f"{'build step':<{width}}  {'median':>9}  {'target':>7}")
    for name, t, target in rows:
        flag = "" if t <= target else "  (over target)"
        print(f"{name:<{width}}  {t:8.3f}s  {target:6.1f}s{flag}")


if __name__ == "__main__":
    main()
