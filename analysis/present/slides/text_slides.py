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
    q = results.get("question") or {}
    pico = q.get("pico") or {}
    rows = [(head, pico[key]) for head, key in (("Population", "population"), ("Intervention", "intervention"),
                                                ("Comparison", "comparison"), ("Outcomes", "outcomes"))
            if pico.get(key)]
    _text(fig, MARGIN, y, "The question (PICO)", BODY_PT, fontweight="bold", va="top")
    y -= _line(BODY_PT) + 0.25
    what = _what_we_did(results, audit)
    # the question file's PICO in the largest type (at least 14 pt) that fits above the footer
    size = TEXT_PT
    while True:
        label_w = max(_text_width(fig, r[0], size, "bold") for r in rows) + 0.35
        wrapped = [_wrap(fig, txt, SLIDE_W - 2 * MARGIN - label_w, size) for _, txt in rows]
        what_lines = _wrap(fig, what, SLIDE_W - 2 * MARGIN, size)
        need = sum(len(w) * _line(size, 1.2) + 0.18 for w in wrapped) + 0.2 + len(what_lines) * _line(size, 1.2)
        if need <= y - FOOT_BAND - 0.3 or size <= 14.0:
            break
        size -= 1.0
    for (lab, _), lines in zip(rows, wrapped, strict=True):
        _text(fig, MARGIN, y, lab, size, fontweight="bold", va="top")
        _text(fig, MARGIN + label_w, y, "\n".join(lines), size, va="top", linespacing=1.2)
        y -= len(lines) * _line(size, 1.2) + 0.18
    y -= 0.2
    _text(fig, MARGIN, y, "\n".join(what_lines), size, va="top", color=MUTED, linespacing=1.2)


def _what_we_did(results: dict, audit: dict) -> str:
    """One sentence under the PICO: the appraised answer (if any), what was compared or
    pooled, and the claims checked."""
    q = results.get("question") or {}
    iv = (q.get("intervention") or {}).get("name", "the intervention")
    answer = q.get("answer") or {}
    n_claims = len(audit.get("claims") or [])
    n_cmp = len({s["study_id"] for s in results["comparative"]["studies"]})
    said = ""
    if n_claims and answer.get("gist"):
        desc = answer.get("description", "an answer")
        said = f"{desc[:1].upper()}{desc[1:]} says \u201c{answer['gist']}\u201d. "
    if q.get("comparator"):
        did = (f"We compared {iv} with {q['comparator']['name']} in the {_count(n_cmp, 'study', 'studies')} "
               "with a control group, pooled only where the analysis plan allows")
    else:
        k = len(results["evidence_table"])
        did = f"We pooled the {_count(k, 'study', 'studies')} of {iv} only where the analysis plan allows"
    return said + did + (f", and checked its {n_claims} claims." if n_claims else ".")


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
    head = f"{len(found)} study reports" + (" found and read" if results.get("prisma") else "")
    _text(fig, x, top, head, BODY_PT, fontweight="bold", va="top")
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
    q = results.get("question") or {}
    primaries = [o for o in q.get("primary_outcomes") or results["outcome_order"] if o in outs]
    pooled = "; ".join(f"{in_sentence(outs[o]['label'])} {_count(outs[o]['k'], 'study', 'studies')} "
                       f"({_count(outs[o]['crude']['n'], 'patient')})" for o in primaries if outs[o].get("crude"))
    iv = (q.get("intervention") or {}).get("name", "the intervention")
    first = f"{len(treat)} report treatment with {iv} ({_count(n_treat, 'patient')})"
    first += f"; {_count(len(guidelines), 'guideline', 'guidelines')}." if guidelines else "."
    for para in (first, f"Pooled: {pooled}." if pooled else "No pooled estimate."):
        lines = _wrap(fig, para, col_w, TEXT_PT)
        _text(fig, x, y, "\n".join(lines), TEXT_PT, va="top", linespacing=1.2)
        y -= len(lines) * _line(TEXT_PT, 1.2) + 0.15
    _search_column(fig, results, missing, x=MARGIN + col_w + gap, top=top, col_w=col_w, step=step)


def _search_column(fig, results: dict, missing: list[dict], *, x: float, top: float, col_w: float,
                   step: float) -> None:
    """Right column of the evidence slide: the search (or the package the studies come
    from, when no search is logged) and the answer's references that were not found."""
    pr = results.get("prisma")
    if pr:
        _text(fig, x, top, "Search (PRISMA 2020)", BODY_PT, fontweight="bold", va="top")
        y = top - step - 0.1
        for n, what in ((pr["identified"], "records identified"), (pr["screened"], "screened"),
                        (pr["reports_included"], "reports included")):
            _text(fig, x + 0.95, y, str(n), BODY_PT, fontweight="bold", va="top", ha="right", color=ACCENT)
            _text(fig, x + 1.15, y, what, BODY_PT, va="top")
            y -= step
    else:
        _text(fig, x, top, "Where the studies come from", BODY_PT, fontweight="bold", va="top")
        pkg = results.get("package") or {}
        where = str(pkg.get("descriptor", ""))
        if where.startswith("/"):  # outside the repository: the folder's name is enough
            where = "/".join(where.split("/")[-2:])
        text = f"The data package {where} ({pkg.get('name', '')}); no search is logged, so no PRISMA flow."
        lines = _wrap(fig, text, col_w, TEXT_PT)
        _text(fig, x, top - step - 0.1, "\n".join(lines), TEXT_PT, va="top", linespacing=1.2)
        y = top - step - 0.1 - len(lines) * _line(TEXT_PT, 1.2)
    if not missing:
        return
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
