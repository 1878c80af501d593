"""Evidence map: which study reports which outcome, its design and its size."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._axes import _fits_rows, _new_figure, _require, _tidy_axes
from ._style import DESIGN_COLOURS, PALETTE, SERIES_COLOURS, _style
from ._text import _label, _missing

DESIGN_ORDER = ("rct", "prospective_cohort", "retrospective_cohort", "case_series",
                "case_report", "conference_abstract", "guideline")
OUTCOME_ORDER = ("viremia_clearance", "viral_load_reduction", "histologic_resolution",
                 "graft_survival", "graft_loss", "rejection", "patient_survival",
                 "adverse_event")
UNVERIFIED = {"claimed_by_answer_only", "not_found"}
# designs shown otherwise than as their name with spaces (acronyms stay upper-case)
_DESIGN_TEXT = {"rct": "RCT"}


def _design_colour(design: str, seen: list[str]) -> str:
    if design in DESIGN_COLOURS:
        return PALETTE[DESIGN_COLOURS[design]]
    spare = [c for c in SERIES_COLOURS if c not in DESIGN_COLOURS.values()] or ["grey"]
    return PALETTE[spare[seen.index(design) % len(spare)]]


def evidence_map(studies: pd.DataFrame, *, outcome_labels: dict | None = None,
                 style: str = "report", ax=None) -> Figure:
    """Evidence map: which study reports which outcome, its design and its size.

    A bubble chart with outcomes on the x axis and studies on the y axis (sorted by
    design, then in the order given); bubble area is proportional to the number of
    patients (a small diamond when n is not reported), colour shows the design, and
    hollow markers flag studies known only from the appraised answer or not found.
    Studies whose role is not "treatment" carry it in brackets after their label.

    Parameters
    ----------
    studies : pandas.DataFrame
        Columns ``study_id``, ``label``, ``design``, ``n`` (may be NaN), ``outcomes``
        (";"-separated outcome names), ``verification`` and ``role``.
    outcome_labels : dict, optional
        Outcome name -> axis label (e.g. "BK viremia clearance"); otherwise the name with
        its underscores shown as spaces.
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the legend is placed to its right).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(studies, ["study_id", "label", "design", "n", "outcomes", "verification",
                       "role"], "evidence_map")
    df, outs_per, outcomes = _sorted_studies(studies)
    nstud = len(df)
    slide = style == "slide"
    if ax is None:
        if slide:
            _fits_rows(nstud, st["height"] - 2.6, st["small"], "evidence_map")
        fig = _new_figure(st, 1.9 + 0.42 * nstud)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    nvals = pd.to_numeric(df["n"], errors="coerce")
    nmax = float(nvals.max()) if nvals.notna().any() else 1.0
    area = _area_scale(st, slide, nmax)
    designs = list(dict.fromkeys(str(d) for d in df["design"]))
    _draw_bubbles(ax, st, df, outs_per, outcomes, nvals, area, designs)
    _label_axes(ax, st, df, outcomes, outcome_labels or {})
    _design_legend(ax, st, designs, unverified=any(str(v) in UNVERIFIED for v in df["verification"]))
    _size_legend(ax, st, nvals, nmax, area)
    return fig


def _sorted_studies(studies: pd.DataFrame):
    """(studies sorted by design, each study's outcomes, the outcome columns in order)."""
    df = studies.reset_index(drop=True).copy()
    df["label"] = [_label({sid: lab}, sid) for lab, sid in zip(df["label"], df["study_id"],
                                                                strict=True)]
    df["design"] = ["not reported" if _missing(d) else str(d) for d in df["design"]]
    rank = {d: i for i, d in enumerate(DESIGN_ORDER)}
    df["_r"] = [rank.get(str(d), len(rank)) for d in df["design"]]
    df = df.sort_values(["_r"], kind="mergesort").reset_index(drop=True)
    outs_per = [[o.strip() for o in str(v).split(";") if o.strip()]
                if not _missing(v) else [] for v in df["outcomes"]]
    seen = list(dict.fromkeys(o for os_ in outs_per for o in os_))
    outcomes = [o for o in OUTCOME_ORDER if o in seen] + [o for o in seen
                                                         if o not in OUTCOME_ORDER]
    return df, outs_per, outcomes


