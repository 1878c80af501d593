"""The prose slides: the question (PICO), the evidence at a glance and the bottom line.
Every number is read from the derived results and formatted here; none is typed."""

from __future__ import annotations

from ..figures import in_sentence
from ..narrative import TextNumbers, bottom_line
from ._layout import (
    ACCENT,
    BODY_PT,
    FOOT_BAND,
    MARGIN,
    MUTED,
    SLIDE_H,
    SLIDE_W,
    TEXT_PT,
    TOP_BAND,
    _count,
    _line,
    _text,
    _text_width,
    _wrap,
)


def _slide_title(fig, results: dict, audit: dict) -> None:
    y = SLIDE_H - TOP_BAND - 0.3
    rows = [
        ("Population", "Kidney-transplant recipients with biopsy-proven BK-virus nephropathy that "
                       "progresses despite maximal reduction of immunosuppression"),
        ("Intervention", "Intravenous immunoglobulin (IVIG), when cidofovir or foscarnet are "
                         "contraindicated or have failed"),
        ("Comparison", "No IVIG (immunosuppression reduction alone)"),
        ("Outcomes", "Clearance of BK viremia; graft survival"),
    ]
    _text(fig, MARGIN, y, "The question (PICO)", BODY_PT, fontweight="bold", va="top")
    y -= _line(BODY_PT) + 0.25
    label_w = max(_text_width(fig, r[0], TEXT_PT, "bold") for r in rows) + 0.35
    text_w = SLIDE_W - 2 * MARGIN - label_w
    for lab, txt in rows:
        lines = _wrap(fig, txt, text_w, TEXT_PT)
        _text(fig, MARGIN, y, lab, TEXT_PT, fontweight="bold", va="top")
        _text(fig, MARGIN + label_w, y, "\n".join(lines), TEXT_PT, va="top", linespacing=1.2)
        y -= len(lines) * _line(TEXT_PT, 1.2) + 0.18
    n_claims = sum(audit["summary"].values())
    n_cmp = len({s["study_id"] for s in results["comparative"]["studies"]})
    y -= 0.2
    what = (f"An AI-written clinical answer says \u201cyes, as salvage\u201d. We compared IVIG with no IVIG "
            f"in the {_count(n_cmp, 'study', 'studies')} with a control group, pooled only where the "
            f"analysis plan allows, and checked its {n_claims} claims.")
    _text(fig, MARGIN, y, "\n".join(_wrap(fig, what, SLIDE_W - 2 * MARGIN, TEXT_PT)), TEXT_PT,
          va="top", color=MUTED, linespacing=1.2)


DESIGN_NAMES = {"rct": ("randomised trial", "randomised trials"),
                "prospective_cohort": ("prospective cohort", "prospective cohorts"),
                "retrospective_cohort": ("retrospective cohort", "retrospective cohorts"),
                "case_series": ("case series", "case series"),
                "case_report": ("case report", "case reports"),
                "conference_abstract": ("conference abstract", "conference abstracts")}


def _evidence_counts(results: dict) -> tuple[list[dict], dict[str, int]]:
    """Reports found and read (not guidelines) and their count by design, in design order."""
    found = [r for r in results["evidence_table"]
             if r["role"] != "guideline" and r["verification"] != "not_found"]
    counts: dict[str, int] = {}
    for d in [d for d in DESIGN_NAMES if any(r["design"] == d for r in found)] + sorted(
            {r["design"] for r in found} - set(DESIGN_NAMES)):
        counts[d] = sum(r["design"] == d for r in found)
    return found, counts


