"""metafor's vocabulary: one alias table (analysis.stats._validation.ALIASES) for the API and
the command line; case-insensitive; levels as fractions or percentages; xi/ni/slab columns."""

import numpy as np
import pytest
from conftest import PRITZ_N, PRITZ_X

from analysis import pool_proportions, pool_two_group
from analysis.review.io import read_counts_csv
from analysis.stats._validation import (
    ALIASES,
    CI_METHODS,
    COLUMN_ALIASES,
    MEASURES,
    MODELS,
    TAU2_METHODS,
    TWO_GROUP_MEASURES,
    canonical,
    parse_level,
)

# What metafor's names mean (metafor 3.8 documentation of escalc's measure, rma's method and
# test); written out here independently of ALIASES, so a wrong entry there fails.
METAFOR = {
    "measure": {"PLO": "logit", "PFT": "freeman-tukey", "PAS": "arcsine", "PR": "raw", "PLN": "log"},
    "tau2_method": {"REML": "reml", "DL": "dersimonian-laird", "PM": "paule-mandel", "ML": "ml"},
    "model": {"EE": "common", "FE": "common", "CE": "common", "RE": "random"},
    "ci_method": {"z": "wald", "t": "t", "knha": "knapp-hartung"},
    "two_group_measure": {"OR": "or", "RR": "rr", "RD": "rd"},
}
VOCABULARY = {"measure": MEASURES, "tau2_method": TAU2_METHODS, "model": MODELS,
              "ci_method": CI_METHODS, "two_group_measure": TWO_GROUP_MEASURES}


@pytest.mark.parametrize(("option", "name"), [(o, n) for o in METAFOR for n in METAFOR[o]])
def test_metafor_names_map_to_the_canonical_name_in_any_case(option, name):
    want = METAFOR[option][name]
    for spelling in (name, name.lower(), name.upper(), name.capitalize()):
        assert canonical(option, spelling) == want, spelling


def test_the_alias_table_holds_exactly_metafors_names():
    for option, table in METAFOR.items():
        assert {k.lower(): v for k, v in table.items()} == ALIASES[option]
        assert set(table.values()) <= set(VOCABULARY[option])


@pytest.mark.parametrize("option", sorted(VOCABULARY))
def test_canonical_names_are_themselves_in_any_case(option):
    for name in VOCABULARY[option]:
        assert canonical(option, name) == name
        assert canonical(option, name.upper()) == name


def test_unknown_names_pass_through_for_the_choice_check_to_reject():
    assert canonical("measure", "PLX") == "PLX"
    assert canonical("model", None) is None
    with pytest.raises(ValueError, match='"common", "random", "glmm"'):
        pool_proportions([1, 2], [3, 4], model="fixed")


def test_the_api_accepts_metafor_spellings():
    mine = pool_proportions(PRITZ_X, PRITZ_N, model="RE", measure="PFT", tau2_method="DL", ci_method="knha")
    ours = pool_proportions(PRITZ_X, PRITZ_N, model="random", measure="freeman-tukey",
                            tau2_method="dersimonian-laird", ci_method="knapp-hartung")
    assert mine.methods() == ours.methods()
    assert mine.to_dict() == ours.to_dict()
    two = pool_two_group([8, 5], [10, 12], [3, 4], [9, 15], measure="RR", method="inverse-variance",
                         model="EE", ci_method="z")
    assert (two.measure, two.model, two.ci_method) == ("rr", "common", "wald")


@pytest.mark.parametrize(("text", "level"), [("95", 0.95), ("0.95", 0.95), (90, 0.9), ("99.9", 0.999),
                                             (0.5, 0.5), ("80", 0.8)])
def test_levels_as_fraction_or_percentage(text, level):
    assert parse_level(text) == pytest.approx(level, abs=1e-15)


@pytest.mark.parametrize("text", ["0", "1", "100", "150", "-5", "x", "nan"])
def test_impossible_levels_are_refused(text):
    with pytest.raises(ValueError, match="confidence level"):
        parse_level(text)


def test_metafor_column_names_read_as_ours(tmp_path):
    assert COLUMN_ALIASES == {"xi": "events", "ni": "n", "slab": "study_id"}
    ours = tmp_path / "ours.csv"
    ours.write_text("study_id,events,n\na,3,10\nb,0,5\n")
    theirs = tmp_path / "theirs.csv"
    theirs.write_text("slab,xi,ni\na,3,10\nb,0,5\n")
    upper = tmp_path / "upper.csv"
    upper.write_text("SLAB,XI,NI\na,3,10\nb,0,5\n")
    want = read_counts_csv(ours)
    for path in (theirs, upper):
        got = read_counts_csv(path)
        assert got.equals(want)
        np.testing.assert_array_equal(got.events, [3, 0])


def test_our_column_wins_when_both_spellings_are_present(tmp_path):
    p = tmp_path / "both.csv"
    p.write_text("study_id,events,n,xi\na,3,10,9\n")
    assert read_counts_csv(p).events.tolist() == [3]