def _area_scale(st: dict, slide: bool, nmax: float) -> Callable[[float], float]:
    """Bubble area (pt^2) for ``n`` patients: proportional to n, never below a minimum."""
    amax = (st["row"] * 72 * 1.25) ** 2 if not slide else (0.5 * 72) ** 2

    def area(n):
        return max(amax * n / nmax, st["ms"] ** 2 * 0.35)

    return area


def _draw_bubbles(ax, st, df, outs_per, outcomes, nvals, area, designs) -> None:
    for i, r in enumerate(df.itertuples(index=False)):
        colour = _design_colour(str(r.design), designs)
        hollow = str(r.verification) in UNVERIFIED
        n = nvals.iloc[i]
        for o in outs_per[i]:
            x = outcomes.index(o)
            ax.scatter([x], [i], s=[st["ms"] ** 2 * 1.2 if pd.isna(n) else area(float(n))],
                       marker="D" if pd.isna(n) else "o",
                       facecolors="none" if hollow else colour, edgecolors=colour,
                       linewidths=st["lw"] * (1.2 if hollow else 0.5), alpha=0.9, zorder=3,
                       gid="bubble")


def _label_axes(ax, st, df, outcomes, outcome_labels: dict) -> None:
    """Study labels (with a non-treatment role in brackets) and outcome names."""
    ylab = []
    for r in df.itertuples(index=False):
        role = "" if _missing(r.role) or str(r.role) == "treatment" else f" [{r.role}]"
        ylab.append(f"{r.label}{role}")
    nstud = len(df)
    ax.set_yticks(range(nstud), ylab)
    ax.set_ylim(nstud - 0.5, -0.5)
    ax.set_xticks(range(len(outcomes)), [str(outcome_labels.get(o, o.replace("_", " ")))
                                         for o in outcomes],
                  rotation=35, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(outcomes) - 0.4)
    ax.grid(True, color=PALETTE["light"], lw=0.7)
    ax.set_axisbelow(True)
    _tidy_axes(ax, st, left=True)
    ax.tick_params(length=0)
    ax.set_xlabel("Outcome reported", fontsize=st["base"])


def _design_legend(ax, st, designs, *, unverified: bool = True) -> None:
    """Design colours and found/not-found markers (only when some study was not found),
    right of the axes, headed in bold."""
    def head(text):
        return Line2D([], [], ls="none", label=text)

    handles = [head("Design")]
    handles += [Line2D([], [], ls="none", marker="o", ms=st["ms"] * 1.3,
                       color=_design_colour(d, designs),
                       label=_DESIGN_TEXT.get(d, d.replace("_", " ")))
                for d in designs]
    if unverified:
        handles.append(head("Source"))
        handles.append(Line2D([], [], ls="none", marker="o", ms=st["ms"] * 1.3,
                              color=PALETTE["dark"], label="found and read"))
        handles.append(Line2D([], [], ls="none", marker="o", ms=st["ms"] * 1.3, mfc="none",
                              mec=PALETTE["dark"], mew=st["lw"], label="answer only / not found"))
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                    frameon=False, fontsize=st["small"], borderaxespad=0, handletextpad=0.6)
    for text, h in zip(leg.get_texts(), handles, strict=True):
        if h.get_marker() in (None, "None", ""):
            text.set_fontweight("bold")
    ax.add_artist(leg)


def _size_legend(ax, st, nvals, nmax, area) -> None:
    """Three reference bubble sizes (and the not-reported diamond), bottom right."""
    refs = [v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if v <= nmax]
    refs = sorted({refs[0], refs[len(refs) // 2], refs[-1]}) if refs else []
    sizes = [Line2D([], [], ls="none", marker="o", ms=math.sqrt(area(v)),
                    mfc=PALETTE["grey"], mec=PALETTE["grey"], label=f"{v}") for v in refs]
    if nvals.isna().any():
        sizes.append(Line2D([], [], ls="none", marker="D", ms=st["ms"] * 1.1,
                            color=PALETTE["grey"], label="not\nreported"))
    ax.legend(handles=sizes, loc="lower left", bbox_to_anchor=(1.02, 0.0), frameon=False,
              fontsize=st["small"], title="Patients (n)", title_fontsize=st["small"],
              alignment="left", ncols=max(len(sizes), 1), borderaxespad=0,
              handletextpad=0.3, columnspacing=0.9, handleheight=1.5)
    ax.get_legend().get_title().set_fontweight("bold")
