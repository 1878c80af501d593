"""The deck: one spec per slide, and the PDF (plus PNG/SVG of each figure slide) built
from them; and the ``slides`` command that runs it."""

from __future__ import annotations

import io as _io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..._version import __version__
from ...review.io import write_bytes
from ..citation import load_bibliography
from ..figures import comparative_specs, in_sentence, producer, save_figure
from ..narrative import question_outcomes
from ..narrative_methods import interval_names, primary_method_short
from ._layout import (
    _check_layout,
    _chrome,
    _ci,
    _drawn_texts,
    _embed_report_figure,
    _new_slide,
    _pct,
)
from .plots import _forest, _slide_claims, _slide_sensitivity
from .references import _footer, _footer_places, _slide_references
from .sof import _slide_grade
from .text_slides import _evidence_counts, _slide_bottom_line, _slide_evidence, _slide_title


def _comparative_slides(results: dict) -> list[tuple]:
    """One slide per outcome of the question with comparative studies: the first plan set
    with studies, its report figure (risk ratio per study, pooled only within a design)."""
    question = results.get("question") or {}
    specs = {name: draw for name, _t, _c, draw in comparative_specs(results)}
    out = []
    for o in question_outcomes(question) if question else []:
        sets = [c for c in results["comparative"]["outcomes"].get(o, []) if c["studies"]]
        if not sets:
            continue
        c = sets[0]
        heads = [p for p in c["pooled"] if p["estimate"] is not None]
        k = len(c["studies"])
        sub = (f"Pooled RR {heads[0]['estimate']:.2f} (95% CI {heads[0]['ci_low']:.2f} to "
               f"{heads[0]['ci_high']:.2f}), {heads[0]['design_group']} studies" if heads
               else f"{k} {'study' if k == 1 else 'studies'}, not pooled")
        iv, cmp_ = question["intervention"]["name"], (question.get("comparator") or {}).get("name", "comparator")
        out.append((o, f"{c['label']}: {iv} versus {cmp_}", f"{c['set_label']}: {sub}",
                    specs[f"comparative_{o}_{c['set_id']}"]))
    return out


def _forest_title(label: str, intervention: str) -> str:
    """'BK viremia clearance after IVIG (no comparison)', without the intervention when the
    title would not fit the slide's title line (about 50 characters at title size)."""
    title = f"{label} after {intervention} (no comparison)"
    return title if len(title) <= 50 else f"{label} (no comparison)"


