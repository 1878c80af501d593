"""Render ``report/report.html`` from the derived results with Jinja2: formats, adds nothing.

The templates (``report/templates/``) hold the static prose and the layout of every
section and table; computed sentences come from `analysis.present.narrative`, shared
with the slides and captions. Every number printed from a derived document is wrapped as
``<span class="num" data-key="results:dotted.path" data-fmt="pct">73.7%</span>``, so a
test can look each one up in ``data/derived`` and check the printed text. Figures are
inlined as SVG, so the file opens offline; nothing depends on the time of the build (the
colophon gives the commit and its date).
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

from .._version import __version__
from ..review.io import write_text
from . import narrative, narrative_methods
from .citation import format_reference, load_bibliography
from .narrative import FORMATS, HtmlNumbers, lookup

__all__ = ["FORMATS", "lookup", "render_report"]

REPO = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=REPO).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class _Citer:
    """Numbered citations in order of first use: ``cite(["stijnen2010"])`` -> '[3]'."""

    def __init__(self):
        self.order: list[str] = []

    def __call__(self, *keys: str) -> str:
        nums = []
        for k in keys:
            if k not in self.order:
                self.order.append(k)
            nums.append(self.order.index(k) + 1)
        links = ", ".join(f'<a href="#ref-{self.order[n - 1]}">{n}</a>' for n in sorted(set(nums)))
        return f"[{links}]"


FIGURE_KINDS = {"forest_": "Forest plot", "comparative_": "Forest plot of risk ratios",
                "sensitivity_": "Dot-and-interval plot of pooled estimates",
                "leave_one_out_": "Leave-one-out plot", "tau_posterior_": "Density plot",
                "prisma": "Flow diagram", "evidence_map": "Bubble chart",
                "risk_of_bias": "Traffic-light chart", "claims_audit": "Bar chart",
                "viral_loads": "Line chart", "calibration": "Dot chart of simulated coverage"}


def figure_alt(name: str, title: str) -> str:
    """Alt text of a figure: the kind of graphic and what it shows (its title)."""
    kind = next((k for prefix, k in FIGURE_KINDS.items() if name.startswith(prefix)), "Figure")
    return f"{kind}: {title}"


def _figures(manifest: dict, figdir: Path):
    entries = {f["name"]: f for f in manifest["figures"]}

    def svg(name: str) -> dict | None:
        entry = entries.get(name)
        if entry is None:
            return None
        text = (figdir / f"{name}.svg").read_text(encoding="utf-8")
        text = text[text.index("<svg"):]
        alt = figure_alt(name, entry["title"])
        # inline SVG has no alt attribute: role="img" with aria-label is its equivalent
        text = text.replace("<svg", f'<svg role="img" aria-label="{narrative.escape(alt)}"', 1)
        return {"name": name, "svg": text, "title": entry["title"], "caption": entry["caption"], "alt": alt}

    return svg


def _environment(template_dir: Path):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters["design"] = narrative.design_word
    env.filters["words"] = lambda s: "" if s is None else str(s).replace("_", " ")
    return env


def _references(bibliography: Path, cited: list[str]) -> dict[str, list]:
    bib = load_bibliography(bibliography)
    entries = bib.entries
    missing = [k for k in cited if k not in entries]
    if missing:
        raise ValueError(f"citation keys missing from {bibliography}: {', '.join(missing)}")
    return {"methods": [(k, format_reference(k, entries[k])) for k in cited],
            "studies": [(k, format_reference(k, entries[k])) for k in bib.study_keys]}


def _colophon(results: dict) -> list[tuple[str, str]]:
    # the installed versions, from the package metadata (importing the packages to read
    # __version__ would cost the report step half a second)
    from importlib.metadata import version

    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    rows = [("commit", commit + (" (with uncommitted changes)" if dirty not in ("", "unknown") else "")),
            ("commit date", _git("log", "-1", "--format=%cI")),
            ("analysis", __version__), ("python", platform.python_version()),
            *((name, version(name)) for name in ("numpy", "scipy", "pandas", "matplotlib"))]
    return rows + sorted(results["data_hashes"].items())


def omitted_sections(results: dict, audit: dict | None) -> dict[str, str]:
    """Section id -> why the report leaves it out: the data package or the question does
    not have what the section shows (a second question need not have every table)."""
    q = results.get("question") or {}
    comp = results.get("comparative") or {}
    rob = results.get("risk_of_bias") or {}
    out = {}
    if not q.get("comparator"):
        out["comparative"] = "the question names no comparator: every study is single-arm"
    elif not (comp.get("outcomes") or comp.get("hazard_ratios") or comp.get("other")):
        out["comparative"] = "no study has a comparison arm"
    if not results.get("outcome_order"):
        out["response"] = "the analysis plan has no single-arm primary pool"
    if not results.get("subgroups"):
        out["subgroups"] = "the analysis plan keeps no subgroup apart"
    if not results.get("prisma"):
        out["prisma"] = "no search is logged: no search_log or screening table"
    if not results.get("viral_loads"):
        out["viral"] = "no viral-load table"
    if not any(rob.get(t) for t in rob.get("tools", {})):
        out["rob"] = "no risk-of-bias table"
    if not results.get("certainty"):
        out["grade"] = "no risk-of-bias and publication-bias judgements to rate certainty from"
    if not (audit or {}).get("claims"):
        out["audit"] = "no written answer is appraised: no claims table"
    if not results.get("percent_checks"):
        out["checks"] = "no source prints a percentage beside its count"
    if not results.get("prisma_checklist"):
        out["prisma-checklist"] = "no checklist table"
    return out


def render_report(*, results: dict, audit: dict, manifest: dict, template: Path, bibliography: Path,
                  out: Path, figdir: Path, calibration: dict | None = None,
                  decision: dict | None = None) -> None:
    """Render ``template`` (a Jinja2 file; its folder is the template search path) to ``out``,
    atomically. The page names the package's folders as the results record them
    (``data/`` for the main package), whatever folder this build writes to."""
    from markupsafe import Markup

    from .figures import producer

    R = HtmlNumbers(results, "results")
    A = HtmlNumbers(audit, "audit")
    C = HtmlNumbers(calibration, "calibration") if calibration is not None else None
    cite = _Citer()
    question = results["question"]
    words = question.get("report") or {}
    package = str((results.get("package") or {}).get("descriptor", "data/datapackage.json"))
    pkgdir = package.rsplit("/", 1)[0] if "/" in package else "."

    def markup(fn):
        return lambda *a, **k: Markup(fn(*a, **k))

    env = _environment(template.parent)
    ctx: dict[str, Any] = {
        "results": results, "audit": audit, "calibration": calibration, "q": question,
        "decision": decision,
        "primary_phrase": narrative_methods.primary_method_phrase(results["primary_method"]),
        "selection": narrative_methods.selection_sentences(decision, calibration),
        "version": __version__, "commit_short": _git("rev-parse", "HEAD")[:10],
        "R": markup(R), "Rci": markup(R.ci), "A": markup(A), "C": markup(C) if C else None,
        "cite": markup(cite), "svg": _figures(manifest, figdir),
        "labels": {r["study_id"]: r["label"] for r in results["evidence_table"]},
        "bottom_line": [Markup(p) for p in narrative.bottom_line(R, A, results, audit, question)],
        "pooled_sentence": markup(lambda o: narrative.pooled_sentence(R, results, o)),
        "heterogeneity_sentence": markup(lambda o: narrative_methods.heterogeneity_sentence(R, results, o)),
        "response_sentence": markup(lambda o: narrative.response_sentence(R, results, o)),
        "glance": narrative.glance_sentence(results),
        "prisma_sentence": Markup(narrative.prisma_sentence(R, results)) if results.get("prisma") else "",
        "certainty": lambda o: narrative.certainty(results, o),
        "colophon": _colophon(results),
        "omitted": omitted_sections(results, audit), "producer": producer(results), "words": words,
        "build_command": words.get("build_command", "make report"), "pkgdir": pkgdir,
        "derived": f"{pkgdir}/derived",
    }
    page = env.get_template(template.name).render(**ctx)
    # the references are known only once every section has cited what it uses
    refs = _references(bibliography, cite.order)
    page = page.replace("<!--REFERENCES-->", env.get_template("_references.html.j2").render(refs=refs))
    write_text(page, out)
