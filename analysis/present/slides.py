"""The journal-club deck (``make slides``): a 16:9 PDF built from the same derived results
as the report, plus each figure slide as PNG and SVG to paste into other slide software.

Nine slides, one page each (13.333 x 7.5 in, i.e. 960 x 540 pt): the question, the
evidence at a glance, the forest plots for clearance and graft survival, how the answer
moves with method, verification and overlap choices, the claims audit, the GRADE summary
of findings, the bottom line and the references. Every number is read from
``results.json``, ``claims_audit.json`` or ``calibration.json`` and formatted here; none is
typed. Titles are 32 pt, body text at least 20 pt (18 pt inside the plotting functions'
slide style), and every slide has a 14 pt source and citation footer.

The output is byte-for-byte deterministic: PDF pages carry no dates, SVG ids are salted
with a fixed string (``figures.save_figure``), PNG is written by Agg at a fixed DPI, and no
input path or time enters a file.
"""

from __future__ import annotations

import io as _io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..review.io import write_bytes
from .citation import _cff_citation, parse_bibtex
from .figures import labels_and_designs, save_figure

SLIDE_W, SLIDE_H = 40.0 / 3.0, 7.5  # inches: exactly 960 x 540 pt
TITLE_PT, SUBTITLE_PT, BODY_PT, TEXT_PT, FOOTER_PT = 32.0, 21.0, 24.0, 21.0, 14.0
MARGIN = 0.5  # left and right, inches
TOP_BAND = 1.35  # title and subtitle
FOOT_BAND = 0.6  # footer
INK, MUTED, ACCENT, RULE = "#1d2731", "#4a5560", "#0b5f8a", "#c9d1d8"
CERTAINTY_COLOURS = {"high": "#009E73", "moderate": "#56B4E9", "low": "#E69F00",
                     "very low": "#D55E00"}
CERTAINTY_SYMBOLS = {"high": "\u2295\u2295\u2295\u2295", "moderate": "\u2295\u2295\u2295\u25ef",
                     "low": "\u2295\u2295\u25ef\u25ef", "very low": "\u2295\u25ef\u25ef\u25ef"}
# Rows of the "how the answer moves" slide (at most ~12 fit in slide type): one method of
# each family, then the scenarios that change verification, setting or overlap choice.
# Labels are matched against results.json; a label that is missing is skipped.
SLIDE_METHODS = {
    "GLMM, ML, AGHQ-7, t intervals (primary)": "GLMM, t intervals (primary)",
    "GLMM, ML, AGHQ-7, z intervals": "GLMM, normal intervals",
    "RE logit, REML": "Inverse variance, logit, REML",
    "RE Freeman-Tukey, REML": "Inverse variance, Freeman-Tukey",
    "Common effect, logit": "Common effect, logit",
}
SLIDE_SCENARIOS = {
    "Cited studies, numbers as the answer claims them": "The answer's own numbers (unverified)",
    "Counts as printed (no counts computed from percentages)": "Only counts printed in the source",
    "Without conference abstracts": "Without conference abstracts",
    "Without single-patient case reports": "Without single-patient case reports",
    "Biopsy-proven BKVN only": "Biopsy-proven BKVN only",
    "Overlap choice:": "Overlap: the cohort's other report",
}
# Citation keys (report/references.bib) named in each slide's footer.
FOOTER_KEYS = {
    "title": [], "evidence": ["page2021"], "forest_viremia_clearance": ["stijnen2010", "clopper1934"],
    "forest_graft_survival": ["stijnen2010", "clopper1934"],
    "sensitivity": ["stijnen2010", "viechtbauer2010"],
    "claims_audit": [], "grade": ["guyatt2011", "murad2018"], "bottom_line": ["guyatt2011"],
    "references": [],
}
# Methods cited on the references slide, with what each is cited for.
METHOD_REFERENCES = {"stijnen2010": "GLMM", "clopper1934": "Exact CIs", "viechtbauer2010": "metafor",
                     "murad2018": "Risk of bias", "guyatt2011": "GRADE", "page2021": "PRISMA 2020"}


