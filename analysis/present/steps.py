"""Pipeline subcommands of ``python -m analysis`` (one per Makefile step).

Each reads explicit inputs and writes exactly one output, atomically, so a failed step
leaves nothing half-written. ``figures`` writes a set of figure files and, last, the
manifest that lists them; the manifest is the step's make target.
"""

from __future__ import annotations

import json
from pathlib import Path


def _read_json(path):
    from ..stats._validation import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file (run the earlier make step first)", file=str(path))
    return json.loads(p.read_text(encoding="utf-8"))


def _cmd_check_data(args) -> int:
    from ..review.io import load_package, write_json

    pkg = load_package(args.inp)
    counts = {name: len(df) for name, df in pkg.tables.items()}
    print(f"{args.inp}: valid (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + " rows)")
    if args.out:
        write_json({"valid": True, "rows": counts, "hashes": pkg.hashes()}, args.out)
    return 0


def _cmd_update_hashes(args) -> int:
    from ..review.io import sha256_file, write_text

    path = Path(args.inp)
    desc = json.loads(path.read_text(encoding="utf-8"))
    for res in desc["resources"]:
        f = path.parent / res["path"]
        if res["path"].startswith("raw/") and f.is_file():
            res["hash"] = "sha256:" + sha256_file(f)
    write_text(json.dumps(desc, indent=2, ensure_ascii=False) + "\n", path)
    print(f"{path}: hashes updated; record the reason for the raw change in data/README.md")
    return 0


def _cmd_analyze(args) -> int:
    from ..review.io import load_package, write_json
    from ..review.synthesis import build_results

    pkg = load_package(args.inp)
    write_json(build_results(pkg, package_hashes=pkg.hashes()), args.out)
    print(f"wrote {args.out}")
    return 0


def flat_results(results: dict) -> list[dict]:
    """One row per pooled estimate (methods and scenarios of every outcome)."""
    rows = []
    for outcome in results["outcome_order"]:
        res = results["outcomes"][outcome]
        for kind in ("methods", "scenarios"):
            for r in res.get(kind) or []:
                rows.append({"outcome": outcome, "kind": kind[:-1], "label": r["label"],
                             "k": r["k"], "events": r["events"], "n_patients": r["n_patients"],
                             "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                             "pi_low": r["pi_low"], "pi_high": r["pi_high"], "tau2": r["tau2"],
                             "i2": r["i2"], "primary": r["primary"],
                             "studies": ";".join(r["studies"]), "warnings": " | ".join(r["warnings"])})
    return rows


# table name -> rows built from (results, audit, calibration); one CSV each
TABLES = {
    "results": lambda res, aud, cal: flat_results(res),
    "evidence": lambda res, aud, cal: res["evidence_table"],
    "percent-checks": lambda res, aud, cal: res["percent_checks"],
    "comparative": lambda res, aud, cal: res["comparative"]["studies"],
    "claims-audit": lambda res, aud, cal: [
        {**a, "evidence": ";".join(a["evidence"]), "sources": ";".join(a["sources"])} for a in aud["claims"]
    ],
    "calibration": lambda res, aud, cal: cal["rows"],
}


def _cmd_tables(args) -> int:
    """Write every CSV table, then (last) the manifest that lists them with their sha256."""
    import pandas as pd

    from ..review.io import dumps_json, sha256_file, write_csv, write_text

    res = _read_json(args.results)
    aud = _read_json(args.audit)
    cal = _read_json(args.calibration)
    outdir = Path(args.outdir)
    files = {}
    for name, build in sorted(TABLES.items()):
        rows = build(res, aud, cal)
        path = outdir / f"{name.replace('-', '_')}.csv"
        write_csv(pd.DataFrame(rows), path)
        files[path.name] = sha256_file(path)
    write_text(dumps_json({"tables": files, "from": sorted(Path(p).name for p in (args.results, args.audit, args.calibration))}), args.manifest)
    print(f"wrote {args.manifest}")
    return 0


