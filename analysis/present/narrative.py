"""Every computed sentence the reader sees, written once.

The report, the slides and the figure captions call these functions; none of them types
a number, a verdict or a certainty word by hand. Each function takes a *numbers*
object that formats a value found at a dotted path of a derived JSON document:

* `HtmlNumbers` wraps each number as ``<span class="num" data-key=... data-fmt=...>``
  so a test can trace every printed number back to ``data/derived``;
* `TextNumbers` gives the same text without markup (slides, captions, the terminal).

So one sentence has one wording, whatever the medium.
"""

from __future__ import annotations

import html
from typing import Any

from .narrative_methods import interval_names

FORMATS = {
    "pct": lambda v: f"{100 * v:.1f}%",
    "pct0": lambda v: f"{100 * v:.0f}%",
    "i2": lambda v: f"{v:.1f}%",
    "tau2": lambda v: f"{v:.3f}",
    "int": lambda v: f"{int(v)}",
    "ratio": lambda v: f"{v:.2f}",
    "num": lambda v: f"{v:g}",
    "per1000": lambda v: f"{1000 * v:+.0f}",
    "n1000": lambda v: f"{v:.0f}",
    "p": lambda v: "<0.001" if v < 0.001 else f"{v:.3f}",
}


def lookup(obj: Any, key: str) -> Any:
    """Value at a dotted path (list indices as integers) of a JSON document."""
    for part in key.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def escape(x: Any) -> str:
    """HTML-escaped text ('' for None)."""
    return html.escape("" if x is None else str(x))


class TextNumbers:
    """Plain-text numbers from one JSON document."""

    html = False

    def __init__(self, doc: dict, prefix: str = ""):
        self.doc = doc
        self.prefix = prefix

    def value(self, key: str) -> Any:
        return lookup(self.doc, key)

    def _wrap(self, key: str, fmt: str, text: str) -> str:
        return text

    def __call__(self, key: str, fmt: str = "pct") -> str:
        value = lookup(self.doc, key)
        if value is None:
            return "n/a"
        return self._wrap(key, fmt, FORMATS[fmt](value))

    def ci(self, key_lo: str, key_hi: str, fmt: str = "pct") -> str:
        """'a to b', or 'n/a' when the interval does not exist."""
        if lookup(self.doc, key_lo) is None or lookup(self.doc, key_hi) is None:
            return "n/a"
        return f"{self(key_lo, fmt)} to {self(key_hi, fmt)}"

    def text(self, s: Any) -> str:
        return "" if s is None else str(s)

    def strong(self, s: str) -> str:
        return s


class HtmlNumbers(TextNumbers):
    """Numbers wrapped in traceable spans; free text escaped."""

    html = True

    def _wrap(self, key: str, fmt: str, text: str) -> str:
        return f'<span class="num" data-key="{self.prefix}:{key}" data-fmt="{fmt}">{escape(text)}</span>'

    def __call__(self, key: str, fmt: str = "pct") -> str:
        if lookup(self.doc, key) is None:
            return '<span class="num na">n/a</span>'
        return super().__call__(key, fmt)

    def text(self, s: Any) -> str:
        return escape(s)

    def strong(self, s: str) -> str:
        return f"<strong>{s}</strong>"


# --------------------------------------------------------------------------- pieces


def design_word(design: str) -> str:
    """'rct' -> 'RCT', 'case_series' -> 'case series'."""
    return {"rct": "RCT"}.get(design, design.replace("_", " "))


def patients(n: int) -> str:
    """'1 patient', '5 patients'."""
    return f"{n} patient" if n == 1 else f"{n} patients"


def studies_word(k: int) -> str:
    return f"{k} study" if k == 1 else f"{k} studies"


def not_found_references(results: dict) -> list[dict]:
    """The answer's cited studies (not guidelines) that no source showed, by reference number."""
    return sorted((r for r in results["evidence_table"]
                   if r["verification"] == "not_found" and r["answer_ref"] and r["role"] != "guideline"),
                  key=lambda r: r["answer_ref"])


def not_found_guidelines(results: dict) -> list[dict]:
    return sorted((r for r in results["evidence_table"]
                   if r["verification"] == "not_found" and r["answer_ref"] and r["role"] == "guideline"),
                  key=lambda r: r["answer_ref"])


