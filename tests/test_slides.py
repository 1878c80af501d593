"""The journal-club deck: 16:9 pages, large type, a footer on every slide, figure slides as
PNG (>= 1920 x 1080) and SVG, numbers from results.json, byte-identical rebuilds.

The deck follows the plan-based synthesis: the comparison first (one slide per outcome of
the question with comparative studies), single-arm forest plots and the sensitivity slide
only where the plan allows a pooled estimate, the bottom line in the report's own words
(`narrative.bottom_line`)."""

import argparse
import copy
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from analysis.present.narrative import TextNumbers, bottom_line, question_outcomes
from analysis.present.slides import TITLE_PT, add_slides_command, build_slides
from analysis.present.slides.text_slides import _bottom_lines

BIB = ROOT / "report" / "references.bib"
CFF = ROOT / "CITATION.cff"


def expected_names(results: dict) -> list[str]:
    """The slides the deck must have for these results."""
    q = results["question"]
    comparative = [f"comparative_{o}" for o in question_outcomes(q)
                   if any(c["studies"] for c in results["comparative"]["outcomes"].get(o, []))]
    pooled = [o for o in q["primary_outcomes"] if (results["outcomes"].get(o) or {}).get("primary")]
    sens = ["sensitivity"] if pooled and results["outcomes"][pooled[0]]["scenarios"] else []
    return ["title", "evidence", *comparative, *(f"forest_{o}" for o in pooled), *sens, "claims_audit", "grade",
            "bottom_line", "references"]


@pytest.fixture(scope="module")
def derived(tmp_path_factory) -> dict:
    """results, audit and calibration from data/derived/ if built, else built here (a small
    calibration run: the deck only reads one coverage figure from it)."""
    have = ROOT / "data" / "derived"
    files = {"results": have / "results.json", "audit": have / "claims_audit.json",
             "calibration": have / "calibration.json"}
    if not all(p.is_file() for p in files.values()):
        out = tmp_path_factory.mktemp("derived")
        files = {"results": out / "results.json", "audit": out / "claims_audit.json",
                 "calibration": out / "calibration.json"}
        run = [sys.executable, "-m", "analysis"]
        pkg = str(ROOT / "data" / "datapackage.json")
        for args in (["analyze", "--in", pkg, "--out", files["results"]],
                     ["audit", "--in", pkg, "--results", files["results"], "--out", files["audit"]],
                     ["design", "--in", pkg, "--out", out / "calibration_design.json"],
                     ["calibrate", "--design", out / "calibration_design.json", "--replicates",
                      "10", "--out", files["calibration"]]):
            subprocess.run([*run, *map(str, args)], check=True, cwd=ROOT, capture_output=True)
    return {k: json.loads(p.read_text(encoding="utf-8")) for k, p in files.items()}


