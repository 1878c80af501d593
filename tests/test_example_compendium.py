"""A second question of the same shape (issue 13, item 7): ``examples/pritz1997`` is a data
package of its own (question.toml, datapackage.json, raw tables, plan) built by the same
code and templates as the main report, with `make example`.

It has only the tables its question needs: no comparator, no claims, no search log or
screening, no risk of bias, no viral loads. The built report must name its own question
and carry no word of the main one. A second build must give the same bytes. And the main
package stripped of its optional tables and of its first outcome still builds every
output (report, figures, calibration, slides), each missing part said in a sentence.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from conftest import PRITZ_N, PRITZ_X, ROOT

EXAMPLE = ROOT / "examples" / "pritz1997"
# words of the main question (BK-virus nephropathy, IVIG, kidney transplantation), as whole
# words or word stems, case-insensitive
MAIN_WORDS = re.compile(r"\b(bk|bkvn|ivig|viremia|viraemia|nephropathy|transplant\w*)\b", re.IGNORECASE)
# replicates of the calibration in these builds: the report only needs its table and figure
REPLICATES = "40"


def _env() -> dict:
    """The environment of a nested `make`: the parent's jobserver is not ours to share."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return {**env, "SOURCE_DATE_EPOCH": "1767225600", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}


def make_example(out) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "example", f"EXOUT={out}",
                           f"EX_REPLICATES={REPLICATES}"], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The example built twice, into two folders, by `make example`."""
    out = []
    for name in ("a", "b"):
        folder = tmp_path_factory.mktemp(f"example_{name}")
        done = make_example(folder)
        assert done.returncode == 0, done.stderr[-2000:]
        out.append(folder)
    return out


def visible_text(html: str) -> str:
    """The page as a reader meets it: text, captions and the words inside the inline SVG
    figures, without the base64 of embedded images (random letters, not words)."""
    html = re.sub(r"data:[^\"')\s]+", " ", html)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_example_data_are_the_published_counts():
    # the counts of metadat dat.pritz1997 (the test dataset of test_example_pritz1997.py)
    with open(EXAMPLE / "raw" / "outcomes.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["events"]) for r in rows] == PRITZ_X
    assert [int(r["n"]) for r in rows] == PRITZ_N
    for r in rows:  # every number names its source, where in it, and how it was verified
        assert r["source_url"].startswith("https://github.com/wviechtb/metadat/blob/")
        assert r["source_locator"].startswith("line ")
        assert f"xi {r['events']}, ni {r['n']}" in r["source_locator"]
        assert r["verification"] == "secondary_source"


def test_check_data_accepts_the_example():
    done = subprocess.run([sys.executable, "-m", "analysis", "check-data", "--in",
                           str(EXAMPLE / "datapackage.json")], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "studies 14, arms 14, outcomes 14, analysis_plan 1" in done.stdout


def test_make_example_builds_a_report_of_its_own_question(builds):
    html = (builds[0] / "report" / "report.html").read_text(encoding="utf-8")
    question = tomllib.loads((EXAMPLE / "question.toml").read_text(encoding="utf-8"))
    assert f"<h1>{question['title']}</h1>" in html
    text = visible_text(html)
    found = sorted({m.group(0) for m in MAIN_WORDS.finditer(text)})
    assert found == [], f"words of the main question in the example report: {found}"
    # the pooled estimate is the example's (GLMM of the 14 studies: 246 of 326 improved)
    results = json.loads((builds[0] / "derived" / "results.json").read_text(encoding="utf-8"))
    primary = results["outcomes"]["improvement"]["primary"]
    assert (primary["k"], results["outcomes"]["improvement"]["crude"]["events"]) == (14, 246)
    # what the package does not have is left out with a sentence, not with an error
    assert "Not in this report, because the data do not have it:" in html
    for section in ("Claims audit", "Risk of bias", "Search and selection", "Comparative evidence"):
        assert re.search(rf"{section} \(", text), section
        assert f'<section id="{section.lower()}"' not in html


def test_no_word_of_the_main_question_in_figures_or_tables(builds):
    for path in sorted((builds[0] / "figures").glob("*.txt")) + sorted((builds[0] / "figures").glob("*.svg")) \
            + sorted((builds[0] / "derived").glob("*.csv")):
        found = sorted({m.group(0) for m in MAIN_WORDS.finditer(path.read_text(encoding="utf-8"))})
        assert found == [], f"{path.name}: {found}"


def test_the_example_builds_byte_identically(builds):
    a, b = builds
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) > 20  # results, audit, calibration, tables, figures, captions, manifests, report
    assert [p for p in files if (a / p).read_bytes() != (b / p).read_bytes()] == []


# ------------------------------------------------- the main package, stripped down

OPTIONAL = ("claims", "screening", "search_log", "murad", "rob2", "robins_i", "publication_bias",
            "viral_loads", "field_provenance", "prisma_checklist", "hazard_ratios")
DROPPED = "viremia_clearance"  # the first primary outcome of the main question


def _strip(dst):
    """A copy of data/ without its optional tables and without its first outcome."""
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("derived"))
    desc = json.loads((dst / "datapackage.json").read_text(encoding="utf-8"))
    desc["resources"] = [r for r in desc["resources"] if r["name"] not in OPTIONAL]
    for res in desc["resources"]:
        res.pop("hash", None)
        for f in res["schema"]["fields"]:
            if f["name"] == "outcome":
                f["constraints"]["enum"].remove(DROPPED)
    (dst / "datapackage.json").write_text(json.dumps(desc, indent=2), encoding="utf-8")
    for table in ("outcomes", "analysis_plan"):
        path = dst / "raw" / f"{table}.csv"
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        col = rows[0].index("outcome")
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows([r for r in rows if r[col] != DROPPED])
    q = (dst / "question.toml").read_text(encoding="utf-8")
    start = q.index(f"[outcomes.{DROPPED}]")
    (dst / "question.toml").write_text(q[:start] + q[q.index("[outcomes.", start + 1):], encoding="utf-8")
    return dst / "datapackage.json"


def test_the_main_package_without_its_optional_tables_and_first_outcome_still_builds(tmp_path):
    pkg = _strip(tmp_path / "data")
    d = tmp_path / "out"
    run = [sys.executable, "-m", "analysis"]
    steps = [
        ["analyze", "--in", pkg, "--out", d / "results.json"],
        ["audit", "--in", pkg, "--results", d / "results.json", "--out", d / "claims_audit.json"],
        ["design", "--in", pkg, "--out", d / "calibration_design.json"],
        ["calibrate", "--design", d / "calibration_design.json", "--replicates", REPLICATES, "--out",
         d / "calibration.json"],
        ["tables", "--results", d / "results.json", "--audit", d / "claims_audit.json", "--calibration",
         d / "calibration.json", "--outdir", d, "--manifest", d / "tables.json"],
        *[["figures", "--only", only, "--results", d / "results.json", "--audit", d / "claims_audit.json",
           "--calibration", d / "calibration.json", "--outdir", d / "figures", "--manifest", d / "figures" / f"{only}.json"]
          for only in ("evidence", "outcomes", "calibration")],
        ["report", "--results", d / "results.json", "--audit", d / "claims_audit.json", "--calibration",
         d / "calibration.json", "--manifest", d / "figures" / "evidence.json", "--extra-manifest",
         d / "figures" / "outcomes.json", "--extra-manifest", d / "figures" / "calibration.json",
         "--out", d / "report.html"],
        ["slides", "--results", d / "results.json", "--audit", d / "claims_audit.json", "--calibration",
         d / "calibration.json", "--out", d / "slides" / "deck.pdf"],
    ]
    for args in steps:
        done = subprocess.run([*run, *map(str, args)], cwd=ROOT, env=_env(), capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, f"{args[0]}: {done.stderr[-1500:]}"
        assert "Traceback" not in done.stderr
        assert "TypeError" not in done.stderr
    results = json.loads((d / "results.json").read_text(encoding="utf-8"))
    assert DROPPED not in results["outcomes"]
    assert results["certainty"] is None
    assert results["prisma"] is None
    html = (d / "report.html").read_text(encoding="utf-8")
    assert "Not in this report, because the data do not have it:" in html
    for left_out in ("Claims audit (", "Risk of bias (", "Search and selection (", "Viral loads ("):
        assert left_out in visible_text(html), left_out
    assert (d / "slides" / "deck.pdf").stat().st_size > 0


# ------------------------------------------------------------ the question file's rules

def test_a_question_without_comparator_loads_and_says_so():
    from analysis.review.question import load_question

    q = load_question(EXAMPLE / "question.toml")
    assert q.arm_codes == ("hyperdynamic", None)
    assert q.to_dict()["comparator"] is None
    assert q.primary_outcomes == ("improvement",)


MINIMAL = """title = "T"
question = "Q?"
[intervention]
name = "x"
long_name = "x"
arm_treatment = "x"
[pico]
population = "p"
intervention = "i"
comparison = "c"
outcomes = "o"
[outcomes.a]
label = "A"
primary = true
"""


@pytest.mark.parametrize(("table", "text", "message"), [
    ("report", 'colour = "blue"', "[report] colour is not a known key"),
    ("report", "limitations = [1, 2]", "[report] limitations must be a list of strings"),
    ("grade", 'matching_settings = "one"', "[grade] matching_settings must be a list of strings"),
    ("reprot", 'verdict = "v"', "unknown table or key 'reprot'"),
])
def test_the_question_file_refuses_unknown_or_malformed_words(tmp_path, table, text, message):
    from analysis import InputError
    from analysis.review.question import load_question

    path = tmp_path / "question.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_question(path).title == "T"
    path.write_text(f"{MINIMAL}[{table}]\n{text}\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        load_question(path)


def test_the_outcome_vocabulary_is_the_question_files(tmp_path):
    dst = tmp_path / "pkg"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("derived", "figures", "report"))
    q = (dst / "question.toml").read_text(encoding="utf-8")
    (dst / "question.toml").write_text(q.replace("[sets]", '[outcomes.relapse]\nlabel = "Relapse"\n\n[sets]'),
                                       encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "analysis", "check-data", "--in", str(dst / "datapackage.json")],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "outcomes.outcome" in done.stderr
    assert "differ from the [outcomes] of question.toml (relapse)" in done.stderr
    assert "Traceback" not in done.stderr
