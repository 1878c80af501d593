"""What every pipeline subcommand shares: the standard paths and the parser helpers."""

from __future__ import annotations

import json
from pathlib import Path

# Default paths point into this repository, wherever the command is run from (explicit
# paths given on the command line are read relative to the shell's folder, as usual).
REPO = Path(__file__).resolve().parents[2]


def _repo(rel: str) -> str:
    return str(REPO / rel)


def _read_json(path):
    from ..review.io import read_text_file
    from ..stats._validation import InputError

    p = Path(path)
    if not p.exists():
        raise InputError("no such file (run the earlier make step first)", file=str(path))
    try:
        return json.loads(read_text_file(p, kind="JSON"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}, column {exc.colno})", file=str(path),
                         line=exc.lineno) from None


# Standard paths of the pipeline's files (the Makefile's), used as the defaults of every
# subcommand that reads them, so each flag means the same thing everywhere.
DATA = _repo("data/datapackage.json")
RESULTS = _repo("data/derived/results.json")
AUDIT = _repo("data/derived/claims_audit.json")
CALIBRATION = _repo("data/derived/calibration.json")
BIB = _repo("report/references.bib")


def _command(sub, name: str, func, *, help: str, description: str, example: str):
    """One subparser with a description and an example (every subcommand has both)."""
    p = sub.add_parser(name, help=help, description=description,
                       epilog=f"example:\n  {example}")
    p.set_defaults(func=func)
    return p


def _in(p) -> None:
    p.add_argument("--in", dest="inp", default=DATA, metavar="PATH", help="the data package descriptor")


def _results(p) -> None:
    p.add_argument("--results", default=RESULTS, metavar="PATH", help="results JSON (from `analyze`)")
