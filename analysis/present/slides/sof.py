"""The GRADE summary-of-findings slide: one row per outcome with its certainty."""

from __future__ import annotations

from ._layout import (
    FOOT_BAND,
    INK,
    MARGIN,
    MUTED,
    SLIDE_H,
    SLIDE_W,
    TOP_BAND,
    _ci,
    _hline,
    _line,
    _pct,
    _text,
    _wrap,
)

CERTAINTY_COLOURS = {"high": "#009E73", "moderate": "#56B4E9", "low": "#E69F00",
                     "very low": "#D55E00"}
CERTAINTY_SYMBOLS = {"high": "\u2295\u2295\u2295\u2295", "moderate": "\u2295\u2295\u2295\u25ef",
                     "low": "\u2295\u2295\u25ef\u25ef", "very low": "\u2295\u25ef\u25ef\u25ef"}
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
