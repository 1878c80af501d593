"""The make pipeline's steps: byte-identical rebuilds, and report numbers traced to data/derived."""

import hashlib
import json
import re

import pytest
from conftest import ROOT

from analysis.cli import main
from analysis.present.report import FORMATS, lookup

STEPS = [
    ["analyze", "--in", "{data}", "--out", "{d}/results.json"],
    ["audit", "--in", "{data}", "--results", "{d}/results.json", "--out", "{d}/claims_audit.json"],
    ["calibrate", "--results", "{d}/results.json", "--replicates", "40", "--out", "{d}/calibration.json"],
    ["tables", "--results", "{d}/results.json", "--audit", "{d}/claims_audit.json", "--calibration",
     "{d}/calibration.json", "--outdir", "{d}", "--manifest", "{d}/tables.json"],
    ["figures", "--results", "{d}/results.json", "--audit", "{d}/claims_audit.json", "--outdir", "{d}/figures",
     "--manifest", "{d}/figures/manifest.json"],
    ["figures", "--only", "outcomes", "--results", "{d}/results.json", "--outdir", "{d}/figures",
     "--manifest", "{d}/figures/outcome_manifest.json"],
    ["figures", "--only", "calibration", "--results", "{d}/results.json", "--calibration",
     "{d}/calibration.json", "--outdir", "{d}/figures", "--manifest", "{d}/figures/calibration_manifest.json"],
    ["report", "--results", "{d}/results.json", "--audit", "{d}/claims_audit.json", "--calibration",
     "{d}/calibration.json", "--manifest", "{d}/figures/manifest.json", "--extra-manifest",
     "{d}/figures/calibration_manifest.json", "--extra-manifest", "{d}/figures/outcome_manifest.json", "--template", str(ROOT / "report" / "templates" / "report.html.j2"),
     "--bib", str(ROOT / "report" / "references.bib"), "--out", "{d}/report/report.html"],
]


def build(d):
    for step in STEPS:
        args = [a.format(d=d, data=ROOT / "data" / "datapackage.json") for a in step]
        assert main(args) == 0, step
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    a = tmp_path_factory.mktemp("build_a")
    b = tmp_path_factory.mktemp("build_b")
    return a, build(a), b, build(b)


def test_two_builds_are_byte_identical(two_builds):
    _, ha, _, hb = two_builds
    assert len(ha) > 40  # JSON, CSV, SVG, PNG, PDF, captions, manifests, HTML
    assert {k for k in ha if k.endswith((".png", ".svg", ".pdf", ".html", ".csv", ".json"))}
    different = sorted(k for k in ha if ha[k] != hb.get(k))
    assert different == []


def test_every_number_in_the_report_matches_the_derived_files(two_builds):
    d, _, _, _ = two_builds
    page = (d / "report" / "report.html").read_text(encoding="utf-8")
    docs = {"results": json.loads((d / "results.json").read_text()),
            "audit": json.loads((d / "claims_audit.json").read_text())}
    spans = re.findall(r'<span class="num" data-key="(\w+):([\w.]+)" data-fmt="(\w+)">([^<]*)</span>', page)
    assert len(spans) > 300
    for doc, key, fmt, text in spans:
        assert FORMATS[fmt](lookup(docs[doc], key)) == text, (doc, key)