def not_found_list(results: dict) -> str:
    """'3 (2015), 6 (2006) and 7 (2014)': the answer's references not found."""
    items = [f"{r['answer_ref']} ({r['year'] if r['year'] else 'n.d.'})" for r in not_found_references(results)]
    return join_and(items)


def join_and(items: list[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def certainty(results: dict, outcome: str) -> str:
    """The GRADE certainty word of an outcome ('very low', ...), or 'not rated'."""
    g = results["outcomes"].get(outcome, {}).get("grade")
    return g["certainty"] if g else "not rated"


def study_counts(results: dict) -> dict[str, int]:
    """Study reports by design (guidelines apart)."""
    designs: dict[str, int] = {}
    for r in results["evidence_table"]:
        if r["role"] != "guideline":
            designs[r["design"]] = designs.get(r["design"], 0) + 1
    return dict(sorted(designs.items()))


# --------------------------------------------------------------------------- sentences


def pooled_sentence(N: TextNumbers, results: dict, outcome: str) -> str:
    """'73.7% (95% CI 58.9% to 84.5%; 6 studies, 76 patients)' or why there is no pool."""
    res = results["outcomes"][outcome]
    if not res.get("primary"):
        return f"not estimable (no study reports counts for {res['label'].lower()})"
    p = f"outcomes.{outcome}.primary"
    c = f"outcomes.{outcome}.crude"
    if res["primary"]["ci_low"] is None:
        return (f"{N(c + '.events', 'int')} of {N(c + '.n', 'int')} patients in {N(p + '.k', 'int')} studies "
                f"(exact 95% CI of the summed counts {N.ci(c + '.ci_low', c + '.ci_high')}, which ignores "
                "between-study differences)")
    ci_word, pi_word = interval_names((res["primary"].get("methods") or {}).get(
        "model", results["primary_method"]["model"]))
    pi = (f"; 95% {pi_word} {N.ci(p + '.pi_low', p + '.pi_high')}"
          if res["primary"]["pi_low"] is not None else "")
    k, n = res["primary"]["k"], res["crude"]["n"]
    return (f"{N(p + '.estimate')} (95% {ci_word} {N.ci(p + '.ci_low', p + '.ci_high')}{pi}; "
            f"{N(p + '.k', 'int')} {'study' if k == 1 else 'studies'}, "
            f"{N(c + '.n', 'int')} {'patient' if n == 1 else 'patients'})")


def _outcome_word(results: dict, outcome: str) -> str:
    q = results.get("question") or {}
    spec = (q.get("outcomes") or {}).get(outcome)
    return spec["short"] if spec else outcome.replace("_", " ")


def study_effect_phrase(N: TextNumbers, base: str, s: dict, question: dict) -> str:
    """'He 2023 (RCT): 2/5 with IVIG versus 4/9 with no IVIG, RR 0.90 (0.25 to 3.30)'."""
    iv, cmp_ = question["intervention"]["name"], question["comparator"]["name"]
    rr = ""
    if s.get("rr") is not None:
        rr = f", RR {N(base + '.rr', 'ratio')} ({N.ci(base + '.rr_ci_low', base + '.rr_ci_high', 'ratio')})"
    elif s.get("rd") is not None:
        rr = f", RD {N(base + '.rd', 'pct')} ({N.ci(base + '.rd_ci_low', base + '.rd_ci_high', 'pct')})"
    return (f"{N.text(s['label'])} ({N.text(design_word(s['design']))}): "
            f"{N(base + '.events_1', 'int')}/{N(base + '.n_1', 'int')} with {iv} "
            f"versus {N(base + '.events_0', 'int')}/{N(base + '.n_0', 'int')} with {cmp_}{rr}")


def question_outcomes(question: dict) -> list[str]:
    """The primary outcomes and the outcomes they are derived from (graft loss for graft
    survival), in the question file's order."""
    outs = question.get("outcomes") or {}
    keep = set(question["primary_outcomes"]) | {v.get("derived_from") for v in outs.values() if v.get("primary")}
    return [o for o in outs if o in keep] or list(question["primary_outcomes"])


def comparison_sentence(N: TextNumbers, results: dict, question: dict) -> str:
    """The comparative evidence of the primary outcomes, pooled within a design or study by study."""
    parts = []
    comp = results["comparative"]["outcomes"]
    for o in question_outcomes(question):
        for i, c in enumerate(comp.get(o, [])):
            if not c["studies"]:
                continue
            base = f"comparative.outcomes.{o}.{i}"
            who = f"{_outcome_word(results, o)} ({N.text(c['set_label'])})"
            head = c["pooled"][0]["id"] if c["pooled"] else None
            bits = []
            for j, pr in enumerate(c["pooled"]):
                if pr["id"] != head or pr["estimate"] is None:
                    continue
                pb = f"{base}.pooled.{j}"
                bits.append(f"{len(pr['studies'])} {pr['design_group']} studies pooled, {N.text(pr['label'])} "
                            f"{N(pb + '.estimate', 'ratio')} ({N.ci(pb + '.ci_low', pb + '.ci_high', 'ratio')})")
            pooled_groups = {pr["design_group"] for pr in c["pooled"] if pr["estimate"] is not None}
            bits += [study_effect_phrase(N, f"{base}.studies.{j}", s, question)
                     for j, s in enumerate(c["studies"]) if s["design_group"] not in pooled_groups]
            parts.append(f"{who}: " + "; ".join(bits))
    return "; ".join(parts) if parts else "none were found"


def reported_without_counts(N: TextNumbers, results: dict, question: dict) -> list[str]:
    """What comparative reports of the question's outcomes state without counts (one per
    report: the intervention arm's row), e.g. a long-term report's P value."""
    out, seen = [], set()
    comp = results["comparative"]["outcomes"]
    for o in question_outcomes(question):
        for c in comp.get(o, []):
            for n in c["narrative"]:
                if n["row_use"] != "narrative" or not n["note"] or n["study_id"] in seen:
                    continue
                if n.get("arm_id") != question["intervention"].get("arm_treatment"):
                    continue
                seen.add(n["study_id"])
                out.append(f"{N.text(n['label'])} ({_outcome_word(results, o)}, no counts printed): "
                           f"{N.text(n['note'].rstrip('.'))}")
    return out


def bayes_phrase(N: TextNumbers, results: dict, base: str, row: dict) -> str:
    """'Bayesian posterior median 70.1% (95% CrI 35.0% to 90.2%; half-normal(0.5) prior on tau)'."""
    prior = row.get("prior") or row["label"]
    return (f"Bayesian posterior median {N(base + '.estimate')} (95% credible interval "
            f"{N.ci(base + '.ci_low', base + '.ci_high')}; prior: {N.text(prior)})")


def response_sentence(N: TextNumbers, results: dict, outcome: str) -> str:
    """Single-arm response in the plan's primary population: pooled, or studies and Bayes."""
    res = results["outcomes"][outcome]
    o = f"outcomes.{outcome}"
    if res["primary"] is not None:
        text = pooled_sentence(N, results, outcome)
        if res.get("bayes"):
            text += "; " + bayes_phrase(N, results, f"{o}.bayes.0", res["bayes"][0])
        return text
    if not res["dataset"]:
        return "no study of the primary population reports counts"
    studies = ", ".join(f"{N.text(d['label'])} {N(f'{o}.dataset.{j}.events', 'int')}/"
                        f"{N(f'{o}.dataset.{j}.n', 'int')}" for j, d in enumerate(res["dataset"]))
    text = f"not pooled ({N.text(res['not_pooled_reason'])}): {studies}"
    if res.get("bayes"):
        text += "; " + bayes_phrase(N, results, f"{o}.bayes.0", res["bayes"][0])
    return text


def audit_sentence(A: TextNumbers, audit: dict, results: dict) -> str:
    """'Of the AI answer's 48 checkable claims, 14 are supported, ...'."""
    summ = audit["summary"]
    n_claims = sum(summ.values())
    missing = not_found_list(results)
    unverified = [f"{A(f'claims.{i}.claimed_value', 'num')}%" for i, a in enumerate(audit["claims"])
                  if a["quantity"] == "percent" and a["verdict"] == "unverifiable"]
    text = (f"Of the AI answer's {n_claims} checkable claims, {A('summary.supported', 'int')} are supported, "
            f"{A('summary.partly_supported', 'int')} partly supported, {A('summary.discrepant', 'int')} "
            f"discrepant and {A('summary.unverifiable', 'int')} could not be verified")
    if missing:
        text += (f", chiefly because the studies it cites as references {missing} were not found in any "
                 "available source")
        if unverified:
            text += f"; so its headline percentages ({join_and(unverified)}) remain unverified"
    return text + "."


def verdict_sentence(results: dict, question: dict) -> str:
    """The closing verdict: the question file's ``[report] verdict`` with ``{intervention}``
    and ``{certainty}`` filled in, the certainty words the bottom-line phrase of the GRADE
    ratings (every rating of the treatment question, single-arm and comparative). Without
    a verdict in the question file: the certainty alone, or nothing when none is rated."""
    phrase = ((results.get("certainty") or {}).get("bottom_line") or {}).get("phrase")
    template = (question.get("report") or {}).get("verdict")
    iv = question["intervention"]["name"]
    if template and (phrase or "{certainty}" not in template):  # a verdict on certainty needs a rating
        return template.replace("{intervention}", iv).replace("{certainty}", phrase or "")
    if phrase:
        return f"The evidence on {iv} is of {phrase}."
    return ""


def bottom_line(N: TextNumbers, A: TextNumbers | None, results: dict, audit: dict | None,
                question: dict) -> list[str]:
    """The bottom-line paragraphs (report box, slides, handout): the comparison first."""
    iv = question["intervention"]["name"]
    paras = []
    if question.get("comparator"):  # a single-arm question has no comparison to lead with
        paras.append(f"Compared with {question['comparator']['name']}: {comparison_sentence(N, results, question)}.")
        extra = reported_without_counts(N, results, question)
        if extra:
            paras[0] += " Reported without counts: " + "; ".join(extra) + "."
    first = []
    for o in question["primary_outcomes"]:
        if o not in results["outcomes"]:
            continue
        word = certainty(results, o)
        first.append(f"{_outcome_word(results, o)}: {response_sentence(N, results, o)} "
                     f"({word if word == 'not rated' else word + ' certainty'})")
    if first:
        pop = next((results["outcomes"][o]["population_label"] for o in question["primary_outcomes"]
                    if o in results["outcomes"]), "")
        paras.append(f"Response with {iv}, no comparison ({N.text(pop)}): " + "; ".join(first) + ".")
    if audit is not None and A is not None and audit.get("claims"):
        paras.append(audit_sentence(A, audit, results))
    verdict = verdict_sentence(results, question)
    return paras + ([verdict] if verdict else [])


def glance_sentence(results: dict) -> str:
    ev = results["evidence_table"]
    found = [r for r in ev if r["role"] != "guideline" and r["verification"] != "not_found"]
    n_guides = len([r for r in ev if r["role"] == "guideline" and r["verification"] != "not_found"])
    designs: dict[str, int] = {}
    for r in found:
        designs[r["design"]] = designs.get(r["design"], 0) + 1
    listed = ", ".join(f"{v} {design_word(k)}" for k, v in sorted(designs.items()))
    if not results.get("prisma"):  # no search of its own: the studies came from a published source
        return f"{len(found)} study reports in the data package: {listed}."
    text = (f"{len(found)} study reports found and read, and {n_guides} guideline"
            f"{'' if n_guides == 1 else 's'}: {listed}.")
    missing = [f"answer ref {r['answer_ref']} ({r['year'] if r['year'] else 'n.d.'})"
               for r in (*not_found_references(results), *not_found_guidelines(results))]
    if missing:
        text += f" Not found in any available source: {join_and(missing)}."
    return text


def prisma_sentence(N: TextNumbers, results: dict) -> str:
    return (f"{N('prisma.queries', 'int')} logged queries of stored PubMed, PMC, journal and conference "
            f"pages returned {N('prisma.identified', 'int')} records; after removing "
            f"{N('prisma.duplicates', 'int')} duplicates, {N('prisma.screened', 'int')} were screened and "
            f"{N('prisma.reports_included', 'int')} reports included. {N.text(results['prisma']['note'])}")


def forest_caption(results: dict, outcome: str) -> str:
    """Caption of an outcome's forest plot (plain text)."""
    N = TextNumbers(results)
    return f"Pooled: {pooled_sentence(N, results, outcome)}."
