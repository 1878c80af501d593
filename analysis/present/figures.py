"""Every figure of the report, drawn from the derived results and saved in one place.

Saving is deterministic: SVG ids are salted with a fixed string and carry no date, PDF
carries no creation date, PNG is written by Agg with fixed DPI. Each figure also gets a
caption file (``NAME.txt``) naming its data source and the package version, so a slide
can credit it; the manifest lists every file with its sha256.
"""

from __future__ import annotations

import io as _io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..review.io import dumps_json, sha256_file, write_bytes, write_text

DESIGN_TEXT = {"case_report": "case report", "case_series": "case series",
               "retrospective_cohort": "retro. cohort", "prospective_cohort": "prosp. cohort",
               "rct": "RCT arm", "conference_abstract": "abstract", "guideline": "guideline",
               "review": "review"}
PNG_DPI = 150
# the calibration figure shows the middle heterogeneity of the grid (the table has all)
CALIBRATION_TAU2 = 0.5
SOURCE = "Data: bkvn-ivig-evidence data package (data/datapackage.json)"


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "bkvn-ivig-evidence"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable
    matplotlib.rcParams["pdf.compression"] = 6
    return matplotlib


def labels_and_designs(results: dict) -> tuple[dict, dict]:
    """study_id -> display label and short design text, from the evidence table."""
    labels = {r["study_id"]: r["label"] for r in results["evidence_table"]}
    designs = {r["study_id"]: DESIGN_TEXT.get(r["design"], r["design"]) for r in results["evidence_table"]}
    return labels, designs


def save_figure(fig, path: Path, *, title: str, caption: str) -> None:
    """Write one figure in the format its suffix names, without volatile metadata."""
    _mpl()
    buf = _io.BytesIO()
    fmt = path.suffix.lstrip(".")
    if fmt == "svg":
        meta = {"Date": None, "Title": title, "Description": caption, "Creator": f"bkvn-ivig-evidence {__version__}"}
        fig.savefig(buf, format="svg", metadata=meta)
    elif fmt == "pdf":
        meta = {"CreationDate": None, "ModDate": None, "Title": title, "Subject": caption,
                "Creator": f"bkvn-ivig-evidence {__version__}"}
        fig.savefig(buf, format="pdf", metadata=meta)
    else:
        fig.savefig(buf, format="png", dpi=PNG_DPI, metadata={"Title": title, "Description": caption,
                                                              "Software": f"bkvn-ivig-evidence {__version__}"})
    write_bytes(buf.getvalue(), path)


def figure_specs(results: dict, audit: dict, calibration: dict | None, *, style: str = "report"
                 ) -> list[tuple[str, str, str, Callable[[], Any]]]:
    """(name, title, caption, draw) for every figure; `draw` returns a Figure."""
    from . import plotting

    labels, designs = labels_and_designs(results)
    specs = []
    for outcome in results["outcome_order"]:
        res = results["outcomes"][outcome]
        if not res.get("primary") or res["primary"]["ci_low"] is None:
            continue  # no finite pooled estimate (e.g. no events anywhere): the table says so
        lab = res["label"]
        title = f"{lab}: IVIG-treated patients"
        specs.append((f"forest_{outcome}", title,
                      f"Forest plot of {lab.lower()}: per-study proportions with exact (Clopper-Pearson) 95% CIs; "
                      "pooled by the binomial-normal GLMM (ML, 7-node AGHQ) with its 95% CI (diamond) and "
                      "95% prediction interval (bar). Weights are not defined for the GLMM.",
                      lambda r=res, t=title: plotting.forest_plot(r["primary"], labels=labels, designs=designs,
                                                                  title=t, style=style)))
        if outcome not in ("viremia_clearance", "graft_survival"):
            continue
        rows = pd.DataFrame([*res["methods"], *[s for s in res["scenarios"] if s["k"] > 0]])
        rows = rows.assign(pi_low=rows.pi_low.astype(float), pi_high=rows.pi_high.astype(float))
        rows["label"] = [f"{lbl}" for lbl in rows.label]
        specs.append((f"sensitivity_{outcome}", f"{lab}: methods and scenarios",
                      f"{lab}: pooled proportion (95% CI; thin line 95% PI) by pooling method (top) and by "
                      "data scenario with the primary GLMM (bottom).",
                      lambda rows=rows, lab=lab: plotting.sensitivity_plot(
                          rows, title=f"{lab}: how the answer moves", style=style)))
        if res.get("leave_one_out"):
            loo = pd.DataFrame(res["leave_one_out"])
            specs.append((f"leave_one_out_{outcome}", f"{lab}: leave-one-out",
                          f"{lab}: GLMM pooled proportion omitting each study in turn.",
                          lambda loo=loo, r=res, lab=lab: plotting.leave_one_out_plot(
                              loo, full=r["primary"], labels=labels, title=f"{lab}: leave-one-out", style=style)))
    vl = pd.DataFrame(results["viral_loads"])
    if not vl.empty:
        vl = vl.assign(time_months=pd.to_numeric(vl.time_months), copies_per_ml=pd.to_numeric(vl.copies_per_ml))
        vl["patient_id"] = vl.patient_id.fillna("")
        specs.append(("viral_loads", "BK viral loads over time",
                      "Reported BK viral loads (log10 scale) by study and patient; triangles mark bounds "
                      "('>' up, '<' down); dashed lines are means or medians. Time is as each study reports "
                      "it: the 2024 case report counts months after transplantation, the cohort "
                      "summaries months after IVIG. Values the answer claims without "
                      "a source are not shown.",
                      lambda: plotting.viral_load_plot(
                          vl[~vl.row_id.str.endswith("claimed")], labels=labels,
                          title="BK viral load over time (time origin as each study reports it)",
                          style=style)))
    rob = pd.DataFrame(results["risk_of_bias"])
    st = {r["study_id"]: r for r in results["evidence_table"]}
    rob = rob[[st[s]["role"] != "guideline" for s in rob.study_id]]
    specs.append(("risk_of_bias", "Risk of bias (Murad et al. 2018)",
                  "Methodological quality of case series and case reports (Murad et al. 2018): "
                  "selection, ascertainment, causality and reporting items per study.",
                  lambda: plotting.rob_traffic_light(rob, labels=labels, title="Risk of bias", style=style)))
    specs.append(("prisma", "PRISMA 2020 flow diagram",
                  "PRISMA 2020 flow of records from the logged searches (data/raw/search_log.csv, "
                  "screening.csv).", lambda: plotting.prisma_flow(_prisma_counts(results), style=style)))
    emap = pd.DataFrame(_evidence_map_rows(results))
    specs.append(("evidence_map", "Evidence map",
                  "Every study found: design, size (bubble area) and the outcomes it reports; hollow "
                  "markers are studies not found in any source (the answer's claims only).",
                  lambda: plotting.evidence_map(emap, style=style)))
    aud = pd.DataFrame([{"claim_id": a["claim_id"], "short": _short(a["claim"]), "verdict": a["verdict"]}
                        for a in audit["claims"]])
    specs.append(("claims_audit", "Claims audit at a glance",
                  "Verdict for each checkable claim of the AI answer (computed for numeric claims, "
                  "recorded judgement for qualitative ones).",
                  lambda: plotting.claims_audit_plot(aud, style=style)))
    if calibration is not None:
        cal = pd.DataFrame(calibration["rows"])
        tau2 = CALIBRATION_TAU2
        cal = cal[(cal.sizes == "observed") & (cal.tau2 == tau2) & (cal.method != "study-clopper-pearson")
                  & (cal.model == "binomial-normal" if "model" in cal else True)]
        cal = cal.assign(scenario=[f"true proportion {p:.2f}" for p in cal.true_p])
        specs.append(("calibration", "Interval calibration by simulation",
                      "Simulated coverage of the 95% confidence and prediction intervals of each method with the "
                      f"observed study sizes, at tau^2 = {tau2:g} (logit scale) and {cal.true_p.nunique()} true "
                      "proportions (a failed fit counts as a miss); bars "
                      "are +-1.96 Monte Carlo SE. Every scenario is in data/derived/calibration.csv.",
                      lambda: plotting.calibration_plot(cal, style=style)))
    return specs


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _prisma_counts(results: dict) -> dict:
    p = dict(results["prisma"])
    by_outcome = []
    for o in ("viremia_clearance", "graft_survival"):
        r = results["outcomes"].get(o)
        if r and r.get("k"):
            by_outcome.append(f"pooled for {r['label'][0].lower() + r['label'][1:] if not r['label'].startswith('BK') else r['label']}: {r['k']}")
    p["included_notes"] = by_outcome
    return p