def test_report_is_self_contained(two_builds):
    d, _, _, _ = two_builds
    page = (d / "report" / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page
    assert not re.search(r'<(img|script|link)[^>]+(src|href)="(?!#)', page)
    for section in ("Bottom line", "PRISMA", "Evidence table", "GRADE", "Claims audit", "Colophon",
                    "Limitations", "References", "Which interval"):
        assert section in page


def test_every_prisma_2020_item_is_in_the_report_or_marked_not_applicable(two_builds):
    """Each of the 42 PRISMA 2020 items (27 with sub-items, Page et al. 2021) has a row of
    the report's checklist; an item marked as reported names a section that exists, one
    that does not apply says why."""
    from analysis.review.prisma import PRISMA_ITEMS

    d, _, _, _ = two_builds
    page = (d / "report" / "report.html").read_text(encoding="utf-8")
    section = re.search(r'<section id="prisma-checklist">(.*?)</section>', page, re.DOTALL).group(1)
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", section, re.DOTALL):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.DOTALL)]
        if cells:  # the header row has th cells only
            rows[cells[0]] = cells
    assert len(PRISMA_ITEMS) == 42
    ids = set(re.findall(r'\bid="([\w-]+)"', page))
    for item in PRISMA_ITEMS:
        assert item in rows, f"PRISMA item {item} is not in the report"
        status, where, how = rows[item][3], rows[item][4], rows[item][5]
        if status == "not applicable":
            assert len(how) > 20, f"item {item}: say why it does not apply"
        else:
            assert where.startswith("#"), f"item {item}: no section named"
            assert where[1:] in ids, f"item {item}: section {where} not in the report"
    for item, words in (("24a", "Not registered"), ("24b", "after the data had been seen"),
                        ("8", "not duplicated"), ("9", "not duplicated"), ("6", "stored"), ("25", "none"),
                        ("26", "none")):
        assert words in rows[item][5], item


def test_the_bottom_line_certainty_words_come_from_the_ratings(two_builds):
    d, _, _, _ = two_builds
    res = json.loads((d / "results.json").read_text())
    page = (d / "report" / "report.html").read_text(encoding="utf-8")
    bottom = re.search(r'<div class="bottom-line">(.*?)</div>', page, re.DOTALL).group(1)
    phrase = res["certainty"]["bottom_line"]["phrase"]
    assert phrase in bottom
    for word in ("low-certainty", "moderate-certainty", "high-certainty"):
        assert word not in bottom


def test_report_prints_the_primary_clearance_estimate(two_builds):
    d, _, _, _ = two_builds
    res = json.loads((d / "results.json").read_text())
    est = res["outcomes"]["viremia_clearance"]["primary"]["estimate"]
    page = (d / "report" / "report.html").read_text(encoding="utf-8")
    assert f"{100 * est:.1f}%" in page


def test_figure_captions_credit_the_source_and_version(two_builds):
    d, _, _, _ = two_builds
    manifest = {"figures": [f for m in ("manifest", "outcome_manifest", "calibration_manifest")
                            for f in json.loads((d / "figures" / f"{m}.json").read_text())["figures"]]}
    names = {f["name"] for f in manifest["figures"]}
    assert {"forest_viremia_clearance", "forest_graft_survival", "prisma", "risk_of_bias_rob2",
            "risk_of_bias_robins_i", "risk_of_bias_murad", "evidence_map", "claims_audit", "viral_loads",
            "sensitivity_viremia_clearance"} <= names
    for f in manifest["figures"]:
        caption = (d / "figures" / f"{f['name']}.txt").read_text()
        assert "bkvn-ivig-evidence" in caption
        assert "data/datapackage.json" in caption


def test_pool_with_defaults_reproduces_the_reports_primary_numbers(two_builds, tmp_path, capsys):
    """The engine's defaults are the report's primary method: `evsynth pool` with no options,
    on the report's clearance counts, prints the report's primary estimate and intervals."""
    d, _, _, _ = two_builds
    res = json.loads((d / "results.json").read_text())
    clearance = res["outcomes"]["viremia_clearance"]
    csv = tmp_path / "clearance.csv"
    csv.write_text("study_id,events,n\n" + "".join(f"{r['study_id']},{r['events']},{r['n']}\n"
                                                  for r in clearance["dataset"]))
    assert main(["pool", str(csv), "--json"]) == 0
    mine = json.loads(capsys.readouterr().out)
    primary = clearance["primary"]
    keys = ["estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "k"]
    # the same computation on the same counts: equal to the last bit
    assert {k: mine[k] for k in keys} == {k: primary[k] for k in keys}
    assert mine["methods"] == primary["methods"]
    assert res["primary_method"]["ci_method"] == mine["methods"]["ci_method"] == "t"
