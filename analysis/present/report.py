"""Render ``report/report.html`` from the derived results: formats numbers, adds none.

Every number printed from the results is wrapped as
``<span class="num" data-key="dotted.path" data-fmt="pct">73.7%</span>``, so a test can
look each one up in ``data/derived`` and check the printed text. Figures are inlined as
SVG, so the file opens offline; nothing in it depends on the time of the build (the
colophon gives the commit and its date).
"""

from __future__ import annotations

import html
import platform
import string
import subprocess
from pathlib import Path
from typing import Any

from .._version import __version__
from ..review.io import write_text
from ..stats._citations import CITATIONS
from .citation import BLOCK_START, format_reference, parse_bibtex

FORMATS = {
    "pct": lambda v: f"{100 * v:.1f}%",
    "pct0": lambda v: f"{100 * v:.0f}%",
    "i2": lambda v: f"{v:.1f}%",
    "tau2": lambda v: f"{v:.3f}",
    "int": lambda v: f"{int(v)}",
    "ratio": lambda v: f"{v:.2f}",
    "num": lambda v: f"{v:g}",
}


def lookup(obj: Any, key: str) -> Any:
    """Value at a dotted path (list indices as integers) of the results JSON."""
    for part in key.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


class _Num:
    """Formats numbers from one JSON document with traceable spans."""

    def __init__(self, doc: dict, prefix: str):
        self.doc = doc
        self.prefix = prefix

    def __call__(self, key: str, fmt: str = "pct") -> str:
        value = lookup(self.doc, key)
        if value is None:
            return '<span class="num na">n/a</span>'
        text = FORMATS[fmt](value)
        return f'<span class="num" data-key="{self.prefix}:{key}" data-fmt="{fmt}">{text}</span>'

    def ci(self, key_lo: str, key_hi: str, fmt: str = "pct") -> str:
        if lookup(self.doc, key_lo) is None:
            return "n/a"
        return f"{self(key_lo, fmt)} to {self(key_hi, fmt)}"


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _svg(manifest: dict, figdir: Path, name: str) -> str:
    entry = next((f for f in manifest["figures"] if f["name"] == name), None)
    if entry is None:
        return ""
    text = (figdir / f"{name}.svg").read_text(encoding="utf-8")
    text = text[text.index("<svg"):]
    return (f'<figure id="fig-{name}">{text}<figcaption><strong>{_e(entry["title"])}.</strong> '
            f"{_e(entry['caption'])}</figcaption></figure>")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _table(headers: list[str] | None, rows: list[list[str]], numeric: set[int] = frozenset(),
           row_classes: list[str] | None = None) -> str:
    head = "".join(f'<th class="{"n" if i in numeric else ""}">{h}</th>' for i, h in enumerate(headers or []))
    body = []
    for j, r in enumerate(rows):
        cls = f' class="{row_classes[j]}"' if row_classes and row_classes[j] else ""
        body.append(f"<tr{cls}>" + "".join(f'<td class="{"n" if i in numeric else ""}">{c}</td>'
                                           for i, c in enumerate(r)) + "</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def _cite(keys: list[str], order: list[str]) -> str:
    nums = []
    for k in keys:
        if k not in order:
            order.append(k)
        nums.append(order.index(k) + 1)
    return "[" + ", ".join(str(n) for n in sorted(set(nums))) + "]"


def render_report(*, results: dict, audit: dict, manifest: dict, template: Path, bibliography: Path,
                  out: Path, figdir: Path, calibration: dict | None = None) -> None:
    """Fill the template's placeholders and write the HTML atomically."""
    R = _Num(results, "results")
    A = _Num(audit, "audit")
    refs: list[str] = []
    labels = {r["study_id"]: r["label"] for r in results["evidence_table"]}
    outs = results["outcomes"]
    cl = outs["viremia_clearance"]
    gs = outs["graft_survival"]

    def pooled_sentence(o: str) -> str:
        res = outs[o]
        if not res.get("primary"):
            return f"not estimable (no study reports counts for {res['label'].lower()})"
        p = f"outcomes.{o}.primary"
        c = f"outcomes.{o}.crude"
        if res["primary"]["ci_low"] is None:
            return (f"{R(c + '.events', 'int')} of {R(c + '.n', 'int')} patients in {R(p + '.k', 'int')} studies "
                    f"(exact 95% CI of the summed counts {R.ci(c + '.ci_low', c + '.ci_high')}, which ignores "
                    "between-study differences)")
        pi = (f"; 95% prediction interval {R.ci(p + '.pi_low', p + '.pi_high')}"
              if res["primary"]["pi_low"] is not None else "")
        return (f"{R(p + '.estimate')} (95% CI {R.ci(p + '.ci_low', p + '.ci_high')}{pi}; "
                f"{R(p + '.k', 'int')} studies, {R(c + '.n', 'int')} patients)")

    def comparison_sentence() -> str:
        parts = []
        for i, c in enumerate(results["comparative"]["studies"]):
            if c["role"] != "treatment" or c["outcome"] not in ("viremia_clearance", "graft_loss"):
                continue
            b = f"comparative.studies.{i}"
            what = "cleared viremia" if c["outcome"] == "viremia_clearance" else "lost the graft"
            design = "RCT" if c["design"] == "rct" else c["design"].replace("_", " ")
            who = f"{_e(labels.get(c['study_id'], c['study_id']))} ({_e(design)})"
            if c.get("events_1") is not None:
                rr = (f", RR {R(b + '.rr', 'ratio')} ({R(b + '.rr_ci_low', 'ratio')} to {R(b + '.rr_ci_high', 'ratio')})"
                      if c.get("rr") is not None else "")
                parts.append(f"in {who}, {c['events_1']}/{c['n_1']} with IVIG versus {c['events_0']}/{c['n_0']} "
                             f"without {what}{rr}")
            elif c.get("percent_1") is not None and c.get("percent_0") is not None:
                parts.append(f"in {who}, {R(b + '.percent_1', 'num')}% with IVIG versus "
                             f"{R(b + '.percent_0', 'num')}% without {what} (printed percentages; counts not "
                             "reported)")
        return "; ".join(parts) if parts else "none were found"

    def not_found_refs() -> str:
        nf = sorted((r["answer_ref"], r["year"]) for r in results["evidence_table"]
                    if r["verification"] == "not_found" and r["answer_ref"] and r["role"] != "guideline")
        return ", ".join(f"{ref} ({year})" for ref, year in nf)

    def unverified_percents() -> str:
        vals = []
        for i, a in enumerate(audit["claims"]):
            if a["quantity"] == "percent" and a["verdict"] == "unverifiable":
                vals.append(f"{A(f'claims.{i}.claimed_value', 'num')}%")
        return ", ".join(vals)

    summ = audit["summary"]
    n_claims = sum(summ.values())
    bottom = (
        f"<p>Across every study found, the pooled proportion of IVIG-treated patients who cleared BK viremia "
        f"was {pooled_sentence('viremia_clearance')}; pooled graft survival was "
        f"{pooled_sentence('graft_survival')}, an interval so wide that it says almost nothing. Certainty of evidence is "
        f"<strong>{_e(cl['grade']['certainty'] if cl.get('grade') else 'not rated')}</strong> for clearance and "
        f"<strong>{_e(gs['grade']['certainty'] if gs.get('grade') else 'not rated')}</strong> for graft survival: "
        "uncontrolled case series and abstracts, mostly not restricted to the refractory, biopsy-proven "
        "scenario asked about, with co-interventions. Comparisons with patients not given IVIG: "
        + comparison_sentence() + ".</p>"
        f"<p>Of the AI answer's {n_claims} checkable claims, {A('summary.supported', 'int')} are supported, "
        f"{A('summary.partly_supported', 'int')} partly supported, {A('summary.discrepant', 'int')} discrepant "
        f"and {A('summary.unverifiable', 'int')} could not be verified, chiefly because the studies it cites "
        f"as references {not_found_refs()} were not found in any available source; so its headline percentages "
        f"({unverified_percents()}) remain unverified. IVIG in this scenario is a low-certainty salvage option, "
        "not an evidence-based one.</p>"
    )
    pico = _table(None, [
        ["Population", "Kidney-transplant recipients with biopsy-proven BK-virus nephropathy progressing "
                       "despite maximal reduction of antimetabolites and calcineurin inhibitors"],
        ["Intervention", "Intravenous immunoglobulin (any dose), when low-dose cidofovir or foscarnet are "
                         "contraindicated or have failed"],
        ["Comparison", "No IVIG (continued immunosuppression reduction alone)"],
        ["Outcomes", "Clearance of BK viremia; graft survival; histology, graft function, adverse events"],
    ]).replace("<table>", '<table class="pico">')
    # ---- glance
    ev = results["evidence_table"]
    designs: dict[str, int] = {}
    for r in ev:
        if r["role"] != "guideline":
            designs[r["design"]] = designs.get(r["design"], 0) + 1
    glance = (f"<p>{len([r for r in ev if r['role'] != 'guideline'])} study reports and "
              f"{len([r for r in ev if r['role'] == 'guideline'])} guidelines: "
              + ", ".join(f"{v} {k.replace('_', ' ') if k != 'rct' else 'RCT'}" for k, v in sorted(designs.items()))
              + ". Not found in any available source: "
              + ", ".join(f"answer ref {r['answer_ref']} ({r['year']})" for r in
                          sorted(ev, key=lambda r: r["answer_ref"] or 0)
                          if r["verification"] == "not_found" and r["answer_ref"])
              + ".</p>" + _svg(manifest, figdir, "evidence_map"))
    # ---- prisma
    pr = results["prisma"]
    prisma = (f"<p>{R('prisma.queries', 'int')} logged queries of stored PubMed, PMC, journal and conference "
              f"pages returned {R('prisma.identified', 'int')} records; after removing "
              f"{R('prisma.duplicates', 'int')} duplicates, {R('prisma.screened', 'int')} were screened and "
              f"{R('prisma.reports_included', 'int')} reports included. {_e(pr['note'])}</p>"
              + _svg(manifest, figdir, "prisma"))
    # ---- evidence table
    rows = []
    for r in ev:
        ref = f"answer ref {r['answer_ref']}" if r["answer_ref"] else ""
        ids = " ".join(x for x in (f"PMID {r['pmid']}" if r["pmid"] else "", f"doi:{r['doi']}" if r["doi"] else "") if x)
        rows.append([f"<strong>{_e(r['label'])}</strong><br><span class='small'>{_e(ref)} {_e(ids)}</span>",
                     _e(r["design"].replace("_", " ")), _e(r["population"]), _e(r["setting"].replace("_", " ")),
                     _e(r["n_ivig"] if r["n_ivig"] is not None else "—")
                     + (f" / {r['n_control']}" if r["n_control"] else ""),
                     _e(r["regimen"]), _e(r["co_interventions"]), _e(r["follow_up"]),
                     f"<a href='{_e(r['source_url'])}'>{_e(r['verification'].replace('_', ' '))}</a>"])
    evidence_table = ("<p>n is IVIG / control patients. Verification is the best level at which the study "
                      "was seen; the link opens the source page.</p>"
                      + _table(["Study", "Design", "Population", "Setting", "n", "IVIG regimen",
                                "Co-interventions", "Follow-up", "Verified"], rows, numeric={4}))
    # ---- results by outcome
    blocks = []
    for o in results["outcome_order"]:
        res = outs[o]
        p = f"outcomes.{o}.primary"
        blocks.append(f"<h3>{_e(res['label'])}</h3>")
        if not res.get("primary"):
            blocks.append("<p>No study reports counts for this outcome.</p>")
            continue
        het = res["primary"]
        blocks.append(
            f"<p>Pooled proportion (primary GLMM): {pooled_sentence(o)}. Between-study variance "
            f"&tau;&sup2; = {R(p + '.tau2', 'tau2')} (logit scale); I&sup2; = {R(p + '.i2', 'i2')} as metafor "
            f"defines it (from &tau;&sup2;), {R(p + '.i2_q', 'i2')} from the Wald Q "
            f"(Q = {R(p + '.q', 'tau2')} on {het['heterogeneity']['df']} df).</p>")
        for w in het["warnings"]:
            blocks.append(f"<p class='warn'>Note: {_e(w)}</p>")
        blocks.append(_svg(manifest, figdir, f"forest_{o}"))
        if res["methods"]:
            mrows, cls = [], []
            for i, m in enumerate(res["methods"]):
                b = f"outcomes.{o}.methods.{i}"
                mrows.append([_e(m["label"]), R(b + ".estimate"), R.ci(b + ".ci_low", b + ".ci_high"),
                              R.ci(b + ".pi_low", b + ".pi_high"),
                              R(b + ".tau2", "tau2") if m["tau2"] is not None else "—",
                              R(b + ".i2", "i2") if m["i2"] is not None else "—"])
                cls.append("primary" if m["primary"] else "")
            blocks.append("<p>Every method on the same data:</p>"
                          + _table(["Method", "Pooled", "95% CI", "95% PI", "&tau;&sup2;", "I&sup2;"], mrows,
                                   numeric={1, 2, 3, 4, 5}, row_classes=cls))
    results_html = "".join(blocks)
    # ---- sensitivity
    sblocks = []
    for o in ("viremia_clearance", "graft_survival"):
        res = outs[o]
        sblocks.append(f"<h3>{_e(res['label'])}</h3>")
        srows, cls = [], []
        for i, s in enumerate(res["scenarios"]):
            b = f"outcomes.{o}.scenarios.{i}"
            if s["k"] == 0:
                srows.append([_e(s["label"]), "0", "—", "no study left", "", _e(s["note"])])
                cls.append("")
                continue
            srows.append([_e(s["label"]), R(b + ".k", "int"), R(b + ".n_patients", "int"), R(b + ".estimate"),
                          R.ci(b + ".ci_low", b + ".ci_high"), _e(s["note"])])
            cls.append("primary" if s["primary"] else "")
        sblocks.append(_table(["Scenario (GLMM)", "k", "Patients", "Pooled", "95% CI", "Note"], srows,
                              numeric={1, 2, 3, 4}, row_classes=cls))
        sblocks.append(_svg(manifest, figdir, f"sensitivity_{o}"))
        sblocks.append(_svg(manifest, figdir, f"leave_one_out_{o}"))
    sensitivity = "".join(sblocks)
    # ---- comparative
    comp = results["comparative"]
    crows = []
    for i, c in enumerate(comp["studies"]):
        b = f"comparative.studies.{i}"
        if c.get("events_1") is None:
            crows.append([_e(labels.get(c["study_id"], c["study_id"])), _e(c["outcome"]), _e(c["role"]), "—", "—",
                          "—", "—", _e(c["note"])])
            continue
        rr = (f"{R(b + '.rr', 'ratio')} ({R(b + '.rr_ci_low', 'ratio')} to {R(b + '.rr_ci_high', 'ratio')})"
              if c.get("rr") is not None else "undefined")
        rd = (f"{R(b + '.rd', 'pct')} ({R(b + '.rd_ci_low', 'pct')} to {R(b + '.rd_ci_high', 'pct')})"
              if c.get("rd") is not None else "undefined")
        crows.append([_e(labels.get(c["study_id"], c["study_id"])), _e(c["outcome"].replace("_", " ")),
                      _e(c["role"]), f"{c['events_1']}/{c['n_1']}", f"{c['events_0']}/{c['n_0']}", rr, rd,
                      _e(c["note"])])
    comparative_html = ("<p>Per-study risk ratio (RR) and risk difference (RD), IVIG versus no IVIG, with Wald "
                        "95% CIs (continuity correction 1/2 only for zero cells, as metafor).</p>"
                        + _table(["Study", "Outcome", "Role", "IVIG", "Control", "RR (95% CI)", "RD (95% CI)",
                                  "Note"], crows, numeric={3, 4, 5, 6})
                        + f"<p class='small'>{_e(comp['caveat'])}</p>")
    # ---- viral, rob
    viral = ("<p>Individual and mean viral loads as reported; the answer's own unsourced values are not "
             "plotted.</p>" + _svg(manifest, figdir, "viral_loads"))
    rob = (f"<p>Murad et al. (2018) tool {_cite(['murad2018'], refs)}: eight items in four domains, judged "
           "from what the source shows (mostly abstracts).</p>" + _svg(manifest, figdir, "risk_of_bias"))
    # ---- grade
    grows = []
    for o in results["outcome_order"]:
        g = outs[o].get("grade")
        if not g:
            continue
        b = f"outcomes.{o}.grade"
        downs = "<br>".join(f"<strong>{_e(d['domain'])}</strong> (&minus;{d['levels']}): {_e(d['reason'])}"
                            if d["levels"] else f"<strong>{_e(d['domain'])}</strong> (not downgraded): {_e(d['reason'])}"
                            for d in g["downgrades"])
        est = R(b + ".estimate") + (f" ({R.ci(b + '.ci_low', b + '.ci_high')})" if g["ci_low"] is not None else "")
        grows.append([_e(outs[o]["label"]), f"{R(b + '.k', 'int')} / {R(b + '.patients', 'int')}", est,
                      f"<strong>{_e(g['certainty'])}</strong><br><span class='small'>start: {_e(g['start'])}</span>",
                      downs])
    grade = (f"<p>GRADE {_cite(['guyatt2011'], refs)}. Ratings are proposed by the stated rules in "
             "<code>analysis/grade.py</code>; a review team confirms or changes each.</p>"
             + _table(["Outcome", "Studies / patients", "Pooled (95% CI)", "Certainty", "Reasons"], grows,
                      numeric={1, 2}))
    # ---- audit
    arows = []
    for a in audit["claims"]:
        arows.append([_e(a["claim_id"]), _e(a["claim"]), _e(a["claimed"]) or "—",
                      _e(a["reason"]) + (f"<br><span class='small'>Uncited evidence: {_e(a['uncited_evidence'])}</span>"
                                         if a["uncited_evidence"] else ""),
                      f"<span class='verdict v-{a['verdict']}'>{a['verdict'].replace('_', ' ')}</span>"
                      f"<br><span class='small'>{_e(a['basis'])}</span>"])
    audit_html = (f"<p>{n_claims} checkable claims: {A('summary.supported', 'int')} supported, "
                  f"{A('summary.partly_supported', 'int')} partly supported, {A('summary.discrepant', 'int')} "
                  f"discrepant, {A('summary.unverifiable', 'int')} unverifiable. Numeric claims are judged by "
                  "the rules in <code>analysis/audit.py</code> (a claim whose source was not found is "
                  "unverifiable, never supported); qualitative claims carry a recorded judgement.</p>"
                  + _svg(manifest, figdir, "claims_audit")
                  + _table(["#", "What the answer says (paraphrased)", "Claimed", "What the data show", "Verdict"],
                           arows))
    # ---- calibration
    if calibration is not None:
        sel = calibration.get("selection") or {}
        rule = " ".join(sel[k] for k in ("rule", "fallback_rule", "post_hoc") if sel.get(k))
        calibration_html = (f"<p>{_e(calibration['recommendation'])}</p>"
                            + (f"<p class='small'>{_e(rule)}</p>" if rule else "")
                            + f"<p class='small'>{_e(calibration['design'])}</p>"
                            + _svg(manifest, figdir, "calibration"))
    else:
        calibration_html = "<p>Run <code>make calibration</code> to add the simulation study.</p>"
    # ---- checks
    chk = results["percent_checks"]
    krows = []
    for c in chk:
        krows.append([_e(c["row_id"]), _e(c["basis"]), f"{c['percent_reported']:g}%",
                      _e(f"{c['events']}/{c['n']}" if c["events"] is not None and c["n"] is not None else "—"),
                      "yes" if c["consistent"] else "<strong>no</strong>", _e(c["reason"])])
    bad = sum(1 for c in chk if not c["consistent"])
    checks = (f"<p>Every printed percentage recomputed from its count; {bad} of {len(chk)} do not match and are "
              "flagged, not corrected (the raw data keep what the source printed).</p>"
              + _table(["Row", "Basis", "Printed", "Count", "Consistent", "Check"], krows))
    limitations = (
        "<ul><li>Full texts were not available to the search tool: most numbers are from abstracts, and per-"
        "patient data were rarely visible.</li>"
        "<li>Three of the answer's five studies were not found; two other records have no visible authors, so "
        "they carry descriptive identifiers.</li>"
        "<li>Counts rebuilt from printed percentages (flagged <code>computed_from_percent</code>) and inferred "
        "denominators are used in the primary analysis; a scenario drops them.</li>"
        "<li>Studies mix viremia-only, presumptive and biopsy-proven BKVN, adults and children, and give IVIG "
        "with other antivirals; none isolates the refractory scenario of the question.</li>"
        "<li>Single-arm proportions cannot show that IVIG caused clearance: spontaneous clearance after "
        "immunosuppression reduction is common.</li>"
        "<li>The GRADE ratings and the qualitative audit judgements are proposals by stated rules or by one "
        "extractor, not consensus judgements.</li></ul>")
    # ---- methods
    pm = results["primary_method"]
    methods = (
        f"<p>Per-study proportions are shown with exact Clopper-Pearson intervals {_cite(['clopper1934'], refs)}. "
        "The primary pooled estimate is a binomial-normal random-intercept logistic model (GLMM) fitted by "
        f"maximum likelihood with {pm['n_agq']}-node adaptive Gauss-Hermite quadrature "
        f"{_cite(['stijnen2010', 'pinheiro1995'], refs)}, as R metafor's <code>rma.glmm</code> through lme4 "
        f"{_cite(['viechtbauer2010', 'bates2015'], refs)}, because most studies are tiny and several sit at 0% or "
        "100%; it needs no continuity correction. Its 95% CI and prediction interval use "
        f"{'t quantiles with k-1 degrees of freedom' if pm['ci_method'] == 'knapp-hartung' else 'normal quantiles'}"
        f"{', the choice the calibration study supports' if pm['ci_method'] == 'knapp-hartung' else ''}. "
        "Inverse-variance common- and random-effects models on the logit, Freeman-Tukey (back-transformed "
        f"with the harmonic-mean n) {_cite(['freeman1950', 'miller1978', 'schwarzer2019'], refs)}, arcsine and "
        f"raw scales, with REML {_cite(['viechtbauer2005'], refs)}, DerSimonian-Laird "
        f"{_cite(['dersimonian1986'], refs)}, Paule-Mandel {_cite(['paule1982'], refs)} and ML estimators of "
        f"&tau;&sup2;, Wald or Knapp-Hartung {_cite(['knapp2003'], refs)} intervals and the Q-profile interval "
        f"for &tau;&sup2; {_cite(['viechtbauer2007'], refs)}, are reported alongside. I&sup2; is given both as "
        f"metafor computes it from &tau;&sup2; and from Q {_cite(['higgins2002'], refs)}; prediction intervals "
        f"follow {_cite(['riley2011'], refs)}. Comparative studies give risk ratios and differences. Risk of "
        f"bias: {_cite(['murad2018'], refs)}; certainty: GRADE {_cite(['guyatt2011'], refs)}; reporting: PRISMA "
        f"2020 {_cite(['page2021'], refs)}. The engine agrees with R metafor 3.8.1 on every shared method "
        "(tests/test_against_metafor.py).</p>")
    # ---- references
    entries = parse_bibtex(bibliography.read_text(encoding="utf-8"))
    text = bibliography.read_text(encoding="utf-8")
    study_keys = sorted(parse_bibtex(text[text.index(BLOCK_START):])) if BLOCK_START in text else []
    refs_methods = [k for k in refs if k in entries]
    missing = [k for k in refs if k not in entries]
    if missing:
        raise ValueError(f"citation keys missing from {bibliography}: {', '.join(missing)}")
    references = ("<h3>Methods</h3><ol class='refs'>"
                  + "".join(f"<li id='ref-{k}'>{_e(format_reference(k, entries[k]))}</li>" for k in refs_methods)
                  + "</ol><h3>Studies and guidelines (as extracted)</h3><ul class='refs'>"
                  + "".join(f"<li><code>{_e(k)}</code>: {_e(format_reference(k, entries[k]))}</li>" for k in study_keys)
                  + "</ul>")
    # ---- colophon
    import matplotlib
    import numpy
    import pandas
    import scipy

    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    date = _git("log", "-1", "--format=%cI")
    crows = [["commit", _e(commit) + (" (with uncommitted changes)" if dirty not in ("", "unknown") else "")],
             ["commit date", _e(date)],
             ["analysis", __version__], ["python", platform.python_version()], ["numpy", numpy.__version__],
             ["scipy", scipy.__version__], ["pandas", pandas.__version__], ["matplotlib", matplotlib.__version__]]
    crows += [[_e(path), _e(h)] for path, h in sorted(results["data_hashes"].items())]
    colophon = _table(None, crows).replace("<table>", '<table class="colophon">')
    unknown = sorted(set(refs) - {k for _, k in CITATIONS.values()})
    if unknown:
        raise ValueError(f"report cites keys not in analysis/_citations.py: {unknown}")
    page = string.Template(template.read_text(encoding="utf-8")).substitute(
        version=__version__, commit_short=_e(commit[:10]), pico=pico, bottom_line=bottom, glance=glance,
        prisma=prisma, evidence_table=evidence_table, results=results_html, sensitivity=sensitivity,
        comparative=comparative_html, viral=viral, rob=rob, grade=grade, audit=audit_html,
        calibration=calibration_html, checks=checks, limitations=limitations, methods=methods,
        references=references, colophon=colophon)
    write_text(page, out)