def _evidence_map_rows(results: dict) -> list[dict]:
    out_by_study: dict[str, set] = {}
    for o, res in results["outcomes"].items():
        for d in res.get("dataset") or []:
            out_by_study.setdefault(d["study_id"], set()).add(o)
    rows = []
    for r in results["evidence_table"]:
        if r["role"] == "guideline":
            continue
        rows.append({"study_id": r["study_id"], "label": r["label"], "design": r["design"],
                     "n": r["n_ivig"], "outcomes": ";".join(sorted(out_by_study.get(r["study_id"], set())))
                     or "no pooled outcome", "verification": r["verification"], "role": r["role"]})
    return rows


FIGURE_SETS = ("outcomes", "evidence", "calibration")


def write_figures(results: dict, audit: dict | None, outdir: Path, manifest: str | Path, *,
                  calibration: dict | None = None, only: str = "evidence") -> None:
    """Draw one set of figures as SVG and PNG (forest plots also PDF) and write its manifest.

    The sets build in parallel make jobs: ``"outcomes"`` (forest, sensitivity and
    leave-one-out plots; needs only the results), ``"evidence"`` (viral loads, risk of
    bias, PRISMA, evidence map, claims audit; needs the audit too) and ``"calibration"``.
    """
    outcome_prefixes = ("forest_", "sensitivity_", "leave_one_out_")
    if only == "calibration":
        specs = [s for s in figure_specs(results, {"claims": []}, calibration) if s[0] == "calibration"]
    elif only == "outcomes":
        specs = [s for s in figure_specs(results, {"claims": []}, None) if s[0].startswith(outcome_prefixes)]
    else:
        specs = [s for s in figure_specs(results, audit, None) if not s[0].startswith(outcome_prefixes)]
    _mpl()
    outdir.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, title, caption, draw in specs:
        fig = draw()
        formats = ("svg", "png", "pdf") if name.startswith("forest_") else ("svg", "png")
        files = []
        for fmt in formats:
            path = outdir / f"{name}.{fmt}"
            save_figure(fig, path, title=title, caption=caption)
            files.append(path.name)
        credit = f"{caption}\n{SOURCE}. Made with bkvn-ivig-evidence {__version__}.\n"
        write_text(f"{title}\n\n{credit}", outdir / f"{name}.txt")
        entries.append({"name": name, "title": title, "caption": caption, "files": files,
                        "sha256": {f: sha256_file(outdir / f) for f in files}})
    write_text(dumps_json({"version": __version__, "figures": entries}), manifest)