# --------------------------------------------------------------------------- helpers


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _ci(lo: float | None, hi: float | None, digits: int = 1) -> str:
    if lo is None or hi is None:
        return "n/a"
    return f"{100 * lo:.{digits}f}\u2013{100 * hi:.{digits}f}%"


def _short_cite(key: str, entry: dict[str, str]) -> str:
    """'Stijnen et al. 2010' from a BibTeX entry."""
    authors = [a.strip() for a in entry.get("author", "").split(" and ") if a.strip()]
    surname = [a.split(",")[0].strip().replace("{", "").replace("}", "") for a in authors]
    for tex, uni in (('\\"a', "ä"), ('\\"o', "ö"), ('\\"u', "ü"), ('\\"O', "Ö")):
        surname = [s.replace(tex, uni) for s in surname]
    year = entry.get("year", "n.d.")
    if not surname:
        return f"{key} {year}"
    if len(surname) == 1:
        return f"{surname[0]} {year}"
    if len(surname) == 2 and "others" not in surname:
        return f"{surname[0]} & {surname[1]} {year}"
    return f"{surname[0]} et al. {year}"


def _renderer(fig):
    """The figure's Agg renderer (a bare ``Figure`` gets an Agg canvas first)."""
    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def _text_width(fig, text: str, size: float, weight: str = "normal") -> float:
    """Width in inches of ``text`` set at ``size`` pt (measured by the renderer)."""
    from matplotlib.font_manager import FontProperties

    w, _, _ = _renderer(fig).get_text_width_height_descent(
        text, FontProperties(size=size, weight=weight), ismath=False)
    return w / fig.dpi


