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


def _rows(results: dict) -> list[dict]:
    """Summary-of-findings rows: the comparisons (IVIG versus none) first, then the single-arm
    outcomes; each with its label, k / n, effect text, certainty and downgrades."""
    rows = []
    for g in (results.get("certainty") or {}).get("comparative", []):
        e = g.get("effect") or {}
        if e.get("estimate") is None:
            effect = [("no events", {}), ("in either arm", {"color": MUTED})]
        else:
            effect = [(f"RR {e['estimate']:.2f}", {}),
                      (f"({e['ci_low']:.2f} to {e['ci_high']:.2f})" if e.get("ci_low") is not None else "", {"color": MUTED})]
        rows.append({"label": g["label"], "kn": f"{g['k']} / {e.get('n_1', 0) + e.get('n_0', 0)}",
                     "effect": effect, "grade": g})
    outs = results["outcomes"]
    for o in results["outcome_order"]:
        g = outs[o].get("grade")
        if not g:
            continue
        if g["ci_low"] is not None:
            ci = f"({_ci(g['ci_low'], g['ci_high'])})"
        else:  # no finite pooled interval: the exact interval of the summed counts, as the report
            c = outs[o]["crude"]
            ci = f"(exact {_ci(c['ci_low'], c['ci_high'])})"
        rows.append({"label": f"{outs[o]['label']}: with {results['question']['intervention']['name']}, "
                              "no comparison" if results.get("question") else outs[o]["label"],
                     "kn": f"{g['k']} / {g['patients']}",
                     "effect": [(_pct(g["estimate"]), {}), (ci, {"color": MUTED})], "grade": g})
    return rows


def _slide_grade(fig, results: dict) -> None:
    rows = _rows(results)
    size = 20.0 if len(rows) <= 3 else 15.0
    lh = _line(size, 1.1)
    width = SLIDE_W - 2 * MARGIN
    cols = [("Outcome", 4.1), ("k / n", 1.0), ("Effect (95% CI)", 2.3), ("Certainty", 1.5),
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
    for row in rows:
        g = row["grade"]
        downs = [d for d in g["downgrades"] if d["levels"]]
        used.update(d["domain"] for d in downs)
        reasons = ", ".join(f"{GRADE_ABBREVIATIONS.get(d['domain'], d['domain'])} \u2212{d['levels']}"
                            for d in downs) or "not rated down"
        colour = CERTAINTY_COLOURS.get(g["certainty"], INK)
        cells = [
            [(line, {"fontweight": "bold"}) for line in _wrap(fig, row["label"], cols[0][1] - 0.15, size, "bold")],
            [(row["kn"], {})],
            [cell for cell in row["effect"] if cell[0]],
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
    outs = results["outcomes"]
    start = next((outs[o]["grade"]["start"] for o in results["outcome_order"] if outs[o].get("grade")), "")
    legend = ", ".join(f"{a} {d}" for d, a in GRADE_ABBREVIATIONS.items() if d in used)
    note = ("k / n: studies / patients. RR: risk ratio, intervention versus comparator (comparisons first). "
            + (f"Single-arm studies start at {start} certainty. " if start else "") + f"{legend}.")
    lines = _wrap(fig, note, width, 18.0)
    _text(fig, MARGIN, FOOT_BAND - 0.06, "\n".join(lines), 18.0, va="bottom", color=MUTED, linespacing=1.1)