def _cmd_audit(args) -> int:
    from ..review.audit import audit_claims, summarise
    from ..review.io import dumps_json, load_package, write_json

    pkg = load_package(args.inp)
    res = _read_json(args.results)
    claims = audit_claims(pkg, res)
    out = {"summary": summarise(claims), "claims": claims,
           "rules": "analysis/audit.py (module docstring)"}
    if args.out:
        write_json(out, args.out)
        print(f"wrote {args.out}")
    if args.json:
        print(dumps_json(out), end="")
    elif not args.out or args.print:
        print(format_audit(claims))
    return 0


def format_audit(claims) -> str:
    """The audit as a fixed-width terminal table."""
    import textwrap

    lines = [f"{'claim':<6}{'verdict':<18}{'claimed':<20}what the answer says / what the data show", "-" * 100]
    for a in claims:
        said = textwrap.wrap(a["claim"], 56) or [""]
        why = textwrap.wrap("-> " + a["reason"], 56)
        first = f"{a['claim_id']:<6}{a['verdict']:<18}{a['claimed'][:19]:<20}"
        body = said + why
        lines.append(first + body[0])
        lines += [" " * 44 + b for b in body[1:]]
    counts = {}
    for a in claims:
        counts[a["verdict"]] = counts.get(a["verdict"], 0) + 1
    lines.append("-" * 100)
    lines.append("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return "\n".join(lines)


def _cmd_figures(args) -> int:
    from .figures import write_figures

    write_figures(_read_json(args.results), _read_json(args.audit) if args.audit else None,
                  Path(args.outdir), args.manifest, only=args.only,
                  calibration=_read_json(args.calibration) if args.calibration else None)
    print(f"wrote {args.manifest}")
    return 0


def _cmd_report(args) -> int:
    from .report import render_report

    manifest = _read_json(args.manifest)
    for extra in args.extra_manifest or []:
        manifest["figures"] += _read_json(extra)["figures"]
    render_report(results=_read_json(args.results), audit=_read_json(args.audit),
                  manifest=manifest, template=Path(args.template),
                  bibliography=Path(args.bib), out=Path(args.out), figdir=Path(args.manifest).parent,
                  calibration=_read_json(args.calibration) if args.calibration else None)
    print(f"wrote {args.out}")
    return 0


def _cmd_cite(args) -> int:
    from .citation import format_citations

    print(format_citations(Path(args.bib), Path(args.cff), style=args.style))
    return 0


def _cmd_bibtex(args) -> int:
    from ..review.io import load_package, write_text
    from .citation import update_bib

    pkg = load_package(args.inp)
    write_text(update_bib(Path(args.bib), pkg["studies"]), args.bib)
    print(f"{args.bib}: study entries regenerated from {args.inp}")
    return 0


def _cmd_design(args) -> int:
    """Write the calibration design; leave the file (and its mtime) alone if unchanged."""
    from ..review.design import calibration_design
    from ..review.io import dumps_json, load_package, write_text

    text = dumps_json(calibration_design(load_package(args.inp)))
    out = Path(args.out)
    if out.is_file() and out.read_text(encoding="utf-8") == text:
        print(f"{out}: unchanged")
        return 0
    write_text(text, out)
    print(f"wrote {out}")
    return 0


def progress_bar(stream, *, width: int = 30):
    """A callback ``(done, total)`` drawing a one-line bar with elapsed time on `stream`."""
    import time

    start = time.monotonic()

    def show(done: int, total: int) -> None:
        filled = width * done // max(total, 1)
        secs = int(time.monotonic() - start)
        stream.write(f"\rcalibration [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"scenarios {secs // 60}:{secs % 60:02d}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def _progress_stream(args):
    """Where the progress bar goes: stderr if a terminal, else (with --tty-progress, as make
    -O captures stderr) the terminal itself, else nowhere."""
    import sys

    if args.quiet:
        return None
    if sys.stderr.isatty():
        return sys.stderr
    if args.tty_progress:
        try:
            return open("/dev/tty", "w", encoding="utf-8")
        except OSError:  # no terminal (CI, cron): no bar
            return None
    return None


def _cmd_calibrate(args) -> int:
    import hashlib
    import sys

    from ..review.io import write_json
    from ..stats.calibration import run_design

    path = Path(args.design)
    design = _read_json(path)
    stream = _progress_stream(args)
    out = run_design(design, replicates=args.replicates, seed=args.seed,
                     executor="dask" if args.scheduler else args.executor, jobs=args.jobs,
                     scheduler=args.scheduler,
                     progress=None if stream is None else progress_bar(stream))
    if stream is not None and stream is not sys.stderr:
        stream.close()
    out["design_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    write_json(out, args.out)
    print(f"wrote {args.out}")
    return 0


def add_commands(sub) -> None:
    """Register the pipeline subcommands on an argparse subparsers object."""
    p = sub.add_parser("check-data", help="validate the data package (schema, hashes, rules)")
    p.add_argument("--in", dest="inp", default="data/datapackage.json")
    p.add_argument("--out", default=None, help="optional JSON stamp of the validated package")
    p.set_defaults(func=_cmd_check_data)

    p = sub.add_parser("update-hashes", help="record the sha256 of every raw file (curators only)")
    p.add_argument("--in", dest="inp", default="data/datapackage.json")
    p.set_defaults(func=_cmd_update_hashes)

    p = sub.add_parser("analyze", help="run every analysis into one results JSON")
    p.add_argument("--in", dest="inp", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("tables", help="write every results table as CSV, then their manifest")
    p.add_argument("--results", required=True)
    p.add_argument("--audit", required=True)
    p.add_argument("--calibration", required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--manifest", required=True)
    p.set_defaults(func=_cmd_tables)

    p = sub.add_parser("audit", help="audit the AI answer's claims; prints the table")
    p.add_argument("--in", dest="inp", default="data/datapackage.json")
    p.add_argument("--results", required=True)
    p.add_argument("--out", default=None)
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--print", action="store_true", help="print the table also when --out is given")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("figures", help="draw every figure (SVG, PNG, PDF) and write the manifest")
    p.add_argument("--results", required=True)
    p.add_argument("--audit", default=None)
    p.add_argument("--calibration", default=None)
    p.add_argument("--only", choices=("outcomes", "evidence", "calibration"), default="evidence")
    p.add_argument("--outdir", required=True)
    p.add_argument("--manifest", required=True)
    p.set_defaults(func=_cmd_figures)

    p = sub.add_parser("report", help="render the self-contained HTML report")
    p.add_argument("--results", required=True)
    p.add_argument("--audit", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--extra-manifest", action="append", help="another figure manifest (repeatable)")
    p.add_argument("--calibration", default=None)
    p.add_argument("--template", default="report/template.html")
    p.add_argument("--bib", default="report/references.bib")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("bibtex", help="regenerate the study entries of report/references.bib (curators)")
    p.add_argument("--in", dest="inp", default="data/datapackage.json")
    p.add_argument("--bib", default="report/references.bib")
    p.set_defaults(func=_cmd_bibtex)

    p = sub.add_parser("design", help="write the calibration design (study sizes, grid, methods)")
    p.add_argument("--in", dest="inp", default="data/datapackage.json")
    p.add_argument("--out", required=True, help="written only when its content changes")
    p.set_defaults(func=_cmd_design)

    p = sub.add_parser("calibrate", help="simulate the coverage of every interval for the design")
    p.add_argument("--design", required=True, help="the design file written by `design`")
    p.add_argument("--out", required=True)
    p.add_argument("--replicates", type=int, default=None, help="per scenario (default: the design's)")
    p.add_argument("--seed", type=int, default=None, help="default: the design's")
    p.add_argument("--executor", choices=("local", "dask"), default="local")
    p.add_argument("--jobs", type=int, default=1, help="local processes (executor local)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--tty-progress", action="store_true",
                   help="draw the bar on the terminal even when stderr is captured (make -O)")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("cite", help="print how to cite the package and every included study")
    p.add_argument("--bib", default="report/references.bib")
    p.add_argument("--cff", default="CITATION.cff")
    p.add_argument("--style", choices=("text", "bibtex", "both"), default="both")
    p.set_defaults(func=_cmd_cite)

    from .slides import add_slides_command

    add_slides_command(sub)
