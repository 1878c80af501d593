"""Pipeline subcommands of ``python -m analysis`` (one per Makefile step).

Each reads explicit inputs and writes exactly one output, atomically, so a failed step
leaves nothing half-written. ``figures`` writes a set of figure files and, last, the
manifest that lists them; the manifest is the step's make target.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._steps_common import (  # noqa: F401  (the standard paths are part of this module's API)
    AUDIT,
    BIB,
    CALIBRATION,
    DATA,
    REPO,
    RESULTS,
    _command,
    _in,
    _read_json,
    _repo,
    _results,
)
from .steps_calibration import add_calibration_commands, decision_record, progress_bar  # noqa: F401


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
    print(f"{path}: hashes updated; record the reason for the raw change in {path.parent / 'README.md'}")
    return 0


def _cmd_analyze(args) -> int:
    from ..review.io import load_package, write_json
    from ..review.question import load_question
    from ..review.synthesis import build_results

    pkg = load_package(args.inp)
    question = load_question(Path(args.inp).parent / "question.toml")
    write_json(build_results(pkg, package_hashes=pkg.hashes(), question=question), args.out)
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
    # a question without an appraised answer has no claims table: an empty audit
    claims = audit_claims(pkg, res) if "claims" in pkg.tables else []
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
        # a long claimed value wraps in its column rather than being cut
        claimed = textwrap.wrap(a["claimed"], 19) or [""]
        body = said + why
        for j in range(max(len(body), len(claimed))):
            head = f"{a['claim_id']:<6}{a['verdict']:<18}" if j == 0 else " " * 24
            cell = claimed[j] if j < len(claimed) else ""
            lines.append(f"{head}{cell:<20}{body[j] if j < len(body) else ''}".rstrip())
    counts = {}
    for a in claims:
        counts[a["verdict"]] = counts.get(a["verdict"], 0) + 1
    lines.append("-" * 100)
    lines.append("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return "\n".join(lines)


def _cmd_figures(args) -> int:
    from .figures import write_figures

    # each set reads only the files it draws from (the make jobs run in parallel)
    write_figures(_read_json(args.results),
                  _read_json(args.audit) if args.only in ("evidence", "all") else None,
                  Path(args.outdir), args.manifest, only=args.only, formats=args.formats,
                  calibration=_read_json(args.calibration) if args.only in ("calibration", "all") else None)
    print(f"wrote {args.manifest}")
    return 0


def _formats(text: str) -> tuple[str, ...]:
    """--formats: 'svg,png' -> ('svg', 'png'); argparse turns the ValueError into exit 2."""
    import argparse

    from .figures import FORMATS

    out = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a comma-separated list of {', '.join(FORMATS)}")
    return out


def _cmd_report(args) -> int:
    from .report import render_report

    manifest = _read_json(args.manifest)
    for extra in args.extra_manifest or []:
        manifest["figures"] += _read_json(extra)["figures"]
    render_report(results=_read_json(args.results), audit=_read_json(args.audit),
                  manifest=manifest, template=Path(args.template),
                  bibliography=Path(args.bib), out=Path(args.out), figdir=Path(args.manifest).parent,
                  calibration=_read_json(args.calibration) if args.calibration else None,
                  decision=_read_json(args.decision) if Path(args.decision).is_file() else None)
    print(f"wrote {args.out}")
    return 0


def _cmd_report_pdf(args) -> int:
    """Print the HTML report to an A4 PDF with Chromium; footer: commit and page number."""
    import os
    import re

    from .._version import __version__
    from ..review.io import read_text_file, write_bytes
    from .browser import make_deterministic, print_pdf

    html = read_text_file(args.inp, kind="HTML")
    m = re.search(r'<meta name="commit" content="([^"]*)">', html)
    commit = m.group(1) if m else "unknown"
    # the page's own title and generator name the question and the producer
    title = re.search(r"<title>([^<]*)</title>", html)
    made = re.search(r'<meta name="generator" content="([^"]*)">', html)
    footer = (f"{title.group(1) if title else 'Evidence report'} \u00b7 "
              f"{made.group(1) if made else 'evsynth ' + __version__} \u00b7 commit {commit}")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    write_bytes(make_deterministic(print_pdf(args.inp, footer=footer), epoch=epoch), args.out)
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


def add_commands(sub) -> None:
    """Register the pipeline subcommands on an argparse subparsers object.

    Inputs default to the pipeline's standard paths (``--in data/datapackage.json``,
    ``--results data/derived/results.json``, ...); outputs are required, except where a
    command also prints its result (``check-data``, ``audit``).
    """
    _add_data_commands(sub)
    _add_build_commands(sub)
    _add_other_commands(sub)
    from .slides import add_slides_command

    add_slides_command(sub)
    # the deck reads the same standard paths as every other subcommand (repository paths)
    sub.choices["slides"].set_defaults(results=RESULTS, audit=AUDIT)


def _add_data_commands(sub) -> None:
    """check-data, update-hashes, bibtex: the curator's commands on the data package."""
    p = _command(sub, "check-data", _cmd_check_data,
                 help="validate the data package (schema, cross-table rules, hashes)",
                 description="Validate every table of the data package against its Table Schema, "
                             "the cross-table rules and the recorded sha256 of each raw file. Lists "
                             "every problem (up to 50) with file, line, row_id and field; exit 2 if any.",
                 example="evsynth check-data --in data/datapackage.json")
    _in(p)
    p.add_argument("--out", default=None, metavar="PATH",
                   help="also write a JSON stamp of the validated package")

    p = _command(sub, "update-hashes", _cmd_update_hashes,
                 help="record the sha256 of every raw file (curators; also `make update-hashes`)",
                 description="Record the sha256 of every data/raw file in the data package "
                             "descriptor, after a deliberate change to a raw table (say why in "
                             "data/README.md).",
                 example="evsynth update-hashes  # or: make update-hashes")
    _in(p)

    p = _command(sub, "bibtex", _cmd_bibtex,
                 help="regenerate the study entries of the BibTeX file (curators; `make bibtex`)",
                 description="Rewrite the generated block of study entries in the BibTeX file from "
                             "data/raw/studies.csv; the hand-written method entries are kept.",
                 example="evsynth bibtex  # or: make bibtex")
    _in(p)
    p.add_argument("--bib", default=BIB, metavar="PATH", help="the BibTeX file to update")