def _slide_evidence(fig, results: dict) -> None:
    ev = results["evidence_table"]
    found, counts = _evidence_counts(results)
    missing = sorted((r for r in ev if r["verification"] == "not_found" and r["answer_ref"]),
                     key=lambda r: r["answer_ref"])
    guidelines = [r for r in ev if r["role"] == "guideline" and r["verification"] != "not_found"]
    top = SLIDE_H - TOP_BAND - 0.3
    gap = 0.7
    col_w = (SLIDE_W - 2 * MARGIN - gap) / 2
    step = _line(BODY_PT, 1.4)
    # left column: what was found and what was pooled
    x = MARGIN
    _text(fig, x, top, f"{len(found)} study reports found and read", BODY_PT, fontweight="bold", va="top")
    y = top - step - 0.1
    for d, c in counts.items():
        name = DESIGN_NAMES.get(d, (d.replace("_", " "),) * 2)[c != 1]
        _text(fig, x + 0.7, y, str(c), BODY_PT, fontweight="bold", va="top", ha="right", color=ACCENT)
        _text(fig, x + 0.9, y, name, BODY_PT, va="top")
        y -= step
    y -= 0.15
    treat = [r for r in found if r["role"] == "treatment"]
    n_treat = sum(r["n_ivig"] or 0 for r in treat)
    outs = results["outcomes"]
    pooled = "; ".join(f"{in_sentence(outs[o]['label'])} {_count(outs[o]['k'], 'study', 'studies')} "
                       f"({_count(outs[o]['crude']['n'], 'patient')})" for o in ("viremia_clearance", "graft_survival")
                       if outs[o].get("crude"))
    for para in (f"{len(treat)} treat BK viremia or nephropathy ({_count(n_treat, 'patient')} given IVIG); "
                 f"{len(guidelines)} guidelines.", f"Pooled: {pooled}."):
        lines = _wrap(fig, para, col_w, TEXT_PT)
        _text(fig, x, y, "\n".join(lines), TEXT_PT, va="top", linespacing=1.2)
        y -= len(lines) * _line(TEXT_PT, 1.2) + 0.15
    # right column: search and what is missing
    x = MARGIN + col_w + gap
    pr = results["prisma"]
    _text(fig, x, top, "Search (PRISMA 2020)", BODY_PT, fontweight="bold", va="top")
    y = top - step - 0.1
    for n, what in ((pr["identified"], "records identified"), (pr["screened"], "screened"),
                    (pr["reports_included"], "reports included")):
        _text(fig, x + 0.95, y, str(n), BODY_PT, fontweight="bold", va="top", ha="right", color=ACCENT)
        _text(fig, x + 1.15, y, what, BODY_PT, va="top")
        y -= step
    y -= 0.35
    _text(fig, x, y, "Not found in any source", BODY_PT, fontweight="bold", va="top", color="#D55E00")
    y -= step
    refs = ", ".join(f"{r['answer_ref']} ({r['year']})" for r in missing if r["role"] != "guideline")
    gl = [f"{r['answer_ref']}" for r in missing if r["role"] == "guideline"]
    miss = f"The answer's references {refs}" + (f" and guideline {', '.join(gl)}" if gl else "")
    miss += ": their numbers cannot be checked."
    _text(fig, x, y, "\n".join(_wrap(fig, miss, col_w, TEXT_PT)), TEXT_PT, va="top", linespacing=1.2)


def _bottom_lines(results: dict, audit: dict) -> list[str]:
    """The bottom-line paragraphs: `narrative.bottom_line` in plain text, the one wording
    the report's bottom line uses (comparison first, then single-arm response, the audit,
    the verdict with the GRADE phrase)."""
    question = results.get("question") or {}
    return bottom_line(TextNumbers(results), TextNumbers(audit), results, audit, question)


def _slide_bottom_line(fig, results: dict, audit: dict) -> None:
    """The paragraphs in the largest type (at least 14 pt) that fits between title and footer."""
    paras = _bottom_lines(results, audit)
    width = SLIDE_W - 2 * MARGIN - 0.55
    room = SLIDE_H - TOP_BAND - 0.3 - FOOT_BAND - 0.2
    size = BODY_PT
    while size > 14.0:
        wrapped = [_wrap(fig, b, width, size, "bold" if i == len(paras) - 1 else "normal")
                   for i, b in enumerate(paras)]
        if sum(len(w) * _line(size, 1.15) + 0.2 for w in wrapped) <= room:
            break
        size -= 1.0
    y = SLIDE_H - TOP_BAND - 0.3
    for i, b in enumerate(paras):
        last = i == len(paras) - 1
        lines = _wrap(fig, b, width, size, "bold" if last else "normal")
        _text(fig, MARGIN + 0.05, y - 0.04, "\u25a0", size, va="top", color=ACCENT)
        _text(fig, MARGIN + 0.55, y, "\n".join(lines), size, va="top", linespacing=1.15,
              **({"fontweight": "bold", "color": ACCENT} if last else {}))
        y -= len(lines) * _line(size, 1.15) + 0.2
