"""The report in a real browser (headless Chromium), and the PDF handout printed from it.

The page is rendered from data/derived by the pipeline's own ``report`` step (into
build/browser/, so it is the current template and code); without data/derived the whole
pipeline is built first in a temporary folder. Chromium is driven through the DevTools
protocol (`analysis.present.browser`). Screenshots of the full page at a phone width
(390 px) and a laptop width (1366 px) are saved as build/browser/report-<width>.png for
a person to look at. The tests are skipped, with the reason, only if no Chromium exists.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from conftest import ROOT

from analysis.cli import main
from analysis.present.browser import BrowserUnavailable, Chromium, find_chromium
from analysis.present.narrative import TextNumbers, bottom_line

OUT = ROOT / "build" / "browser"
WIDTHS = (390, 1366)
DERIVED = ROOT / "data" / "derived"
FIGURES = ROOT / "figures"


def _report_step(d, figs, out) -> list[str]:
    return ["report", "--results", f"{d}/results.json", "--audit", f"{d}/claims_audit.json",
            "--calibration", f"{d}/calibration.json", "--manifest", f"{figs}/manifest.json",
            "--extra-manifest", f"{figs}/outcome_manifest.json", "--extra-manifest",
            f"{figs}/calibration_manifest.json", "--template", str(ROOT / "report" / "templates" / "report.html.j2"),
            "--bib", str(ROOT / "report" / "references.bib"), "--out", str(out)]


def _build_everything(d) -> None:
    """The make pipeline in a temporary folder (calibration with 40 replicates, for speed)."""
    desc = str(ROOT / "data" / "datapackage.json")
    for step in (["analyze", "--in", desc, "--out", f"{d}/results.json"],
                 ["audit", "--in", desc, "--results", f"{d}/results.json", "--out", f"{d}/claims_audit.json"],
                 ["design", "--in", desc, "--out", f"{d}/calibration_design.json"],
                 ["calibrate", "--design", f"{d}/calibration_design.json", "--replicates", "40",
                  "--out", f"{d}/calibration.json"],
                 *(["figures", "--only", only, "--results", f"{d}/results.json", "--audit",
                    f"{d}/claims_audit.json", "--calibration", f"{d}/calibration.json", "--outdir", f"{d}/figures",
                    "--manifest", f"{d}/figures/{name}.json"]
                   for only, name in (("evidence", "manifest"), ("outcomes", "outcome_manifest"),
                                      ("calibration", "calibration_manifest")))):
        assert main(step) == 0, step


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """(report HTML, results JSON) rendered by the current code into build/browser/."""
    if find_chromium() is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    pytest.importorskip("websocket", reason="websocket-client is not installed (requirements.lock)")
    OUT.mkdir(parents=True, exist_ok=True)
    html = OUT / "report.html"
    inputs = ["results.json", "claims_audit.json", "calibration.json"]
    if all((DERIVED / f).is_file() for f in inputs) and (FIGURES / "calibration_manifest.json").is_file():
        d, figs = DERIVED, FIGURES
    else:
        d = tmp_path_factory.mktemp("pipeline")
        _build_everything(d)
        figs = d / "figures"
    assert main(_report_step(d, figs, html)) == 0
    return html, json.loads((d / "results.json").read_text(encoding="utf-8"))


PAGE_FACTS = """(() => {
  const text = e => (e ? e.textContent.replace(/\\s+/g, ' ').trim() : '');
  const graphic = f => f.querySelector('img, svg');
  return {
    scrollWidth: document.documentElement.scrollWidth,
    images: [...document.images].map(i => ({src: i.currentSrc.slice(0, 80), ok: i.complete && i.naturalWidth > 0})),
    anchors: [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href')).filter(
      h => !document.getElementById(decodeURIComponent(h.slice(1)))),
    figures: [...document.querySelectorAll('figure')].map(f => { const g = graphic(f); return {
      id: f.id, kind: g ? g.tagName.toLowerCase() : null, role: g ? g.getAttribute('role') : null,
      alt: g ? (g.tagName === 'IMG' ? g.getAttribute('alt') : g.getAttribute('aria-label')) : null,
      title: text(f.querySelector('figcaption strong')).replace(/\\.$/, ''),
      width: g ? g.getBoundingClientRect().width : 0}; }),
    tables: [...document.querySelectorAll('table')].map(t => ({
      start: text(t).slice(0, 40), headers: t.querySelectorAll('th').length,
      emptyHeaders: [...t.querySelectorAll('th')].filter(h => !text(h)).length,
      firstRowHeader: [...t.rows].every(r => r.cells[0] && r.cells[0].tagName === 'TH') ||
                      !!t.querySelector('thead th')})),
  };
})()"""

TOC_CHECK = """(async () => {
  const out = [];
  for (const a of document.querySelectorAll('nav a[href^="#"]')) {
    const id = a.getAttribute('href').slice(1), target = document.getElementById(id);
    a.click();
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const top = target ? target.getBoundingClientRect().top : null;
    const atEnd = window.scrollY + innerHeight >= document.documentElement.scrollHeight - 1;
    const h2 = target ? target.querySelector('h2') : null;
    out.push({link: a.textContent.trim(), id, tag: target ? target.tagName : null,
              heading: h2 ? h2.textContent.replace(/^\\d+\\.\\s*/, '').trim() : null,
              reached: top !== null && (Math.abs(top) <= 1 || (top > 0 && atEnd))});
  }
  window.scrollTo(0, 0);
  return out;
})()"""


@pytest.fixture(scope="module")
def pages(report):
    """Facts about the page at each width, from one browser; saves a screenshot per width."""
    html, _ = report
    facts = {}
    try:
        with Chromium() as browser:
            for width in WIDTHS:
                browser.open(html, width=width, height=900, mobile=width < 600)
                browser.evaluate("document.fonts.ready.then(() => true)")
                f = browser.evaluate(PAGE_FACTS)
                f["toc"] = browser.evaluate(TOC_CHECK)
                f["errors"] = browser.errors()
                (OUT / f"report-{width}.png").write_bytes(browser.screenshot(full_page=True))
                facts[width] = f
    except BrowserUnavailable as exc:  # pragma: no cover - a broken Chromium install
        pytest.skip(str(exc))
    return facts


@pytest.mark.parametrize("width", WIDTHS)
def test_no_console_errors_or_failed_loads(pages, width):
    assert pages[width]["errors"] == []


def test_every_image_is_decoded(pages):
    assert all(i["ok"] for i in pages[1366]["images"]), pages[1366]["images"]


def test_every_figure_is_drawn(pages):
    figs = pages[1366]["figures"]
    assert len(figs) >= 10
    assert all(f["width"] > 100 for f in figs), [f["id"] for f in figs if f["width"] <= 100]


def test_every_in_page_anchor_resolves(pages):
    assert pages[1366]["anchors"] == []


@pytest.mark.parametrize("width", WIDTHS)
def test_every_contents_entry_reaches_its_section(pages, width):
    toc = pages[width]["toc"]
    assert len(toc) >= 15
    for entry in toc:
        assert entry["tag"] == "SECTION", entry
        assert entry["reached"], entry
        # the entry names its section: the heading starts with the entry's first two words
        assert entry["heading"].lower().startswith(" ".join(entry["link"].lower().split()[:2])), entry


@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_overflow(pages, width):
    assert pages[width]["scrollWidth"] <= width
    assert (OUT / f"report-{width}.png").stat().st_size > 10_000


# graphic kinds an alt text may start with (analysis.present.report.FIGURE_KINDS, and "Figure")
KIND_WORDS = ("plot", "diagram", "chart", "map", "figure")


def test_every_figure_has_an_alt_text_naming_what_it_shows(pages):
    for f in pages[1366]["figures"]:
        assert f["kind"] in ("img", "svg"), f
        if f["kind"] == "svg":
            assert f["role"] == "img", f  # so assistive technology reads the label as alt text
        alt = (f["alt"] or "").strip()
        assert alt, f
        kind, _, shows = alt.partition(": ")
        assert any(w in kind.lower() for w in KIND_WORDS), alt
        assert shows == f["title"], (alt, f["title"])


def test_every_data_table_has_header_cells(pages):
    tables = pages[1366]["tables"]
    assert len(tables) >= 10
    for t in tables:
        assert t["headers"] > 0, t
        assert t["emptyHeaders"] == 0, t
        assert t["firstRowHeader"], t


# --------------------------------------------------------------------------------- the PDF

@pytest.fixture(scope="module")
def handout(report, monkeypatch_module):
    html, results = report
    pdf = OUT / "report.pdf"
    monkeypatch_module.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert main(["report-pdf", "--html", str(html), "--out", str(pdf)]) == 0
    return pdf, html, results


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not found (Debian package poppler-utils; .ci/run installs it)")
    return path


def _pdf_text(pdf) -> str:
    text = subprocess.run([_poppler("pdftotext"), "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"(\w)- (\w)", r"\1-\2", text)  # a line broken after a hyphen


def _pages(pdf) -> int:
    info = subprocess.run([_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def test_handout_is_a4_with_a_plausible_page_count(handout):
    pdf, html, _ = handout
    info = subprocess.run([_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info
    sections = html.read_text(encoding="utf-8").count("<section ")
    # every section starts a page; the longest (results, audit, references) take a few each
    assert sections <= _pages(pdf) <= 4 * sections


def test_handout_text_layer_has_the_bottom_line(handout):
    pdf, _, results = handout
    audit = json.loads((pdf.parent.parent / "data" / "derived" / "claims_audit.json").read_text(encoding="utf-8")) \
        if (pdf.parent.parent / "data" / "derived" / "claims_audit.json").is_file() else None
    # the bottom line's first clause, worded by the one narrative module the report uses
    first = bottom_line(TextNumbers(results), TextNumbers(audit) if audit else None, results, audit,
                        results["question"])[0]
    sentence = first.split(";")[0]
    text = _pdf_text(pdf)
    # line breaks in the PDF fall anywhere, and pdftotext drops a hyphen at a line end:
    # compare without whitespace and hyphens
    def bare(s):
        return "".join(s.split()).replace("-", "")

    assert bare(sentence) in bare(text)
    assert "Bottom line." in text


def test_handout_footer_gives_commit_and_page_numbers(handout):
    pdf, html, _ = handout
    commit = re.search(r'<meta name="commit" content="([^"]*)">', html.read_text(encoding="utf-8")).group(1)
    n = _pages(pdf)
    text = _pdf_text(pdf)
    assert f"commit {commit}" in text
    assert f"page 1 of {n}" in text
    assert f"page {n} of {n}" in text


def test_handout_is_byte_identical_when_printed_again(handout, tmp_path, monkeypatch):
    pdf, html, _ = handout
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    again = tmp_path / "again.pdf"
    assert main(["report-pdf", "--html", str(html), "--out", str(again)]) == 0
    assert again.read_bytes() == pdf.read_bytes()
    assert b"/CreationDate (D:20260101000000" in again.read_bytes()


PRINT_FACTS = """(() => {
  const all = [...document.querySelectorAll('body *')];
  const sections = [...document.querySelectorAll('section')];
  return {
    positioned: all.filter(e => ['sticky', 'fixed'].includes(getComputedStyle(e).position)).map(e => e.tagName),
    breaks: sections.map(s => getComputedStyle(s).breakBefore),
    figures: [...document.querySelectorAll('figure')].map(f => getComputedStyle(f).breakInside),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  };
})()"""


def test_print_stylesheet(report):
    html, _ = report
    with Chromium() as browser:
        # the printable width of A4 with 16 mm margins at 96 px per inch: 673 px
        browser.open(html, width=673, height=1000)
        browser.send("Emulation.setEmulatedMedia", media="print")
        facts = browser.evaluate(PRINT_FACTS)
    assert facts["positioned"] == []
    assert facts["breaks"][0] != "page"
    assert set(facts["breaks"][1:]) == {"page"}
    assert set(facts["figures"]) == {"avoid"}
    assert facts["overflow"] <= 0