def _add_build_commands(sub) -> None:
    """analyze, audit, tables, figures, report: the steps of `make report`."""
    p = _command(sub, "analyze", _cmd_analyze, help="run every analysis into one results JSON",
                 description="Load and validate the data package, then run every analysis of the "
                             "report (primary fits, methods side by side, sensitivity scenarios, "
                             "leave-one-out, GRADE, comparative effects) into one JSON file.",
                 example="evsynth analyze --out data/derived/results.json")
    _in(p)
    p.add_argument("--out", required=True, metavar="PATH", help="the results JSON to write")

    p = _command(sub, "tables", _cmd_tables,
                 help="write every results table as CSV, then their manifest",
                 description="Write each results table as a CSV file into --outdir, then (last) the "
                             "manifest listing them with their sha256.",
                 example="evsynth tables --outdir data/derived --manifest data/derived/tables.json")
    _results(p)
    p.add_argument("--audit", default=AUDIT, metavar="PATH", help="claims audit JSON (from `audit`)")
    p.add_argument("--calibration", default=CALIBRATION, metavar="PATH",
                   help="calibration JSON (from `calibrate`)")
    p.add_argument("--outdir", required=True, metavar="DIR", help="folder for the CSV files")
    p.add_argument("--manifest", required=True, metavar="PATH", help="the manifest JSON to write")

    p = _command(sub, "audit", _cmd_audit, help="audit the AI answer's claims; prints the table",
                 description="Give every claim of the appraised answer a verdict computed from the "
                             "data package and the results; prints the table, or writes JSON.",
                 example="evsynth audit  # or: make audit")
    _in(p)
    _results(p)
    p.add_argument("--out", default=None, metavar="PATH", help="also write the audit as JSON")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--print", action="store_true", help="print the table also when --out is given")

    _add_figures_command(sub)

    p = _command(sub, "report", _cmd_report, help="render the self-contained HTML report",
                 description="Render the self-contained HTML report from the derived results, the "
                             "audit, the figure manifests and the bibliography.",
                 example="evsynth report --manifest figures/manifest.json --extra-manifest "
                         "figures/outcome_manifest.json --out report/report.html")
    _results(p)
    p.add_argument("--audit", default=AUDIT, metavar="PATH", help="claims audit JSON (from `audit`)")
    p.add_argument("--manifest", required=True, metavar="PATH", help="the main figure manifest")
    p.add_argument("--extra-manifest", action="append", metavar="PATH",
                   help="another figure manifest (repeatable)")
    p.add_argument("--calibration", default=None, metavar="PATH",
                   help="calibration JSON for the 'Which interval' section (default: none, the "
                        "section is left out)")
    p.add_argument("--decision", default=_repo("data/decisions/primary_method.json"), metavar="PATH",
                   help="the primary-method decision record (make calibration-rule); left out of "
                        "the methods when the file does not exist")
    p.add_argument("--template", default=_repo("report/templates/report.html.j2"), metavar="PATH",
                   help="the Jinja2 page template (its folder holds the section templates)")
    p.add_argument("--bib", default=BIB, metavar="PATH", help="the BibTeX file")
    p.add_argument("--out", required=True, metavar="PATH", help="the HTML file to write")

    p = _command(sub, "report-pdf", _cmd_report_pdf,
                 help="print the HTML report to an A4 PDF handout (needs Chromium)",
                 description="Print report/report.html to an A4 PDF with headless Chromium: print "
                             "stylesheet, running footer with the commit and page number.",
                 example="evsynth report-pdf --out report/report.pdf  # or: make report-pdf")
    # --html, not --in: --in is the data package everywhere else
    p.add_argument("--html", dest="inp", default=_repo("report/report.html"), metavar="PATH",
                   help="the HTML report")
    p.add_argument("--out", required=True, metavar="PATH", help="the PDF to write")