def _wrap(fig, text: str, width_in: float, size: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap to ``width_in`` inches (a single word wider than that overhangs)."""
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split(" "):
            trial = f"{cur} {word}" if cur else word
            if cur and _text_width(fig, trial, size, weight) > width_in:
                lines.append(cur)
                cur = word
            else:
                cur = trial
        lines.append(cur)
    return lines


def _line(size: float, spacing: float = 1.25) -> float:
    """Line height in inches for ``size`` pt text."""
    return size * spacing / 72.0


def _new_slide():
    from matplotlib.figure import Figure

    return Figure(figsize=(SLIDE_W, SLIDE_H))


def _text(fig, x_in: float, y_in: float, s: str, size: float, **kw):
    """Text placed in inches from the slide's bottom left."""
    kw.setdefault("color", INK)
    kw.setdefault("gid", "body")
    return fig.text(x_in / SLIDE_W, y_in / SLIDE_H, s, fontsize=size, **kw)


def _chrome(fig, number: int, total: int, title: str, subtitle: str, footer: str) -> None:
    """Title, subtitle, rule and footer of a slide."""
    from matplotlib.lines import Line2D

    _text(fig, MARGIN, SLIDE_H - 0.3, title, TITLE_PT, fontweight="bold", va="top", color=ACCENT,
          gid="chrome")
    if subtitle:
        _text(fig, MARGIN, SLIDE_H - 0.88, subtitle, SUBTITLE_PT, va="top", color=MUTED, gid="chrome")
    y_rule = SLIDE_H - TOP_BAND + 0.08
    fig.add_artist(Line2D([MARGIN / SLIDE_W, 1 - MARGIN / SLIDE_W], [y_rule / SLIDE_H] * 2,
                          color=ACCENT, lw=2.0))
    fig.add_artist(Line2D([MARGIN / SLIDE_W, 1 - MARGIN / SLIDE_W], [(FOOT_BAND - 0.12) / SLIDE_H] * 2,
                          color=RULE, lw=1.0))
    _text(fig, MARGIN, 0.24, footer, FOOTER_PT, va="center", color=MUTED, gid="chrome")
    _text(fig, SLIDE_W - MARGIN, 0.24, f"{number} / {total}", FOOTER_PT, va="center", ha="right",
          color=MUTED, gid="chrome")


def _drawn_texts(fig) -> list:
    """Every text of the figure that is drawn (not empty, visible, not a tick label of an
    axes drawn without its axis)."""
    from matplotlib.text import Text

    hidden = {id(t) for ax in fig.axes if not ax.axison
              for axis in (ax.xaxis, ax.yaxis)
              for t in [*axis.get_ticklabels(which="both"), axis.label, axis.offsetText]}
    return [t for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def _check_layout(fig, name: str) -> None:
    """Raise if a text runs off the slide, if a body text enters the title or footer band, or
    if two body texts overlap (what a presenter would otherwise discover in front of the room)."""
    renderer = _renderer(fig)
    fig.draw_without_rendering()  # positions of axis labels and legends are set at draw time
    dpi = fig.dpi
    w, h = fig.bbox.width, fig.bbox.height
    lo, hi = (FOOT_BAND - 0.12) * dpi, (SLIDE_H - TOP_BAND + 0.08) * dpi
    for t in _drawn_texts(fig):
        bb = t.get_window_extent(renderer=renderer)
        if bb.x0 < -1 or bb.y0 < -1 or bb.x1 > w + 1 or bb.y1 > h + 1:
            raise ValueError(f"slide {name}: text {t.get_text()[:40]!r} runs off the slide")
        if t.get_gid() != "chrome" and (bb.y0 < lo - 1 or bb.y1 > hi + 1):
            raise ValueError(f"slide {name}: text {t.get_text()[:40]!r} enters the title or footer")
    body = [(t, t.get_window_extent(renderer=renderer).padded(-1)) for t in fig.texts
            if t.get_gid() == "body" and t.get_text().strip()]
    for i, (t, bb) in enumerate(body):
        for u, cc in body[i + 1:]:
            if bb.overlaps(cc):
                raise ValueError(f"slide {name}: {t.get_text()[:30]!r} overlaps {u.get_text()[:30]!r}")


def _embed_report_figure(slide, fig_report) -> None:
    """Fallback when a figure does not fit in slide type: the report-style figure drawn as
    an image into the slide's content area (keeps its aspect ratio)."""
    import matplotlib.image as mpimg

    buf = _io.BytesIO()
    fig_report.savefig(buf, format="png", dpi=200)
    buf.seek(0)
    img = mpimg.imread(buf)
    h_avail = SLIDE_H - TOP_BAND - FOOT_BAND - 0.1
    w_avail = SLIDE_W - 2 * MARGIN
    aspect = img.shape[1] / img.shape[0]
    w = min(w_avail, h_avail * aspect)
    h = w / aspect
    ax = slide.add_axes(((SLIDE_W - w) / 2 / SLIDE_W, (FOOT_BAND + (h_avail - h) / 2) / SLIDE_H,
                         w / SLIDE_W, h / SLIDE_H))
    ax.imshow(img, interpolation="antialiased")
    ax.set_axis_off()


# --------------------------------------------------------------------------- slides


def _hline(fig, y_in: float, colour: str = RULE, lw: float = 1.0) -> None:
    from matplotlib.lines import Line2D

    fig.add_artist(Line2D([MARGIN / SLIDE_W, 1 - MARGIN / SLIDE_W], [y_in / SLIDE_H] * 2, color=colour,
                          lw=lw))


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
    k = results["outcomes"]["viremia_clearance"]["k"]
    y -= 0.2
    what = (f"An AI-written clinical answer says \u201cyes, as salvage\u201d. We pooled the {k} "
            f"studies that report clearance counts and checked its {n_claims} claims.")
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
    pooled = "; ".join(f"{outs[o]['label'].lower().replace('bk', 'BK')} {outs[o]['k']} studies "
                       f"({outs[o]['crude']['n']} patients)" for o in ("viremia_clearance", "graft_survival")
                       if outs[o].get("crude"))
    for para in (f"{len(treat)} treat BK viremia or nephropathy ({n_treat} patients given IVIG); "
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


def _forest(results: dict, outcome: str):
    """The slide-style forest plot between title and footer (report style as an image if it
    cannot fit in slide type).

    Drawn twice: once on its own canvas, to learn the column widths the plotting function
    chooses, then into an axes placed with those widths plus the slide's side margins (its
    text columns sit at fixed offsets from the panel, so they keep their spacing)."""
    from matplotlib.text import Text

    from . import plotting

    labels, designs = labels_and_designs(results)
    pooled = results["outcomes"][outcome]["primary"]
    try:
        probe = plotting.forest_plot(pooled, labels=labels, designs=designs, style="slide")
    except ValueError:
        slide = _new_slide()
        _embed_report_figure(slide, plotting.forest_plot(pooled, labels=labels, designs=designs))
        return slide
    pos = probe.axes[0].get_position()
    width = probe.get_figwidth()
    left, right = pos.x0 * width, (1 - pos.x1) * width
    if not any(t.get_text() == "Design" for t in probe.findobj(Text)):
        designs = None  # the first pass dropped the column to keep the panel readable
    st = 18.0  # the slide style's small type: x tick labels, then the axis label and footer
    below = _line(st, 1.3) + _line(20.0, 1.3) + 0.2 + _line(st, 1.3) + 0.15
    bottom, top = FOOT_BAND + below + 0.05, SLIDE_H - TOP_BAND - 0.1
    fig = _new_slide()
    ax = fig.add_axes(((left + 0.2) / SLIDE_W, bottom / SLIDE_H,
                       (SLIDE_W - left - right - 0.5) / SLIDE_W, (top - bottom) / SLIDE_H))
    plotting.forest_plot(pooled, labels=labels, designs=designs, style="slide", ax=ax)
    return fig


def _sensitivity_rows(results: dict, outcome: str) -> pd.DataFrame:
    res = results["outcomes"][outcome]
    rows = []
    for m in res["methods"]:
        if m["label"] in SLIDE_METHODS:
            rows.append({**m, "group": "Pooling method (all studies)", "label": SLIDE_METHODS[m["label"]]})
    for s in res["scenarios"]:
        if s["primary"] or not s["k"]:
            continue
        for prefix, shown in SLIDE_SCENARIOS.items():
            if s["label"].startswith(prefix):
                rows.append({**s, "group": "Data choice (primary GLMM)", "label": shown})
                break
    df = pd.DataFrame(rows)
    for c in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def _slide_sensitivity(results: dict, outcome: str):
    from . import plotting

    rows = _sensitivity_rows(results, outcome)
    try:
        fig = plotting.sensitivity_plot(rows, style="slide")
    except ValueError:
        slide = _new_slide()
        _embed_report_figure(slide, plotting.sensitivity_plot(rows))
        return slide
    fig.set_size_inches(SLIDE_W, SLIDE_H)
    # constrained layout inside the band between title and footer; the legend, which the
    # layout puts at the bottom edge, then moves up to sit just above the footer
    legend_h = 0.5
    bottom = FOOT_BAND + legend_h
    fig.get_layout_engine().set(rect=(MARGIN / SLIDE_W, bottom / SLIDE_H, 1 - 2 * MARGIN / SLIDE_W,
                                      (SLIDE_H - TOP_BAND - bottom) / SLIDE_H))
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    for leg in fig.legends:
        leg.set_bbox_to_anchor((0.5, (FOOT_BAND - 0.05) / SLIDE_H), transform=fig.transFigure)
    return fig


def _slide_claims(audit: dict):
    from . import plotting

    fig = _new_slide()
    # cut long claims near the width of the slide first (the plotting function then trims
    # them to the exact width one character pair at a time, which is slow for long texts)
    aud = pd.DataFrame([{"claim_id": a["claim_id"], "verdict": a["verdict"],
                         "short": a["claim"] if len(a["claim"]) <= 80 else a["claim"][:79].rstrip() + "\u2026"}
                        for a in audit["claims"]])
    top = SLIDE_H - TOP_BAND - 0.15
    bar_h = 0.6
    bar = fig.add_axes((MARGIN / SLIDE_W, (top - bar_h) / SLIDE_H, 1 - 2 * MARGIN / SLIDE_W,
                        bar_h / SLIDE_H))
    list_top = top - bar_h - 1.05
    list_bottom = FOOT_BAND + 0.05
    lst = fig.add_axes((MARGIN / SLIDE_W, list_bottom / SLIDE_H, 1 - 2 * MARGIN / SLIDE_W,
                        (list_top - list_bottom) / SLIDE_H))
    plotting.claims_audit_plot(aud, style="slide", ax=(bar, lst))
    bar.set_title("", loc="left")  # the slide title says it
    return fig


GRADE_ABBREVIATIONS = {"risk of bias": "RoB", "inconsistency": "Inc", "indirectness": "Ind",
                       "imprecision": "Imp", "publication bias": "PB"}


def _slide_grade(fig, results: dict) -> None:
    outs = results["outcomes"]
    size = 20.0
    lh = _line(size, 1.1)
    width = SLIDE_W - 2 * MARGIN
    cols = [("Outcome", 3.35), ("k / n", 1.15), ("Pooled (95% CI)", 2.8), ("Certainty", 1.6),
            ("Rated down", 0.0)]
    cols[-1] = (cols[-1][0], width - sum(w for _, w in cols[:-1]))
    xs = [MARGIN]
    for _, w in cols[:-1]:
        xs.append(xs[-1] + w)
    y = SLIDE_H - TOP_BAND - 0.12
    for (head, _), x in zip(cols, xs, strict=True):
        _text(fig, x, y, head, size, fontweight="bold", va="top")
    y -= lh + 0.06
    _hline(fig, y, INK, 1.5)
    y -= 0.06
    used = set()
    for o in results["outcome_order"]:
        g = outs[o].get("grade")
        if not g:
            continue
        downs = [d for d in g["downgrades"] if d["levels"]]
        used.update(d["domain"] for d in downs)
        reasons = ", ".join(f"{GRADE_ABBREVIATIONS.get(d['domain'], d['domain'])} \u2212{d['levels']}"
                            for d in downs) or "not rated down"
        if g["ci_low"] is not None:
            ci = f"({_ci(g['ci_low'], g['ci_high'])})"
        else:  # no finite GLMM interval: the exact interval of the summed counts, as the report
            c = outs[o]["crude"]
            ci = f"(exact {_ci(c['ci_low'], c['ci_high'])})"
        colour = CERTAINTY_COLOURS.get(g["certainty"], INK)
        cells = [
            [(line, {"fontweight": "bold"}) for line in _wrap(fig, outs[o]["label"], cols[0][1] - 0.15,
                                                              size, "bold")],
            [(f"{g['k']} / {g['patients']}", {})],
            [(_pct(g["estimate"]), {}), (ci, {"color": MUTED})],
            [(g["certainty"], {"fontweight": "bold", "color": colour}),
             (CERTAINTY_SYMBOLS.get(g["certainty"], ""), {"color": colour})],
            [(line, {}) for line in _wrap(fig, reasons, cols[4][1], size)],
        ]
        n_lines = max(len(c) for c in cells)
        for cell, x in zip(cells, xs, strict=True):
            for i, (line, kw) in enumerate(cell):
                _text(fig, x, y - i * lh, line, size, va="top", **kw)
        y -= n_lines * lh + 0.04
        _hline(fig, y)
        y -= 0.06
    start = next((outs[o]["grade"]["start"] for o in results["outcome_order"] if outs[o].get("grade")), "")
    legend = ", ".join(f"{a} {d}" for d, a in GRADE_ABBREVIATIONS.items() if d in used)
    note = f"k / n: studies / patients. Single-arm studies start at {start} certainty. {legend}."
    lines = _wrap(fig, note, width, 18.0)
    _text(fig, MARGIN, FOOT_BAND - 0.06, "\n".join(lines), 18.0, va="bottom", color=MUTED, linespacing=1.1)


def _bottom_lines(results: dict, audit: dict) -> list[str]:
    """The bottom-line bullets: every number from results.json or claims_audit.json."""
    outs = results["outcomes"]
    cl, gs = outs["viremia_clearance"], outs["graft_survival"]
    p, q = cl["primary"], gs["primary"]
    s = audit["summary"]
    missing = sorted(r["answer_ref"] for r in results["evidence_table"]
                     if r["verification"] == "not_found" and r["answer_ref"] and r["role"] != "guideline")
    return [
        f"BK viremia cleared in {_pct(p['estimate'])} of IVIG-treated patients (95% CI "
        f"{_ci(p['ci_low'], p['ci_high'])}; {p['k']} studies, {cl['crude']['n']} patients): "
        f"{cl['grade']['certainty']} certainty.",
        f"Graft survival {_pct(q['estimate'])} (95% CI {_ci(q['ci_low'], q['ci_high'])}; {q['k']} "
        f"studies, {gs['crude']['n']} patients): {gs['grade']['certainty']} certainty, too imprecise "
        "to inform a decision.",
        "Single-arm series with co-interventions cannot separate IVIG from spontaneous "
        "clearance after immunosuppression reduction.",
        f"The AI answer: {s.get('supported', 0)} of {sum(s.values())} claims supported, "
        f"{s.get('discrepant', 0)} discrepant, {s.get('unverifiable', 0)} unverifiable; its "
        f"references {', '.join(map(str, missing))} were not found.",
    ]


def _slide_bottom_line(fig, results: dict, audit: dict) -> None:
    y = SLIDE_H - TOP_BAND - 0.3
    width = SLIDE_W - 2 * MARGIN - 0.55
    for b in _bottom_lines(results, audit):
        lines = _wrap(fig, b, width, BODY_PT)
        _text(fig, MARGIN + 0.05, y - 0.06, "\u25a0", BODY_PT * 0.8, va="top", color=ACCENT)
        _text(fig, MARGIN + 0.55, y, "\n".join(lines), BODY_PT, va="top", linespacing=1.2)
        y -= len(lines) * _line(BODY_PT, 1.2) + 0.28
    cert = results["outcomes"]["viremia_clearance"]["grade"]["certainty"]
    verdict = f"IVIG in this scenario is a {cert}-certainty salvage option, not an evidence-based one."
    lines = _wrap(fig, verdict, SLIDE_W - 2 * MARGIN, BODY_PT, "bold")
    _text(fig, MARGIN, y - 0.05, "\n".join(lines), BODY_PT, fontweight="bold", va="top", color=ACCENT,
          linespacing=1.2)


def _slide_references(fig, results: dict, bib: dict[str, dict[str, str]], cff_path: Path) -> None:
    size = 18.0
    lh = _line(size, 1.15)
    width = SLIDE_W - 2 * MARGIN
    text = cff_path.read_text(encoding="utf-8")
    plain, _ = _cff_citation(cff_path)
    y = SLIDE_H - TOP_BAND - 0.15
    _text(fig, MARGIN, y, "Cite this deck", TEXT_PT, fontweight="bold", va="top")
    y -= _line(TEXT_PT) + 0.05
    title = next((ln.split(":", 1)[1].strip().strip('"') for ln in text.splitlines()
                  if ln.startswith("title:")), "")
    short = plain.replace(title, title.split(":")[0]) if title else plain
    lines = _wrap(fig, short + " See CITATION.cff.", width, size)
    _text(fig, MARGIN, y, "\n".join(lines), size, va="top", linespacing=1.15)
    y -= len(lines) * lh + 0.3
    outs = results["outcomes"]
    studies = sorted({d["study_id"] for o in ("viremia_clearance", "graft_survival")
                      for d in outs[o]["dataset"]})
    labels = {r["study_id"]: r["label"] for r in results["evidence_table"]}
    gap = 0.5
    left_w = 6.3
    right_w = width - left_w - gap
    # studies: label and the shortest stable identifier (PMID, DOI, else the web site)
    _text(fig, MARGIN, y, "Studies pooled", TEXT_PT, fontweight="bold", va="top")
    yy = y - _line(TEXT_PT) - 0.05
    for k in sorted(studies, key=lambda k: labels.get(k, k).lower()):
        e = bib.get(k, {})
        ident = (f"PMID {e['pmid']}" if e.get("pmid") else f"doi:{e['doi']}" if e.get("doi")
                 else e.get("url", "").split("/")[2] if e.get("url", "").count("/") >= 2 else "")
        wl = _wrap(fig, f"{labels.get(k, k)}: {ident}", left_w, size)
        _text(fig, MARGIN, yy, "\n".join(wl), size, va="top", linespacing=1.15)
        yy -= len(wl) * lh + 0.06
    # methods: what it is for, short citation, DOI
    x = MARGIN + left_w + gap
    _text(fig, x, y, "Methods", TEXT_PT, fontweight="bold", va="top")
    yy = y - _line(TEXT_PT) - 0.05
    for k, what in METHOD_REFERENCES.items():
        e = bib.get(k)
        if e is None:
            continue
        txt = f"{what}: {_short_cite(k, e)}" + (f", doi:{e['doi']}" if e.get("doi") else "")
        wl = _wrap(fig, txt, right_w, size)
        _text(fig, x, yy, "\n".join(wl), size, va="top", linespacing=1.15)
        yy -= len(wl) * lh + 0.06


# --------------------------------------------------------------------------- the deck


def slide_specs(results: dict, audit: dict, calibration: dict | None, bib: dict[str, dict[str, str]],
                cff_path: Path) -> list[dict[str, Any]]:
    """One dict per slide: ``name``, ``title``, ``subtitle``, ``sources``, ``figure`` (True if
    also saved as PNG/SVG) and ``draw`` (returns the Figure, title and footer not yet added)."""
    outs = results["outcomes"]
    cl = outs["viremia_clearance"]

    def page(draw_into: Callable) -> Callable:
        def draw():
            fig = _new_slide()
            draw_into(fig)
            return fig
        return draw

    def forest_sub(o: str) -> str:
        p = outs[o]["primary"]
        return (f"Pooled {_pct(p['estimate'])} (95% CI {_ci(p['ci_low'], p['ci_high'])}) by the "
                "binomial-normal GLMM; exact study CIs")

    sens_sub = "Each row re-pools the clearance data; dashed line: the primary estimate"
    if calibration is not None:
        cal = [r for r in calibration["rows"]
               if r["method"] == "glmm-t" and r["interval"] == "ci" and r["sizes"] == "observed"]
        if cal:
            cov = sum(r["coverage"] for r in cal) / len(cal)
            sens_sub = f"Simulated coverage of the primary 95% CI with these study sizes: {_pct(cov)}"
    found, counts = _evidence_counts(results)
    small = sum(c for d, c in counts.items() if d in ("case_series", "case_report", "conference_abstract"))
    s = audit["summary"]
    return [
        {"name": "title", "title": "IVIG for refractory BK-virus nephropathy",
         "subtitle": "Journal club: an evidence synthesis and an audit of an AI-written answer",
         "sources": ["results.json", "claims_audit.json"], "figure": False,
         "draw": page(lambda f: _slide_title(f, results, audit))},
        {"name": "evidence", "title": "The evidence at a glance",
         "subtitle": f"{small} of {len(found)} reports are case series, case reports or abstracts",
         "sources": ["results.json"], "figure": True,
         "draw": page(lambda f: _slide_evidence(f, results))},
        {"name": "forest_viremia_clearance", "title": f"{cl['label']} after IVIG",
         "subtitle": forest_sub("viremia_clearance"), "sources": ["results.json"], "figure": True,
         "draw": lambda: _forest(results, "viremia_clearance")},
        {"name": "forest_graft_survival", "title": f"{outs['graft_survival']['label']} after IVIG",
         "subtitle": forest_sub("graft_survival"), "sources": ["results.json"], "figure": True,
         "draw": lambda: _forest(results, "graft_survival")},
        {"name": "sensitivity", "title": "How the clearance answer moves",
         "subtitle": sens_sub, "sources": ["results.json"] + (["calibration.json"] if calibration else []),
         "figure": True, "draw": lambda: _slide_sensitivity(results, "viremia_clearance")},
        {"name": "claims_audit", "title": "Claims audit of the AI answer",
         "subtitle": f"{sum(s.values())} checkable claims, each with a computed or recorded verdict",
         "sources": ["claims_audit.json"], "figure": True, "draw": lambda: _slide_claims(audit)},
        {"name": "grade", "title": "GRADE summary of findings",
         "subtitle": "Share of IVIG-treated patients with each outcome; ratings by analysis/grade.py",
         "sources": ["results.json"], "figure": True, "draw": page(lambda f: _slide_grade(f, results))},
        {"name": "bottom_line", "title": "Bottom line", "subtitle": "",
         "sources": ["results.json", "claims_audit.json"], "figure": False,
         "draw": page(lambda f: _slide_bottom_line(f, results, audit))},
        {"name": "references", "title": "References",
         "subtitle": "All, with DOI or PMID: report/references.bib, or  python -m analysis cite",
         "sources": ["references.bib", "CITATION.cff"], "figure": False,
         "draw": page(lambda f: _slide_references(f, results, bib, cff_path))},
    ]


def _footer(spec: dict, bib: dict[str, dict[str, str]]) -> str:
    files, seen = [], set()
    for s in spec["sources"]:
        folder = "data/derived/" if s.endswith(".json") else "report/" if s.endswith(".bib") else ""
        files.append(s if folder in seen else folder + s)
        seen.add(folder)
    cites = [_short_cite(k, bib[k]) for k in FOOTER_KEYS.get(spec["name"], []) if k in bib]
    text = f"Source: bkvn-ivig-evidence {__version__}, {', '.join(files)}"
    return text + ("; " + "; ".join(cites) if cites else "")


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
    bib = parse_bibtex(Path(bib_path).read_text(encoding="utf-8"))
    specs = slide_specs(results, audit, calibration, bib, Path(cff_path))
    buf = _io.BytesIO()
    records = []
    meta = {"CreationDate": None, "ModDate": None, "Title": "IVIG for BK-virus nephropathy: journal club",
            "Creator": f"bkvn-ivig-evidence {__version__}", "Producer": f"bkvn-ivig-evidence {__version__}"}
    with PdfPages(buf, metadata=meta) as pdf:
        for i, spec in enumerate(specs, start=1):
            fig = spec["draw"]()
            _chrome(fig, i, len(specs), spec["title"], spec["subtitle"], _footer(spec, bib))
            _check_layout(fig, spec["name"])
            pdf.savefig(fig)
            files = []
            if spec["figure"]:
                for fmt in ("png", "svg"):
                    path = out_dir / f"{i:02d}-{spec['name'].replace('_', '-')}.{fmt}"
                    save_figure(fig, path, title=spec["title"], caption=_footer(spec, bib))
                    files.append(path.name)
            shown = _drawn_texts(fig)
            records.append({"number": i, "name": spec["name"], "title": spec["title"], "files": files,
                            "texts": [t.get_text() for t in shown],
                            "min_font_pt": min(t.get_fontsize() for t in shown)})
    write_bytes(buf.getvalue(), out_pdf)
    return records


# --------------------------------------------------------------------------- command line


def _cmd_slides(args) -> int:
    import json

    from ..stats._validation import InputError

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
    p = sub.add_parser("slides", help="build the 16:9 journal-club deck (PDF) and its figure slides")
    p.add_argument("--results", required=True)
    p.add_argument("--audit", required=True)
    p.add_argument("--calibration", default=None)
    repo = Path(__file__).resolve().parents[2]  # defaults in the repository, wherever it runs
    p.add_argument("--bib", default=str(repo / "report" / "references.bib"))
    p.add_argument("--cff", default=str(repo / "CITATION.cff"))
    p.add_argument("--out", required=True, help="the PDF; figure slides go beside it")
    p.add_argument("--outdir", default=None, help="folder for the PNG/SVG slides (default: the PDF's)")
    p.set_defaults(func=_cmd_slides)
