"""`make check-data` lists every problem in one run (up to a cap), by file line and row_id,
and catches studies that the risk-of-bias and PRISMA sections would silently miss."""

import re
import shutil

import pandas as pd
import pytest
from conftest import ROOT

from analysis.cli import main
from analysis.review.io import MAX_PROBLEMS, load_package, record_lines
from analysis.stats._validation import InputError, InputErrors


def copy_data(tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("derived"))
    return dst


def edit(dst, table, change):
    path = dst / "raw" / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(df).to_csv(path, index=False)
    return df


def problems(desc, **kw) -> list[str]:
    with pytest.raises(InputError) as err:
        load_package(desc, check_hashes=False, **kw)
    return [str(e) for e in getattr(err.value, "errors", [err.value])]


def set_cells(rows, field, value):
    def change(df):
        df.loc[rows, field] = value
        return df
    return change


def test_every_problem_in_one_run_with_line_and_row_id(tmp_path):
    dst = copy_data(tmp_path)
    out = edit(dst, "outcomes", set_cells([0, 2], "outcome", "cure"))
    edit(dst, "claims", set_cells([2], "claim_type", "opinion"))
    found = problems(dst / "datapackage.json")
    assert len(found) == 3, found
    # data row i (0-based) is file line i + 2: the header is line 1
    assert found[0].startswith(f"data/raw/outcomes.csv, line 2 (row_id {out.row_id[0]}), field 'outcome'")
    assert found[1].startswith(f"data/raw/outcomes.csv, line 4 (row_id {out.row_id[2]}), field 'outcome'")
    assert re.match(r"data/raw/claims\.csv, line 4 \(claim_id \w+\), field 'claim_type'", found[2]), found[2]


def test_cross_table_rules_are_all_reported_too(tmp_path):
    dst = copy_data(tmp_path)
    st = pd.read_csv(dst / "raw" / "studies.csv", dtype=str, keep_default_na=False)
    row = int(st.index[st.overlaps_with.eq("")][0])
    studies = edit(dst, "studies", set_cells([row], "overlaps_with", "ghost2000"))
    outcomes = pd.read_csv(dst / "raw" / "outcomes.csv", dtype=str, keep_default_na=False)
    counted = outcomes.index[outcomes.events.ne("") & outcomes.n.ne("")][:2].tolist()
    edit(dst, "outcomes", set_cells(counted, "events", "999"))
    found = problems(dst / "datapackage.json")
    assert len(found) == 3, found
    assert f"studies.csv, line {row + 2} (study_id {studies.study_id[row]}), field 'overlaps_with'" in found[0]
    for msg, i in zip(found[1:], counted, strict=True):
        assert f"outcomes.csv, line {i + 2} (row_id {outcomes.row_id[i]}), field 'events'" in msg
        assert "exceed" in msg


def test_the_list_is_capped_and_says_how_many_more(tmp_path):
    dst = copy_data(tmp_path)
    n_rows = len(edit(dst, "murad", set_cells(list(range(MAX_PROBLEMS + 7)), "judgement", "maybe")))
    assert n_rows > MAX_PROBLEMS + 7
    with pytest.raises(InputErrors) as err:
        load_package(dst / "datapackage.json", check_hashes=False)
    errs = err.value.errors
    assert len(errs) == MAX_PROBLEMS + 1
    assert "and 7 more problems not shown" in str(errs[-1])
    assert f"(and {MAX_PROBLEMS + 6} more problems)" in str(err.value)


def test_a_study_without_risk_of_bias_rows_is_an_error(tmp_path):
    dst = copy_data(tmp_path)
    edit(dst, "robins_i", lambda df: df[df.study_id != "kable2017"])
    found = problems(dst / "datapackage.json")
    assert len(found) == 1, found
    assert "kable2017" in found[0]
    assert "robins_i" in found[0]


def test_a_found_study_without_a_screening_record_is_an_error(tmp_path):
    dst = copy_data(tmp_path)
    edit(dst, "screening", lambda df: df[~((df.study_id == "kable2017") & (df.decision == "included"))])
    found = problems(dst / "datapackage.json")
    assert len(found) == 1
    assert "(study_id kable2017)" in found[0]
    assert "no included record in data/raw/screening.csv" in found[0]


def test_line_numbers_count_quoted_line_breaks(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('a,b\n1,"two\nlines"\n\n3,x\n')
    assert record_lines(p) == [2, 5]


def test_check_data_prints_one_line_per_problem_and_exits_2(tmp_path, capsys):
    dst = copy_data(tmp_path)
    edit(dst, "outcomes", set_cells([0, 1], "outcome", "cure"))
    code = main(["check-data", "--in", str(dst / "datapackage.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 2
    assert all(line.startswith("error: data/raw/outcomes.csv, line ") for line in err)


def test_a_hash_mismatch_suggests_a_command_that_works_from_a_fresh_shell(tmp_path):
    dst = copy_data(tmp_path)
    edit(dst, "arms", set_cells([0], "notes", "edited without a log entry"))
    with pytest.raises(InputError, match="sha256") as err:
        load_package(dst / "datapackage.json")
    assert "`make update-hashes`" in str(err.value)
