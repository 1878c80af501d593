"""One BibTeX file: method keys, study entries in sync with the data, and `cite` output."""

import subprocess
import sys

import pytest
from conftest import ROOT

from analysis.present.citation import parse_bibtex, update_bib
from analysis.review.io import load_package
from analysis.stats._citations import CITATIONS
from analysis.stats._validation import CI_METHODS, MEASURES, MODELS, STUDY_CI_METHODS, TAU2_METHODS

BIB = ROOT / "report" / "references.bib"


def test_every_method_name_has_a_citation_in_the_bib():
    entries = parse_bibtex(BIB.read_text(encoding="utf-8"))
    for vocab in (CI_METHODS, MEASURES, MODELS, STUDY_CI_METHODS, TAU2_METHODS):
        for name in vocab:
            assert name in CITATIONS, name
    for short, key in CITATIONS.values():
        assert key in entries, f"{short}: {key} missing from references.bib"
        assert entries[key].get("doi"), f"{key} has no DOI"


def test_study_entries_are_in_sync_with_the_data_package():
    pkg = load_package(ROOT / "data" / "datapackage.json")
    text = BIB.read_text(encoding="utf-8")
    assert update_bib(BIB, pkg["studies"]) == text, "run `make bibtex` and commit"
    entries = parse_bibtex(text)
    for r in pkg["studies"]:
        assert r.study_id in entries
        if isinstance(r.pmid, str) and r.pmid:
            assert entries[r.study_id]["pmid"] == r.pmid


def test_cite_prints_the_package_and_every_study():
    r = subprocess.run([sys.executable, "-m", "analysis", "cite", "--style", "text"], capture_output=True,
                       text=True, cwd=ROOT, check=True)
    assert "How to cite this package" in r.stdout
    assert "[kable2017]" in r.stdout
    assert "doi:10.1097/TXD.0000000000000641" in r.stdout
    assert "[stijnen2010]" in r.stdout


def test_cite_prints_clean_text_and_keeps_placeholders_apart():
    from analysis.present.citation import format_citations

    text = format_citations(BIB, ROOT / "CITATION.cff", style="text")
    assert "\\%" not in text
    assert "n.d.." not in text
    assert ".." not in text.replace("...", "")
    studies, rest = text.split("Studies and guidelines in the data package:")[1].split(
        "Cited by the appraised answer but not found")
    placeholders = rest.split("Methods and software:")[0]
    entries = parse_bibtex(BIB.read_text(encoding="utf-8"))
    for key, e in entries.items():
        if "verification: not_found" in e.get("note", ""):
            assert f"[{key}]" in placeholders, key
            assert f"[{key}]" not in studies, key
    assert "[kable2017]" in studies
    assert "NOT FOUND" not in studies


def test_cite_bibtex_prints_each_entry_once():
    from analysis.present.citation import format_citations

    text = format_citations(BIB, ROOT / "CITATION.cff", style="bibtex")
    entries = parse_bibtex(BIB.read_text(encoding="utf-8"))
    assert text.count("@") == len(entries) + 1  # plus the package's own @software entry


def test_references_are_read_by_pybtex_into_plain_text():
    from analysis.present.citation import format_reference, load_bibliography

    bib = load_bibliography(BIB)
    e = bib.entries["schwarzer2019"]
    assert e.surnames == ("Schwarzer", "Chemaitelly", "Abu-Raddad", "Rücker")  # R{\"u}cker
    assert not e.et_al
    assert "Introduction—GRADE evidence" in bib.entries["guyatt2011"]["title"]  # --- and {GRADE}
    assert bib.entries["guyatt2011"].et_al
    # a surname of two words is one surname (braced by `make bibtex`), not first + last name
    assert bib.entries["mendezchacon2015"].authors == ("Méndez Chacón",)
    assert format_reference("mendezchacon2015", bib.entries["mendezchacon2015"]).startswith(
        "Méndez Chacón, et al. Nefropatía")
    assert "88% graft survival" in format_reference("anonseries2006", bib.entries["anonseries2006"])
    assert "kable2017" in bib.study_keys
    assert "clopper1934" not in bib.study_keys
    assert format_reference("he_nd", bib.entries["he_nd"]).startswith("He, et al. Immune")
    assert " n.d. https://" in format_reference("he_nd", bib.entries["he_nd"])


MALFORMED = {  # .bib text -> what the one-line error must say (file name is added below)
    "@article{a, title={x}}\n@article{b, title={open, year={2001}\n": (
        ", line 2 (in entry b, from line 2), field 'title': BibTeX syntax error: premature end of file"),
    "@article{a, title={x}}\n\n@article{a, title={y}}\n": (
        ", line 3 (entry a): BibTeX: repeated bibliography entry: a"),
    "@article{a, title={x}, title={z}}\n": ", line 1 (entry a): BibTeX: entry with key a has a duplicate",
    "@article{title={x}}\n": ", line 1 (entry title={x): 'title={x' is not a citation key",
    "@article{a, title={x}\n  year={2000}}\n": ", line 2 (in entry a, from line 1), field 'title': "
                                               "BibTeX syntax error: '}' expected",
}


@pytest.mark.parametrize("text", list(MALFORMED))
def test_a_malformed_bib_is_one_error_naming_file_line_and_entry(tmp_path, text):
    from analysis.present.citation import load_bibliography
    from analysis.stats._validation import InputError

    bad = tmp_path / "bad.bib"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_bibliography(bad)
    assert str(info.value).startswith(f"{bad}{MALFORMED[text]}")
    r = subprocess.run([sys.executable, "-m", "analysis", "cite", "--bib", str(bad)], capture_output=True,
                       text=True, cwd=ROOT, check=False)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == f"error: {info.value}\n"  # one line, no traceback