@pytest.fixture(scope="module")
def decks(derived, tmp_path_factory) -> list[tuple[Path, list[dict]]]:
    """The deck built twice, into two folders."""
    out = []
    for name in ("a", "b"):
        folder = tmp_path_factory.mktemp(f"slides_{name}")
        records = build_slides(derived["results"], derived["audit"], derived["calibration"], BIB,
                               folder / "journal-club.pdf", folder, cff_path=CFF)
        out.append((folder, records))
    return out


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_slides_of_16_by_9_comparison_first(decks, derived):
    folder, records = decks[0]
    names = expected_names(derived["results"])
    assert any(n.startswith("comparative_") for n in names)  # the shipped data have comparisons
    pdf = (folder / "journal-club.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == len(names)
    boxes = re.findall(rb"/MediaBox \[ ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) \]", pdf)
    assert len(boxes) == len(names)
    assert {tuple(float(v) for v in b) for b in boxes} == {(0.0, 0.0, 960.0, 540.0)}
    assert [r["name"] for r in records] == names
    assert b"CreationDate" not in pdf
    assert b"ModDate" not in pdf


def test_figure_slides_as_png_and_svg(decks):
    folder, records = decks[0]
    figure_slides = [r for r in records if r["files"]]
    # every slide but the title, the bottom line and the references is a figure slide
    assert [r["number"] for r in figure_slides] == list(range(2, len(records) - 1))
    for r in figure_slides:
        png, svg = (folder / f for f in r["files"])
        assert png.suffix == ".png"
        assert svg.suffix == ".svg"
        width, height = _png_size(png)
        assert width >= 1920
        assert height >= 1080
        assert abs(width / height - 16 / 9) < 0.01
        text = svg.read_text(encoding="utf-8")
        assert text.lstrip().startswith("<?xml")
        assert "<dc:date>" not in text


def test_rebuild_is_byte_identical(decks):
    (a, _), (b, _) = decks
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert len(names) == 1 + 2 * sum(1 for r in decks[0][1] if r["files"])  # the PDF, PNG + SVG
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_large_type_and_a_footer_on_every_slide(decks):
    _, records = decks[0]
    for r in records:
        assert r["min_font_pt"] >= 14, r["name"]
        footer = [t for t in r["texts"] if t.startswith("Source: bkvn-ivig-evidence ")]
        assert len(footer) == 1, r["name"]
        assert f"{r['number']} / {len(records)}" in r["texts"]
    assert TITLE_PT >= 30


def test_bottom_line_is_the_reports_wording_with_numbers_from_results(decks, derived):
    _, records = decks[0]
    res, audit = derived["results"], derived["audit"]
    text = " ".join(next(r for r in records if r["name"] == "bottom_line")["texts"]).replace("\n", " ")
    paras = bottom_line(TextNumbers(res), TextNumbers(audit), res, audit, res["question"])
    assert " ".join(text.split()).count(" ".join(paras[-1].split())) == 1  # the verdict, word for word
    assert res["certainty"]["bottom_line"]["phrase"] in text
    for o in question_outcomes(res["question"]):  # the comparison comes first, its numbers from results
        for c in res["comparative"]["outcomes"].get(o, []):
            for p in c["pooled"][:1]:
                if p["estimate"] is not None:
                    assert f"{p['estimate']:.2f} ({p['ci_low']:.2f} to {p['ci_high']:.2f})" in text
    s = audit["summary"]
    assert f"{sum(s.values())} checkable claims, {s['supported']} are supported" in text


def test_counts_of_one_are_singular(derived):
    results = copy.deepcopy(derived["results"])
    gs = results["outcomes"]["graft_survival"]
    gs["primary"] = {"estimate": 0.5, "ci_low": 0.2, "ci_high": 0.8, "pi_low": None, "pi_high": None, "k": 1}
    gs["crude"] = {"events": 1, "n": 1, "proportion": 1.0, "ci_low": 0.025, "ci_high": 1.0}
    gs["bayes"] = []
    lines = _bottom_lines(results, derived["audit"])
    assert "1 study, 1 patient)" in " ".join(lines)
    gs["primary"]["k"], gs["crude"]["n"] = 2, 7
    assert "2 studies, 7 patients)" in " ".join(_bottom_lines(results, derived["audit"]))


def test_forest_slides_show_every_pooled_study(decks, derived):
    _, records = decks[0]
    labels = {r["study_id"]: r["label"] for r in derived["results"]["evidence_table"]}
    for outcome, res in derived["results"]["outcomes"].items():
        if not res.get("primary"):  # no pooled estimate: no single-arm forest slide
            assert f"forest_{outcome}" not in [r["name"] for r in records]
            continue
        if f"forest_{outcome}" not in [r["name"] for r in records]:
            continue  # pooled, but not an outcome of the question
        texts = next(r for r in records if r["name"] == f"forest_{outcome}")["texts"]
        for d in res["dataset"]:
            assert labels[d["study_id"]] in texts


def test_command_line_registration():
    parser = argparse.ArgumentParser()
    add_slides_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["slides", "--results", "r.json", "--audit", "a.json", "--out", "s/deck.pdf"])
    # defaults point into the repository, so the command works from any folder
    assert args.bib == str(ROOT / "report" / "references.bib")
    assert args.cff == str(ROOT / "CITATION.cff")
    assert args.calibration is None
    assert callable(args.func)
