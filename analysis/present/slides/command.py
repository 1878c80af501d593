"""The ``slides`` command (``python -m analysis slides``): its options here, the deck
(`deck.build_slides`, matplotlib and the figures) imported only when it runs, so building
the command line for any other step costs none of that."""

from __future__ import annotations

from pathlib import Path


def _cmd_slides(args) -> int:
    import json

    from ...stats._validation import InputError
    from .deck import build_slides

    def read(path):
        p = Path(path)
        if not p.is_file():
            raise InputError("no such file (run the earlier make step first)", file=str(path))
        return json.loads(p.read_text(encoding="utf-8"))

    records = build_slides(read(args.results), read(args.audit),
                           read(args.calibration) if args.calibration else None,
                           Path(args.bib), Path(args.out), Path(args.outdir) if args.outdir else None,
                           cff_path=Path(args.cff))
    print(f"wrote {args.out} ({len(records)} slides)")
    return 0


def add_slides_command(sub) -> None:
    """Register ``python -m analysis slides`` on an argparse subparsers object."""
    p = sub.add_parser("slides", help="build the 16:9 journal-club deck (PDF) and its figure slides",
                       description="Build the 16:9 journal-club deck as one PDF, plus each figure "
                                   "slide as PNG and SVG, from the same derived files as the report.",
                       epilog="example:\n  evsynth slides --out slides/journal-club.pdf  # or: make slides")
    p.add_argument("--results", default="data/derived/results.json", metavar="PATH",
                   help="results JSON (from `analyze`)")
    p.add_argument("--audit", default="data/derived/claims_audit.json", metavar="PATH",
                   help="claims audit JSON (from `audit`)")
    p.add_argument("--calibration", default=None, metavar="PATH",
                   help="calibration JSON (default: none: no calibration results on the slides)")
    repo = Path(__file__).resolve().parents[3]  # defaults in the repository, wherever it runs
    p.add_argument("--bib", default=str(repo / "report" / "references.bib"), metavar="PATH",
                   help="the BibTeX file")
    p.add_argument("--cff", default=str(repo / "CITATION.cff"), metavar="PATH", help="the CITATION.cff file")
    p.add_argument("--out", required=True, metavar="PATH", help="the PDF; figure slides go beside it")
    p.add_argument("--outdir", default=None, metavar="DIR",
                   help="folder for the PNG/SVG slides (default: the PDF's)")
    p.set_defaults(func=_cmd_slides)
