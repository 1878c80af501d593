"""Every figure of the report, drawn from the derived results and saved in one place.

Saving is deterministic: SVG ids are salted with a fixed string and carry no date, PDF
carries no creation date, PNG is written by Agg with fixed DPI. Each figure also gets a
caption file (``NAME.txt``) naming its data source and the package version, so a slide
can credit it; the manifest lists every file with its sha256.

The report inlines SVG, so `make report` writes SVG only; `make figures` writes every
figure as PNG and PDF as well (for slides, posters and manuscripts), off the report's path.
"""

from __future__ import annotations

import html
import io as _io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..review.io import dumps_json, sha256_file, write_bytes, write_text
from .narrative_methods import interval_names, primary_method_short

DESIGN_TEXT = {"case_report": "case report", "case_series": "case series",
               "retrospective_cohort": "retro. cohort", "prospective_cohort": "prosp. cohort",
               "rct": "RCT arm", "conference_abstract": "abstract", "guideline": "guideline",
               "review": "review"}
PNG_DPI = 150
# what `save_figure` can write; the report needs only SVG (it inlines it)
FORMATS = ("svg", "png", "pdf")
# the calibration figure shows the middle heterogeneity of the grid (the table has all)
CALIBRATION_TAU2 = 0.5
# who the outputs credit when the question file names no producer ([report] producer)
DEFAULT_PRODUCER = "evsynth"


def producer(results: dict) -> str:
    """The name the outputs credit ("Made with NAME VERSION"): question.toml [report] producer."""
    return ((results.get("question") or {}).get("report") or {}).get("producer") or DEFAULT_PRODUCER


def report_words(results: dict) -> dict:
    """The question file's [report] table (empty when it has none)."""
    return (results.get("question") or {}).get("report") or {}


def source_line(results: dict) -> str:
    """'Data: NAME data package (PATH)': the package the results were computed from."""
    pkg = results.get("package") or {}
    return (f"Data: {pkg.get('name') or 'the'} data package "
            f"({pkg.get('descriptor') or 'data/datapackage.json'})")


def treated_patients(results: dict) -> str:
    """The treated group in words: [intervention] patients, else 'patients given NAME'."""
    iv = (results.get("question") or {}).get("intervention") or {}
    return iv.get("patients") or f"patients given {iv.get('name', 'the intervention')}"


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "bkvn-ivig-evidence"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable
    matplotlib.rcParams["pdf.compression"] = 6
    return matplotlib


def in_sentence(label: str) -> str:
    """A sentence-case label as it reads inside a sentence: the first letter lower-cased
    unless the first word is an acronym ("Graft survival" -> "graft survival", but
    "BK viremia clearance" and "IVIG dose" stay as they are).

    >>> [in_sentence(x) for x in ("Graft survival", "BK viremia clearance", "Serious adverse events of IVIG")]
    ['graft survival', 'BK viremia clearance', 'serious adverse events of IVIG']
    """
    first = label.split(" ", 1)[0]
    if sum(ch.isupper() for ch in first) > 1:
        return label
    return label[:1].lower() + label[1:]


def labels_and_designs(results: dict) -> tuple[dict, dict]:
    """study_id -> display label and short design text, from the evidence table."""
    labels = {r["study_id"]: r["label"] for r in results["evidence_table"]}
    designs = {r["study_id"]: DESIGN_TEXT.get(r["design"], r["design"]) for r in results["evidence_table"]}
    return labels, designs


def save_figure(fig, path: Path, *, title: str, caption: str, made_by: str = DEFAULT_PRODUCER) -> None:
    """Write one figure in the format its suffix names, without volatile metadata
    (``made_by``: the producer its metadata credits, with the package version)."""
    _mpl()
    buf = _io.BytesIO()
    fmt = path.suffix.lstrip(".")
    if fmt == "svg":
        meta = {"Date": None, "Title": title, "Description": caption, "Creator": f"{made_by} {__version__}"}
        _svg_with_tooltips(fig, buf, meta)
    elif fmt == "pdf":
        meta = {"CreationDate": None, "ModDate": None, "Title": title, "Subject": caption,
                "Creator": f"{made_by} {__version__}"}
        fig.savefig(buf, format="pdf", metadata=meta)
    else:
        fig.savefig(buf, format="png", dpi=PNG_DPI, metadata={"Title": title, "Description": caption,
                                                              "Software": f"{made_by} {__version__}"})
    write_bytes(buf.getvalue(), path)


def _shortened_texts(fig) -> list:
    """Texts the plotting functions cut to fit: shown with an ellipsis, whole in the label."""
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text)
            if t.get_text().endswith("\u2026") and t.get_label() and t.get_label() != t.get_text()]


