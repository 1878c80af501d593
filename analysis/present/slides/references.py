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


# more pooled studies than this share one line per source (their labels joined)
MAX_STUDY_LINES = 8


def _study_lines(studies, labels: dict[str, str], bib: dict[str, Reference]) -> list[str]:
    """'Label: identifier' per pooled study (PMID, DOI, else the web site); with more than
    `MAX_STUDY_LINES` studies, one line per identifier with its studies' labels joined."""
    rows = []
    for k in sorted(studies, key=lambda k: labels.get(k, k).lower()):
        e = bib.get(k, {})
        ident = (f"PMID {e['pmid']}" if e.get("pmid") else f"doi:{e['doi']}" if e.get("doi")
                 else e.get("url", "").split("/")[2] if e.get("url", "").count("/") >= 2 else "")
        rows.append((labels.get(k, k), ident))
    if len(rows) <= MAX_STUDY_LINES:
        return [f"{lab}: {ident}" for lab, ident in rows]
    by_ident: dict[str, list[str]] = {}
    for lab, ident in rows:
        by_ident.setdefault(ident, []).append(lab)
    return [f"{', '.join(labs)}: {ident}" for ident, labs in by_ident.items()]


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
    primaries = (results.get("question") or {}).get("primary_outcomes") or results["outcome_order"]
    studies = sorted({d["study_id"] for o in primaries if o in outs for d in outs[o]["dataset"]})
    labels = {r["study_id"]: r["label"] for r in results["evidence_table"]}
    gap = 0.5
    left_w = 6.3
    right_w = width - left_w - gap
    # studies: label and the shortest stable identifier (PMID, DOI, else the web site)
    _text(fig, MARGIN, y, "Studies pooled", TEXT_PT, fontweight="bold", va="top")
    yy = y - _line(TEXT_PT) - 0.05
    for entry in _study_lines(studies, labels, bib):
        wl = _wrap(fig, entry, left_w, size)
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


def _footer_keys(name: str) -> list[str]:
    """A slide's citation keys: its own entry, else by kind (any forest or comparative slide)."""
    if name in FOOTER_KEYS:
        return FOOTER_KEYS[name]
    for prefix, keys in (("forest_", ["stijnen2010", "clopper1934"]), ("comparative_", ["newcombe1998"])):
        if name.startswith(prefix):
            return keys
    return []


def _footer_places(results: dict, bib_path: Path) -> dict[str, str]:
    """The folders a footer names: the package's derived folder and the bibliography's,
    relative to the repository (``data/derived/``, ``report/`` for the main package)."""
    pkg = str((results.get("package") or {}).get("descriptor", "data/datapackage.json"))
    repo = Path(__file__).resolve().parents[3]
    try:
        bib_dir = bib_path.resolve().parent.relative_to(repo).as_posix() + "/"
    except ValueError:
        bib_dir = ""
    folder = Path(pkg).parent
    if folder.is_absolute():  # a package outside the repository: its folder's name is enough
        folder = Path(folder.name)
    return {"derived": f"{folder.as_posix()}/derived/", "bib_dir": bib_dir}


def _footer(spec: dict, bib: dict[str, Reference], made_by: str = "evsynth", *,
            derived: str = "data/derived/", bib_dir: str = "report/") -> str:
    """'Source: PRODUCER VERSION, data/derived/results.json, ...; citations' (each folder
    named once: the package's derived folder for JSON, the bibliography's folder)."""
    files, seen = [], set()
    for s in spec["sources"]:
        folder = derived if s.endswith(".json") else bib_dir if s.endswith(".bib") else ""
        files.append(s if folder in seen else folder + s)
        seen.add(folder)
    cites = [_short_cite(k, bib[k]) for k in _footer_keys(spec["name"]) if k in bib]
    text = f"Source: {made_by} {__version__}, {', '.join(files)}"
    return text + ("; " + "; ".join(cites) if cites else "")
