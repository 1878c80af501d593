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
    ["design", "--in", "{data}", "--out", "{d}/calibration_design.json"],
    ["calibrate", "--design", "{d}/calibration_design.json", "--replicates", "10", "--out",
     "{d}/calibration.json"],
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
     "{d}/figures/calibration_manifest.json", "--extra-manifest", "{d}/figures/outcome_manifest.json", "--template", str(ROOT / "report" / "template.html"),
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
    assert {"forest_viremia_clearance", "forest_graft_survival", "prisma", "risk_of_bias", "evidence_map",
            "claims_audit", "viral_loads", "sensitivity_viremia_clearance"} <= names
    for f in manifest["figures"]:
        caption = (d / "figures" / f"{f['name']}.txt").read_text()
        assert "bkvn-ivig-evidence" in caption
        assert "data/datapackage.json" in caption