def _svg_with_tooltips(fig, buf, meta: dict) -> None:
    """Save ``fig`` as SVG into ``buf``, each shortened text carrying its full wording as a
    ``<title>`` (the tooltip a browser shows on hover, also in the report's inlined SVG)."""
    tips = _shortened_texts(fig)
    gids = [t.get_gid() for t in tips]
    for i, t in enumerate(tips):  # a unique id marks each text's group in the SVG
        t.set_gid(f"{gids[i] or 'text'}-full-{i}")
    try:
        fig.savefig(buf, format="svg", metadata=meta)
    finally:
        for t, gid in zip(tips, gids, strict=True):
            t.set_gid(gid)
    if not tips:
        return
    svg = buf.getvalue().decode("utf-8")
    for i, t in enumerate(tips):
        head = f'<g id="{gids[i] or "text"}-full-{i}">'
        svg = svg.replace(head, f"{head}\n    <title>{html.escape(t.get_label())}</title>", 1)
    buf.seek(0)
    buf.truncate()
    buf.write(svg.encode("utf-8"))


def figure_specs(results: dict, audit: dict, calibration: dict | None, *, style: str = "report"
                 ) -> list[tuple[str, str, str, Callable[[], Any]]]:
    """(name, title, caption, draw) for every figure; `draw` returns a Figure."""
    labels, designs = labels_and_designs(results)
    specs = _outcome_specs(results, labels, designs, style)
    from .tau_figures import tau_posterior_specs  # the posterior of tau (Bayesian rows)

    specs += tau_posterior_specs(results, style=style)
    specs += comparative_specs(results, style=style)
    specs += _evidence_specs(results, audit, labels, style)
    if calibration is not None:
        specs.append(_calibration_spec(calibration, style, results))
    return specs


def _outcome_specs(results: dict, labels: dict, designs: dict, style: str) -> list[tuple]:
    """Per outcome with a finite pooled estimate: its forest plot; for the question's
    primary outcomes also the sensitivity and leave-one-out plots."""
    from . import plotting

    specs = []
    primary = (results.get("question") or {}).get("primary_outcomes") or results["outcome_order"]
    for outcome in results["outcome_order"]:
        res = results["outcomes"][outcome]
        if not res.get("primary") or res["primary"]["ci_low"] is None:
            continue  # no finite pooled estimate (e.g. no events anywhere): the table says so
        lab = res["label"]
        title = f"{lab}: {treated_patients(results)}"
        pm = results["primary_method"]
        ci_word, pi_word = interval_names(pm["model"])
        weights = (" Weights are not defined for this model." if pm["model"] in ("glmm", "bayes")
                   else " Squares are sized by the inverse-variance weight.")
        specs.append((f"forest_{outcome}", title,
                      f"Forest plot of {in_sentence(lab)}: per-study proportions with exact (Clopper-Pearson) 95% CIs; "
                      f"pooled by the primary method ({primary_method_short(pm)}) with its 95% {ci_word} "
                      f"(diamond) and 95% {pi_word} (bar).{weights}",
                      lambda r=res, t=title: plotting.forest_plot(r["primary"], labels=labels, designs=designs,
                                                                  title=t, style=style)))
        if outcome not in primary:
            continue
        rows = pd.DataFrame([*[{**m, "group": "Pooling method (all studies)"} for m in res["methods"]],
                             *[{**s, "group": "Data choice (primary method)"} for s in res["scenarios"] if s["k"] > 0]])
        rows = rows.assign(pi_low=rows.pi_low.astype(float), pi_high=rows.pi_high.astype(float))
        rows["label"] = [f"{lbl}" for lbl in rows.label]
        specs.append((f"sensitivity_{outcome}", f"{lab}: methods and scenarios",
                      f"{lab}: pooled proportion (95% CI; thin line 95% PI) by pooling method (top) and by "
                      f"data scenario with the primary method, {primary_method_short(pm)} (bottom).",
                      lambda rows=rows, lab=lab: plotting.sensitivity_plot(
                          rows, title=f"{lab}: how the answer moves", style=style)))
        if res.get("leave_one_out"):
            loo = pd.DataFrame(res["leave_one_out"])
            specs.append((f"leave_one_out_{outcome}", f"{lab}: leave-one-out",
                          f"{lab}: pooled proportion by the primary method ({primary_method_short(pm)}) "
                          "omitting each study in turn.",
                          lambda loo=loo, r=res, lab=lab: plotting.leave_one_out_plot(
                              loo, full=r["primary"], labels=labels, title=f"{lab}: leave-one-out", style=style)))
    return specs


