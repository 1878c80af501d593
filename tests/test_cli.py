"""`evsynth pool` (= `python -m analysis pool`): output shapes and bad input (exit 2, one
message, no traceback). Option handling, help and plots: tests/test_cli_options.py."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, check=False)


@pytest.fixture
def good_csv(tmp_path):
    p = tmp_path / "good.csv"
    p.write_text("study_id,events,n\nalpha2001,3,10\nbeta2002,0,5\ngamma2003,5,5\n")
    return p


def test_pool_prints_a_table(good_csv):
    r = run("pool", str(good_csv))
    assert r.returncode == 0, r.stderr
    assert "alpha2001" in r.stdout
    from analysis.stats.options import DEFAULTS
    assert {"glmm": "GLMM", "random": "Random effects", "common": "Common effect",
            "bayes": "Bayesian"}[DEFAULTS.model] in r.stdout


def test_pool_json_has_the_documented_keys(good_csv):
    r = run("pool", str(good_csv), "--json", "--leave-one-out", "--model", "random")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "tau2_ci_low",
                "tau2_ci_high", "i2", "i2_q", "h2", "q", "q_pvalue", "k", "methods", "warnings",
                "studies", "leave_one_out"):
        assert key in out, key
    assert out["k"] == 3
    assert {"study_id", "events", "n", "proportion", "ci_low", "ci_high", "weight"} <= set(out["studies"][0])
    assert {"omitted", "estimate", "ci_low", "ci_high", "tau2", "i2"} <= set(out["leave_one_out"][0])
    assert abs(sum(s["weight"] for s in out["studies"]) - 100) < 1e-9


def test_glmm_weights_are_null_not_invented(good_csv):
    out = json.loads(run("pool", str(good_csv), "--json", "--model", "glmm").stdout)
    assert all(s["weight"] is None for s in out["studies"])
    # the GLMM's tau^2 interval is the profile-likelihood one (analysis.stats.glmm_tau2_profile)
    assert 0 <= out["tau2_ci_low"] <= out["tau2"]


# Places are the file's line numbers (the header is line 1), as an editor shows them.
BAD = {
    "count above n": ("study_id,events,n\na,3,10\nb,7,5\n", "line 3, field 'events'"),
    "negative count": ("study_id,events,n\na,-1,10\n", "line 2, field 'events'"),
    "fractional count": ("study_id,events,n\na,1.5,10\n", "line 2, field 'events'"),
    "n zero": ("study_id,events,n\na,0,0\n", "line 2, field 'n'"),
    "missing column": ("study_id,events\na,1\n", "field 'n'"),
    "duplicate id": ("study_id,events,n\na,1,2\na,1,3\n", "line 3, field 'study_id'"),
    "empty file": ("", "empty"),
    "header only": ("study_id,events,n\n", "no data rows"),
    "non-numeric": ("study_id,events,n\na,x,10\n", "line 2, field 'events'"),
    "empty cell": ("study_id,events,n\na,,10\n", "line 2, field 'events'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_file_row_and_field(tmp_path, case):
    text, expected = BAD[case]
    p = tmp_path / "bad.csv"
    p.write_text(text)
    r = run("pool", str(p))
    assert r.returncode == 2
    assert str(p) in r.stderr
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("option", [("--measure", "PLX"), ("--model", "fixed"),
                                    ("--tau2-method", "HS"), ("--study-ci", "beta"),
                                    ("--ci-method", "hksj"), ("--to", "some")])
def test_unknown_option_value_exits_2(good_csv, option):
    r = run("pool", str(good_csv), *option)
    assert r.returncode == 2
    assert "invalid choice" in r.stderr
    assert option[0] in r.stderr
    assert "Traceback" not in r.stderr


def test_glmm_with_non_logit_measure_is_refused(good_csv):
    r = run("pool", str(good_csv), "--model", "glmm", "--measure", "raw")
    assert r.returncode == 2
    assert "logit" in r.stderr


def test_missing_file_exits_2(tmp_path):
    r = run("pool", str(tmp_path / "nope.csv"))
    assert r.returncode == 2
    assert "no such file" in r.stderr
