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
     "{d}/figures/calibration_manifest.json", "--extra-manifest", "{d}/figures/outcome_manifest.json", "--template", str(ROOT / "report" / "templates" / "report.html.j2"),
     "--bib", str(ROOT / "report" / "references.bib"), "--out", "{d}/report/report.html"],
    # `make figures`: every figure also as PNG and PDF (off the report's path)
    ["figures", "--only", "all", "--formats", "png,pdf", "--results", "{d}/results.json", "--audit",
     "{d}/claims_audit.json", "--calibration", "{d}/calibration.json", "--outdir", "{d}/figures",
     "--manifest", "{d}/figures/export_manifest.json"],
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
    assert {k.rsplit(".", 1)[-1] for k in ha} >= {"png", "svg", "pdf", "html", "csv", "json", "txt"}
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


def test_report_prints_the_clearance_result_the_plan_allows(two_builds):
    """The pooled clearance estimate where the plan allows a pool; else each study's counts,
    and the comparison (risk ratio) of every comparative clearance study."""
    d, _, _, _ = two_builds
    res = json.loads((d / "results.json").read_text())
    page = (d / "report" / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", page)
    clearance = res["outcomes"]["viremia_clearance"]
    if clearance["primary"] is not None:
        assert f"{100 * clearance['primary']['estimate']:.1f}%" in text
    else:
        assert clearance["not_pooled_reason"]
        for row in clearance["dataset"]:
            assert f"{row['events']}/{row['n']}" in text
    studies = [s for c in res["comparative"]["outcomes"]["viremia_clearance"] for s in c["studies"]]
    assert studies
    for s in studies:
        assert f"RR {s['rr']:.2f} ({s['rr_ci_low']:.2f} to {s['rr_ci_high']:.2f})" in text


def test_figure_captions_credit_the_source_and_version(two_builds):
    d, _, _, _ = two_builds
    manifest = {"figures": [f for m in ("manifest", "outcome_manifest", "calibration_manifest")
                            for f in json.loads((d / "figures" / f"{m}.json").read_text())["figures"]]}
    names = {f["name"] for f in manifest["figures"]}
    res = json.loads((d / "results.json").read_text())
    # a comparative forest plot per plan set with studies; single-arm forest and
    # sensitivity plots only where the plan allows a pooled estimate
    comparative = {f"comparative_{o}_{c['set_id']}" for o, sets in res["comparative"]["outcomes"].items()
                   for c in sets if c["studies"]}
    pooled = {f"{kind}_{o}" for o, r in res["outcomes"].items() if r["primary"]
              for kind in ("forest", "sensitivity")}
    # the posterior of tau for every outcome and subgroup set with Bayesian rows
    tau = {f"tau_posterior_{o}" for o, r in res["outcomes"].items() if r["bayes"]} | {
        f"tau_posterior_{o}_{s['set_id']}" for o, sets in res["subgroups"].items() for s in sets if s["bayes"]}
    assert comparative
    assert tau
    assert {n for n in names if n.startswith("tau_posterior_")} == tau
    assert {"prisma", "risk_of_bias_rob2", "risk_of_bias_robins_i", "risk_of_bias_murad", "evidence_map",
            "claims_audit", "viral_loads"} | comparative | pooled | tau <= names
    for f in manifest["figures"]:
        caption = (d / "figures" / f"{f['name']}.txt").read_text()
        assert "bkvn-ivig-evidence" in caption
        assert "data/datapackage.json" in caption
        assert f["files"] == [f"{f['name']}.svg"]  # the report's sets: SVG only


def test_make_figures_exports_every_figure_as_png_and_pdf(two_builds):
    d, _, _, _ = two_builds
    report = {f["name"] for m in ("manifest", "outcome_manifest", "calibration_manifest")
              for f in json.loads((d / "figures" / f"{m}.json").read_text())["figures"]}
    export = json.loads((d / "figures" / "export_manifest.json").read_text())["figures"]
    assert {f["name"] for f in export} == report
    for f in export:
        assert f["files"] == [f"{f['name']}.png", f"{f['name']}.pdf"]
        for name in f["files"]:
            assert hashlib.sha256((d / "figures" / name).read_bytes()).hexdigest() == f["sha256"][name]


@pytest.mark.parametrize("bad", ["gif", "svg,eps", ""])
def test_figures_formats_are_checked(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["figures", "--formats", bad, "--outdir", "x", "--manifest", "x/m.json"])
    assert exc.value.code == 2
    assert "svg, png, pdf" in capsys.readouterr().err


def test_pool_with_defaults_is_the_reports_primary_method(two_builds, tmp_path, capsys):
    """The engine's defaults are the report's primary method: `evsynth pool` with no options
    prints, on a single-arm set of the report, what the report's primary method gives (the
    stored primary fit where the plan pooled one; else the method recomputed on the largest
    set of two or more studies)."""
    from analysis import pool_proportions

    d, _, _, _ = two_builds
    res = json.loads((d / "results.json").read_text())
    sets = [*res["outcomes"].values(), *(s for v in res["subgroups"].values() for s in v)]
    pooled = [s for s in sets if s["primary"] is not None]
    target = pooled[0] if pooled else max((s for s in sets if s["k"] >= 2), key=lambda s: (s["k"], s["plan_id"]))
    rows = target["dataset"]
    csv = tmp_path / "set.csv"
    csv.write_text("study_id,events,n\n" + "".join(f"{r['study_id']},{r['events']},{r['n']}\n" for r in rows))
    assert main(["pool", str(csv), "--json"]) == 0
    mine = json.loads(capsys.readouterr().out)
    from analysis.stats.options import METHOD_OPTIONS

    # the options that select the primary method (the others are that model's defaults)
    options = METHOD_OPTIONS[res["primary_method"]["calibration_id"]]
    if pooled:
        primary = target["primary"]
    else:
        primary = json.loads(json.dumps(pool_proportions([r["events"] for r in rows], [r["n"] for r in rows],
                                                         study_ids=[r["study_id"] for r in rows],
                                                         **options).to_dict()))
    keys = ["estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "k"]
    # the same computation on the same counts: equal to the last bit
    assert {k: mine[k] for k in keys} == {k: primary[k] for k in keys}
    assert mine["methods"] == primary["methods"]
    for k in ("model", "measure", "ci_method", "pi_method"):
        assert res["primary_method"][k] == mine["methods"][k], k
