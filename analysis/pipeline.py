"""Pipeline subcommands of ``python -m analysis`` (one per Makefile step).

Each reads explicit inputs and writes exactly one output, atomically.
"""

from __future__ import annotations

import json
from pathlib import Path


def _cmd_check_data(args) -> int:
    from .io import load_package

    pkg = load_package(args.inp)
    counts = ", ".join(f"{name} {len(df)}" for name, df in pkg.tables.items())
    print(f"{args.inp}: valid ({counts} rows)")
    return 0


def _cmd_update_hashes(args) -> int:
    from .io import sha256_file, write_text

    path = Path(args.inp)
    desc = json.loads(path.read_text(encoding="utf-8"))
    for res in desc["resources"]:
        f = path.parent / res["path"]
        if res["path"].startswith("raw/") and f.is_file():
            res["hash"] = "sha256:" + sha256_file(f)
    text = json.dumps(desc, indent=2, ensure_ascii=False) + "\n"
    write_text(text, path)
    print(f"{path}: hashes updated; record the reason for the raw change in data/README.md")
    return 0


def add_commands(sub) -> None:
    """Register the pipeline subcommands on an argparse subparsers object."""
    p = sub.add_parser("check-data", help="validate the data package (schema, hashes, rules)")
    p.add_argument("--in", dest="inp", default="data/datapackage.json")
    p.set_defaults(func=_cmd_check_data)

    p = sub.add_parser("update-hashes", help="record the sha256 of every raw file (curators only)")
    p.add_argument("--in", dest="inp", default="data/datapackage.json")
    p.set_defaults(func=_cmd_update_hashes)