def _evidence_specs(results: dict, audit: dict, labels: dict, style: str) -> list[tuple]:
    """Viral loads, risk of bias, PRISMA flow (each if the package has the data), evidence
    map and claims audit (if the answer has claims)."""
    from . import plotting

    specs = []
    vl = pd.DataFrame(results.get("viral_loads") or [])
    if not vl.empty:
        vl = vl.assign(time_months=pd.to_numeric(vl.time_months), copies_per_ml=pd.to_numeric(vl.copies_per_ml))
        vl["patient_id"] = vl.patient_id.fillna("")
        words = report_words(results)
        what = words.get("viral_load_label", "Viral load")
        note = f" {words['viral_loads_note']}" if words.get("viral_loads_note") else ""
        specs.append(("viral_loads", f"{what}s over time",
                      f"Reported {in_sentence(what)}s (log10 scale) by study and patient; triangles mark bounds "
                      f"('>' up, '<' down); dashed lines are means or medians.{note} Values the answer claims "
                      "without a source are not shown.",
                      lambda: plotting.viral_load_plot(
                          vl[~vl.row_id.str.endswith("claimed")], labels=labels,
                          title=f"{what} over time (time origin as each study reports it)",
                          ylabel=f"{what} (copies/mL)", style=style)))
    specs += _rob_specs(results, labels, style)
    if results.get("prisma"):
        folder = str((results.get("package") or {}).get("descriptor", "data/datapackage.json")).rsplit("/", 1)[0]
        specs.append(("prisma", "PRISMA 2020 flow diagram",
                      f"PRISMA 2020 flow of records from the logged searches ({folder}/raw/search_log.csv, "
                      "screening.csv).", lambda: plotting.prisma_flow(_prisma_counts(results), style=style)))
    emap = pd.DataFrame(_evidence_map_rows(results))
    outcome_labels = {o: in_sentence(r["label"]) for o, r in results["outcomes"].items()}
    hollow = ("; hollow markers are studies not found in any source (the answer's claims only)"
              if any(r["verification"] in ("claimed_by_answer_only", "not_found") for r in _evidence_map_rows(results))
              else "")
    specs.append(("evidence_map", "Evidence map",
                  f"Every study found: design, size (bubble area) and the outcomes it reports{hollow}.",
                  lambda: plotting.evidence_map(emap, outcome_labels=outcome_labels, style=style)))
    aud = pd.DataFrame([{"claim_id": a["claim_id"], "short": a["claim"], "verdict": a["verdict"]}
                        for a in audit["claims"]])
    if not aud.empty:
        specs.append(("claims_audit", "Claims audit at a glance",
                      "Verdict for each checkable claim of the AI answer (computed for numeric claims, "
                      "recorded judgement for qualitative ones).",
                      lambda: plotting.claims_audit_plot(aud, style=style)))
    return specs


def _calibration_spec(calibration: dict, style: str, results: dict | None = None) -> tuple:
    """Simulated interval coverage at the observed study sizes and the middle tau^2."""
    from . import plotting

    cal = pd.DataFrame(calibration["rows"])
    tau2 = CALIBRATION_TAU2
    cal = cal[(cal.sizes == "observed") & (cal.tau2 == tau2) & (cal.method != "study-clopper-pearson")
              & (cal.model == "binomial-normal" if "model" in cal else True)]
    cal = cal.assign(scenario=[f"true proportion {p:.2f}" for p in cal.true_p])
    chosen = ((results or {}).get("primary_method") or {}).get("calibration_id")
    if chosen:  # mark the primary method's row
        cal = cal.assign(method=[f"{m} (primary)" if m == chosen else m for m in cal.method])
    folder = str(((results or {}).get("package") or {}).get("descriptor", "data/datapackage.json")).rsplit("/", 1)[0]
    return ("calibration", "Interval calibration by simulation",
            "Simulated coverage of the 95% confidence and prediction intervals of each method with the "
            f"observed study sizes, at tau^2 = {tau2:g} (logit scale) and {cal.true_p.nunique()} true "
            "proportions (a failed fit counts as a miss); the primary method is marked; bars "
            f"are +-1.96 Monte Carlo SE. Every scenario is in {folder}/derived/calibration.csv.",
            lambda: plotting.calibration_plot(cal, style=style))


def _prisma_counts(results: dict) -> dict:
    p = dict(results["prisma"])
    by_outcome = []
    for o in (results.get("question") or {}).get("primary_outcomes") or results["outcome_order"]:
        r = results["outcomes"].get(o)
        if r and r.get("k"):
            by_outcome.append(f"pooled for {in_sentence(r['label'])}: {r['k']}")
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