def slide_specs(results: dict, audit: dict, calibration: dict | None, bib: dict[str, dict[str, str]],
                cff_path: Path, bib_name: str = "report/references.bib") -> list[dict[str, Any]]:
    """One dict per slide: ``name``, ``title``, ``subtitle``, ``sources``, ``figure`` (True if
    also saved as PNG/SVG) and ``draw`` (returns the Figure, title and footer not yet added)."""
    outs = results["outcomes"]
    question = results.get("question") or {}
    iv = (question.get("intervention") or {}).get("name", "the intervention")
    primaries = [o for o in question.get("primary_outcomes", results["outcome_order"]) if o in outs]
    pooled = [o for o in primaries if outs[o].get("primary")]  # single-arm forests only with a pool

    def page(draw_into: Callable) -> Callable:
        def draw():
            fig = _new_slide()
            draw_into(fig)
            return fig
        return draw

    def forest_sub(o: str) -> str:
        p = outs[o]["primary"]
        ci_word = interval_names(results["primary_method"]["model"])[0]
        return (f"Pooled {_pct(p['estimate'])} (95% {ci_word} {_ci(p['ci_low'], p['ci_high'])}), "
                f"{primary_method_short(results['primary_method'])}; exact study CIs")

    sens_word = ((question.get("outcomes") or {}).get(pooled[0]) or {}).get("short", "") if pooled else ""
    sens_sub = f"Each row re-pools the {sens_word} data; dashed line: the primary estimate"
    if calibration is not None:
        cal = [r for r in calibration["rows"]
               if r["method"] == "glmm-t" and r["interval"] == "ci" and r["sizes"] == "observed"]
        if cal:
            cov = sum(r["coverage"] for r in cal) / len(cal)
            sens_sub = f"Simulated coverage of the primary 95% CI with these study sizes: {_pct(cov)}"
    found, counts = _evidence_counts(results)
    small = sum(c for d, c in counts.items() if d in ("case_series", "case_report", "conference_abstract"))
    s = audit["summary"]
    claims = bool(audit.get("claims"))  # an audited answer: its slide, and its words in the title
    return [
        {"name": "title", "title": question.get("short_title", "Evidence synthesis"),
         "subtitle": "Journal club: an evidence synthesis" + (" and an audit of an AI-written answer" if claims else ""),
         "sources": ["results.json", "claims_audit.json"], "figure": False,
         "draw": page(lambda f: _slide_title(f, results, audit))},
        {"name": "evidence", "title": "The evidence at a glance",
         "subtitle": f"{small} of {len(found)} reports are case series, case reports or abstracts",
         "sources": ["results.json"], "figure": True,
         "draw": page(lambda f: _slide_evidence(f, results))},
        *[{"name": f"comparative_{o}", "title": title, "subtitle": sub, "sources": ["results.json"],
           "figure": True, "draw": page(lambda f, draw=draw: _embed_report_figure(f, draw()))}
          for o, title, sub, draw in _comparative_slides(results)],
        *[{"name": f"forest_{o}", "title": _forest_title(outs[o]["label"], iv),
           "subtitle": forest_sub(o), "sources": ["results.json"], "figure": True,
           "draw": lambda o=o: _forest(results, o)} for o in pooled],
        *([{"name": "sensitivity", "title": f"How the {in_sentence(outs[pooled[0]]['label'])} answer moves",
            "subtitle": sens_sub, "sources": ["results.json"] + (["calibration.json"] if calibration else []),
            "figure": True, "draw": lambda: _slide_sensitivity(results, pooled[0])}]
          if pooled and outs[pooled[0]].get("scenarios") else []),
        *([{"name": "claims_audit", "title": "Claims audit of the AI answer",
            "subtitle": f"{sum(s.values())} checkable claims, each with a computed or recorded verdict",
            "sources": ["claims_audit.json"], "figure": True, "draw": lambda: _slide_claims(audit)}]
          if claims else []),
        *([{"name": "grade", "title": "GRADE summary of findings",
            "subtitle": "Comparisons first, then response without comparison",
            "sources": ["results.json"], "figure": True, "draw": page(lambda f: _slide_grade(f, results))}]
          if results.get("certainty") else []),
        {"name": "bottom_line", "title": "Bottom line", "subtitle": "",
         "sources": ["results.json", "claims_audit.json"], "figure": False,
         "draw": page(lambda f: _slide_bottom_line(f, results, audit))},
        {"name": "references", "title": "References",
         "subtitle": f"All, with DOI or PMID: {bib_name}"
                     + (", or run  make cite" if bib_name == "report/references.bib" else ""),
         "sources": ["references.bib", "CITATION.cff"], "figure": False,
         "draw": page(lambda f: _slide_references(f, results, bib, cff_path))},
    ]


def build_slides(results: dict, audit: dict, calibration: dict | None, bib_path: Path,
                 out_pdf: Path, out_dir: Path | None = None, *,
                 cff_path: Path = Path("CITATION.cff")) -> list[dict[str, Any]]:
    """Write the deck to ``out_pdf`` and each figure slide as ``NN-name.png``/``.svg`` in
    ``out_dir`` (default: the PDF's folder).

    Returns one record per slide (``number``, ``name``, ``title``, ``files`` written,
    ``texts``: every string drawn, and ``min_font_pt``), so a test can read what a slide says.
    Raises ValueError if a text would run off a slide, into its title or footer, or over
    another text of the slide's body.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    out_pdf = Path(out_pdf)
    out_dir = Path(out_dir) if out_dir is not None else out_pdf.parent
    bib = load_bibliography(Path(bib_path)).entries
    where = _footer_places(results, Path(bib_path))
    specs = slide_specs(results, audit, calibration, bib, Path(cff_path),
                        bib_name=f"{where['bib_dir']}{Path(bib_path).name}")
    buf = _io.BytesIO()
    records = []
    made_by = producer(results)
    short = (results.get("question") or {}).get("short_title", "Evidence synthesis")
    meta = {"CreationDate": None, "ModDate": None, "Title": f"{short}: journal club",
            "Creator": f"{made_by} {__version__}", "Producer": f"{made_by} {__version__}"}
    with PdfPages(buf, metadata=meta) as pdf:
        for i, spec in enumerate(specs, start=1):
            fig = spec["draw"]()
            _chrome(fig, i, len(specs), spec["title"], spec["subtitle"], _footer(spec, bib, made_by, **where))
            _check_layout(fig, spec["name"])
            pdf.savefig(fig)
            files = []
            if spec["figure"]:
                for fmt in ("png", "svg"):
                    path = out_dir / f"{i:02d}-{spec['name'].replace('_', '-')}.{fmt}"
                    save_figure(fig, path, title=spec["title"], caption=_footer(spec, bib, made_by, **where),
                                made_by=made_by)
                    files.append(path.name)
            shown = _drawn_texts(fig)
            records.append({"number": i, "name": spec["name"], "title": spec["title"], "files": files,
                            "texts": [t.get_text() for t in shown],
                            "min_font_pt": min(t.get_fontsize() for t in shown)})
    write_bytes(buf.getvalue(), out_pdf)
    return records
