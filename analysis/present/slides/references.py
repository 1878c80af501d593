"""Citations on the slides: the references slide and each slide's source footer."""

from __future__ import annotations

from pathlib import Path

from ..._version import __version__
from ..citation import Reference, _cff_citation
from ._layout import MARGIN, SLIDE_H, SLIDE_W, TEXT_PT, TOP_BAND, _line, _text, _wrap

# Citation keys (report/references.bib) named in each slide's footer.
FOOTER_KEYS = {
    "title": [], "evidence": ["page2021"], "forest_viremia_clearance": ["stijnen2010", "clopper1934"],
    "forest_graft_survival": ["stijnen2010", "clopper1934"],
    "comparative_viremia_clearance": ["newcombe1998", "sterne2019"],
    "comparative_graft_loss": ["newcombe1998", "sterne2016"],
    "sensitivity": ["stijnen2010", "viechtbauer2010"],
    "claims_audit": [], "grade": ["guyatt2011", "murad2018"], "bottom_line": ["guyatt2011"],
    "references": [],
}
# Methods cited on the references slide, with what each is cited for.
METHOD_REFERENCES = {"stijnen2010": "GLMM", "clopper1934": "Exact CIs", "viechtbauer2010": "metafor",
                     "murad2018": "Risk of bias", "guyatt2011": "GRADE", "page2021": "PRISMA 2020"}


def _short_cite(key: str, entry: Reference) -> str:
    """'Stijnen et al. 2010' from a BibTeX entry."""
    surname, year = entry.surnames, entry.get("year", "n.d.")
    if not surname:
        return f"{key} {year}"
    if len(surname) == 1 and not entry.et_al:
        return f"{surname[0]} {year}"
    if len(surname) == 2 and not entry.et_al:
        return f"{surname[0]} & {surname[1]} {year}"
    return f"{surname[0]} et al. {year}"


def _slide_references(fig, results: dict, bib: dict[str, Reference], cff_path: Path) -> None:
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


def _footer(spec: dict, bib: dict[str, Reference]) -> str:
    files, seen = [], set()
    for s in spec["sources"]:
        folder = "data/derived/" if s.endswith(".json") else "report/" if s.endswith(".bib") else ""
        files.append(s if folder in seen else folder + s)
        seen.add(folder)
    cites = [_short_cite(k, bib[k]) for k in FOOTER_KEYS.get(spec["name"], []) if k in bib]
    text = f"Source: bkvn-ivig-evidence {__version__}, {', '.join(files)}"
    return text + ("; " + "; ".join(cites) if cites else "")