FIGURE_SETS = ("outcomes", "evidence", "calibration", "all")
_OUTCOME_PREFIXES = ("forest_", "sensitivity_", "leave_one_out_", "comparative_", "tau_posterior_")


def _set_specs(results: dict, audit: dict | None, calibration: dict | None, only: str) -> list:
    if only == "calibration":
        return [s for s in figure_specs(results, {"claims": []}, calibration) if s[0] == "calibration"]
    if only == "outcomes":
        return [s for s in figure_specs(results, {"claims": []}, None) if s[0].startswith(_OUTCOME_PREFIXES)]
    if only == "all":
        return figure_specs(results, audit, calibration)
    return [s for s in figure_specs(results, audit, None) if not s[0].startswith(_OUTCOME_PREFIXES)]


def write_figures(results: dict, audit: dict | None, outdir: Path, manifest: str | Path, *,
                  calibration: dict | None = None, only: str = "evidence",
                  formats: tuple[str, ...] = ("svg",)) -> None:
    """Draw one set of figures in `formats` (any of `FORMATS`) and write its manifest.

    The report's sets build in parallel make jobs, as SVG: ``"outcomes"`` (forest,
    sensitivity and leave-one-out plots; needs only the results), ``"evidence"`` (viral
    loads, risk of bias, PRISMA, evidence map, claims audit; needs the audit too) and
    ``"calibration"``. ``"all"`` is every figure (`make figures` writes it as PNG and PDF).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be some of {', '.join(FORMATS)}; got {', '.join(formats) or 'none'}")
    specs = _set_specs(results, audit, calibration, only)
    _mpl()
    outdir.mkdir(parents=True, exist_ok=True)
    entries = []
    made_by = producer(results)
    for name, title, caption, draw in specs:
        fig = draw()
        files = []
        for fmt in formats:
            path = outdir / f"{name}.{fmt}"
            save_figure(fig, path, title=title, caption=caption, made_by=made_by)
            files.append(path.name)
        credit = f"{caption}\n{source_line(results)}. Made with {made_by} {__version__}.\n"
        write_text(f"{title}\n\n{credit}", outdir / f"{name}.txt")
        entries.append({"name": name, "title": title, "caption": caption, "files": files,
                        "sha256": {f: sha256_file(outdir / f) for f in files}})
    write_text(dumps_json({"version": __version__, "figures": entries}), manifest)


def comparative_specs(results: dict, *, style: str = "report") -> list:
    """One comparative forest plot per plan set with studies (risk ratios by design)."""
    from .plotting.comparative import comparative_forest_plot

    q = results.get("question") or {}
    iv = (q.get("intervention") or {}).get("name", "intervention")
    cmp_ = (q.get("comparator") or {}).get("name", "comparator")
    specs = []
    for o, sets in results["comparative"].get("outcomes", {}).items():
        spec = (q.get("outcomes") or {}).get(o, {})
        for c in sets:
            if not c["studies"]:
                continue
            title = f"{c['label']}: {iv} versus {cmp_} ({c['set_label']})"
            caption = (f"{c['label']}, {iv} versus {cmp_}: risk ratio per study with its 95% CI (log scale), "
                       "grouped by design; a diamond is a Mantel-Haenszel pooled risk ratio within one design "
                       f"(drawn only where two or more studies share it). Population: {c['population_label']}.")
            hib = spec.get("direction", "higher_is_better") == "higher_is_better"
            specs.append((f"comparative_{o}_{c['set_id']}", title, caption,
                          lambda c=c, t=title, hib=hib:
                          comparative_forest_plot(c["studies"], c["pooled"], title=t, intervention=iv,
                                                  comparator=cmp_, higher_is_better=hib, style=style)))
    return specs


def _rob_specs(results: dict, labels: dict, style: str) -> list:
    """One traffic-light figure per risk-of-bias tool that has rows (plotting/rob_tools.py)."""
    from .plotting.rob_tools import rob_traffic_light_tool

    rob = results["risk_of_bias"]
    specs = []
    for tool, meta in rob["tools"].items():
        rows = pd.DataFrame(rob[tool])
        if rows.empty:
            continue
        specs.append((f"risk_of_bias_{tool}", f"Risk of bias: {meta['name']}",
                      f"{meta['name']} ({meta['citation']}): judgement per domain and study, from what the stored "
                      "source shows (mostly abstracts); 'no information' is drawn apart from high risk.",
                      lambda rows=rows, meta=meta, tool=tool: rob_traffic_light_tool(
                          rows, tool=tool, domains=meta["domains"], domain_labels=meta["domain_labels"],
                          labels=labels, title=f"Risk of bias: {meta['name']}", style=style)))
    return specs