def _add_figures_command(sub) -> None:
    """figures: one set of figures (the report's sets as SVG; `make figures` PNG and PDF)."""
    p = _command(sub, "figures", _cmd_figures,
                 help="draw a set of figures (SVG, PNG, PDF) and write their manifest",
                 description="Draw one set of figures with a caption file each, then (last) the "
                             "manifest that lists them. The report needs SVG only; `make figures` "
                             "writes every figure as PNG and PDF too.",
                 example="evsynth figures --only outcomes --outdir figures "
                         "--manifest figures/outcome_manifest.json")
    _results(p)
    p.add_argument("--audit", default=AUDIT, metavar="PATH",
                   help="claims audit JSON; read only with --only evidence or all")
    p.add_argument("--calibration", default=CALIBRATION, metavar="PATH",
                   help="calibration JSON; read only with --only calibration or all")
    p.add_argument("--only", choices=("outcomes", "evidence", "calibration", "all"), default="evidence",
                   help="which set of figures (default: %(default)s)")
    p.add_argument("--formats", type=_formats, default=("svg",), metavar="LIST",
                   help="comma-separated file formats, of svg, png and pdf (default: svg, what "
                        "the report inlines)")
    p.add_argument("--outdir", required=True, metavar="DIR", help="folder for the figure files")
    p.add_argument("--manifest", required=True, metavar="PATH", help="the manifest JSON to write")


def _add_other_commands(sub) -> None:
    """design and calibrate (analysis.present.steps_calibration), and cite."""
    add_calibration_commands(sub)

    p = _command(sub, "cite", _cmd_cite,
                 help="print how to cite the package and every included study",
                 description="Print how to cite this package (CITATION.cff), every included study "
                             "and the methods (from the BibTeX file).",
                 example="evsynth cite --style text  # or: make cite")
    p.add_argument("--bib", default=BIB, metavar="PATH", help="the BibTeX file")
    p.add_argument("--cff", default=_repo("CITATION.cff"), metavar="PATH", help="the CITATION.cff file")
    p.add_argument("--style", choices=("text", "bibtex", "both"), default="both", help="output form")
