"""The journal-club deck: nine 16:9 pages, large type, a footer on every slide, figure
slides as PNG (>= 1920 x 1080) and SVG, numbers from results.json, byte-identical rebuilds."""

import argparse
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from analysis.present.slides import TITLE_PT, add_slides_command, build_slides

BIB = ROOT / "report" / "references.bib"
CFF = ROOT / "CITATION.cff"
NAMES = ["title", "evidence", "forest_viremia_clearance", "forest_graft_survival", "sensitivity",
         "claims_audit", "grade", "bottom_line", "references"]


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


def test_nine_slides_of_16_by_9(decks):
    folder, records = decks[0]
    pdf = (folder / "journal-club.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 9
    boxes = re.findall(rb"/MediaBox \[ ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) \]", pdf)
    assert len(boxes) == 9
    assert {tuple(float(v) for v in b) for b in boxes} == {(0.0, 0.0, 960.0, 540.0)}
    assert [r["name"] for r in records] == NAMES
    assert b"CreationDate" not in pdf
    assert b"ModDate" not in pdf


def test_figure_slides_as_png_and_svg(decks):
    folder, records = decks[0]
    figure_slides = [r for r in records if r["files"]]
    assert [r["number"] for r in figure_slides] == [2, 3, 4, 5, 6, 7]
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
    assert len(names) == 13
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_large_type_and_a_footer_on_every_slide(decks):
    _, records = decks[0]
    for r in records:
        assert r["min_font_pt"] >= 14, r["name"]
        footer = [t for t in r["texts"] if t.startswith("Source: bkvn-ivig-evidence ")]
        assert len(footer) == 1, r["name"]
        assert f"{r['number']} / 9" in r["texts"]
    assert TITLE_PT >= 30


def test_bottom_line_numbers_come_from_results(decks, derived):
    _, records = decks[0]
    text = " ".join(next(r for r in records if r["name"] == "bottom_line")["texts"]).replace("\n", " ")
    p = derived["results"]["outcomes"]["viremia_clearance"]["primary"]
    assert f"{100 * p['estimate']:.1f}%" in text
    assert f"{100 * p['ci_low']:.1f}\u2013{100 * p['ci_high']:.1f}%" in text
    g = derived["results"]["outcomes"]["graft_survival"]["primary"]
    assert f"{100 * g['estimate']:.1f}%" in text
    s = derived["audit"]["summary"]
    assert f"{s['supported']} of {sum(s.values())} claims supported" in text


def test_forest_slides_show_every_pooled_study(decks, derived):
    _, records = decks[0]
    labels = {r["study_id"]: r["label"] for r in derived["results"]["evidence_table"]}
    for outcome in ("viremia_clearance", "graft_survival"):
        texts = next(r for r in records if r["name"] == f"forest_{outcome}")["texts"]
        for d in derived["results"]["outcomes"][outcome]["dataset"]:
            assert labels[d["study_id"]] in texts


def test_command_line_registration():
    parser = argparse.ArgumentParser()
    add_slides_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["slides", "--results", "r.json", "--audit", "a.json", "--out", "s/deck.pdf"])
    assert args.bib == "report/references.bib"
    assert args.cff == "CITATION.cff"
    assert args.calibration is None
    assert callable(args.func)
