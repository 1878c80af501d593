"""`evsynth pool`'s options: defaults from one constant, metafor's spellings, options that do
not apply are errors, `--help` that teaches, `--forest`; every subcommand's help."""

import argparse
import json

import pytest

from analysis.cli import APPLICABILITY, build_parser, main, resolve_pool_options
from analysis.present import steps
from analysis.stats.options import DEFAULTS


def call(capsys, *argv):
    """(exit status, stdout, stderr) of `evsynth *argv`, in process."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: --help, or a usage error
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def csv(tmp_path):
    p = tmp_path / "counts.csv"
    p.write_text("study_id,events,n\nalpha2001,3,10\nbeta2002,0,5\ngamma2003,5,5\ndelta2004,7,9\n")
    return p


def pooled(capsys, csv, *options):
    code, out, err = call(capsys, "pool", str(csv), "--json", *options)
    assert code == 0, err
    return json.loads(out), err


# ------------------------------------------------------------------------ defaults
def test_pool_without_options_uses_the_one_constant():
    args = build_parser().parse_args(["pool", "x.csv"])
    opts, notes = resolve_pool_options(args)
    assert opts == {}  # nothing given: the engine fits DEFAULTS
    assert notes == []


def test_pool_defaults_print_the_primary_method(capsys, csv):
    out, _ = pooled(capsys, csv)
    m = out["methods"]
    assert (m["model"], m["ci_method"], m["measure"]) == (DEFAULTS.model, DEFAULTS.ci_method,
                                                          DEFAULTS.measure)
    if DEFAULTS.model == "random":
        assert m["tau2_method"] == DEFAULTS.tau2_method


# ------------------------------------------------------- options that do not apply
INAPPLICABLE = {
    "tau2 with the glmm": (["--model", "glmm", "--tau2-method", "dersimonian-laird"], "--tau2-method",
                           "add --model random"),
    "tau2 with common": (["--model", "EE", "--tau2-method", "DL"], "--tau2-method", "add --model random"),
    "n-agq with random": (["--model", "random", "--n-agq", "3"], "--n-agq", "drop --n-agq"),
    "add with the glmm": (["--model", "glmm", "--add", "0.5"], "--add", "add --model random"),
    "to with the glmm": (["--model", "glmm", "--to", "all"], "--to", "add --model random"),
    "freeman-tukey with bayes": (["--model", "bayes", "--measure", "freeman-tukey"], "--measure",
                                 "add --model random"),
    "ci-method with bayes": (["--model", "bayes", "--ci-method", "t"], "--ci-method", "drop --ci-method"),
    "pi-method with bayes": (["--model", "bayes", "--pi-method", "hts"], "--pi-method", "drop --pi-method"),
    "n-agq with the default model": (["--n-agq", "3"], "--n-agq", "drop --n-agq"),
    "PFT with glmm": (["--model", "glmm", "--measure", "PFT"], "--measure", "add --model random"),
}


@pytest.mark.parametrize("case", sorted(INAPPLICABLE))
def test_an_option_that_does_not_apply_is_an_error_saying_what_to_do(capsys, csv, case):
    options, flag, advice = INAPPLICABLE[case]
    code, out, err = call(capsys, "pool", str(csv), *options)
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {flag} ")
    assert "does not apply" in err
    assert advice in err
    assert len(err.strip().splitlines()) == 1


def test_every_applicability_rule_is_tested():
    flags = {flag for flag, *_ in (INAPPLICABLE[c][1:] for c in INAPPLICABLE)}
    assert {flag for _, flag, _, _ in APPLICABILITY} <= flags


@pytest.mark.parametrize("options", [["--model", "random", "--tau2-method", "DL"],
                                     ["--model", "glmm", "--n-agq", "1"],
                                     ["--model", "common", "--add", "0.25", "--to", "all"],
                                     ["--model", "random", "--measure", "PFT", "--add", "0"],
                                     ["--model", "glmm", "--measure", "logit"]])
def test_options_that_apply_are_accepted(capsys, csv, options):
    out, err = pooled(capsys, csv, *options)
    assert err == ""
    assert out["k"] == 4


def test_add_and_to_reach_the_engine(capsys, csv):
    out, _ = pooled(capsys, csv, "--model", "random", "--add", "0.25", "--to", "all")
    assert (out["methods"]["correction"], out["methods"]["correction_policy"]) == (0.25, "all")
    none, _ = pooled(capsys, csv, "--model", "random", "--to", "none", "--measure", "arcsine")
    assert none["methods"]["correction_policy"] == "none"
    assert out["estimate"] != pooled(capsys, csv, "--model", "random")[0]["estimate"]


# --------------------------------------------------------------- metafor's language
SAME_FIT = [
    (["--model", "RE", "--measure", "PLO", "--tau2-method", "REML", "--ci-method", "z"],
     ["--model", "random", "--measure", "logit", "--tau2-method", "reml", "--ci-method", "wald"]),
    (["--model", "re", "--measure", "pas", "--tau2-method", "pm", "--ci-method", "KNHA"],
     ["--model", "random", "--measure", "arcsine", "--tau2-method", "paule-mandel", "--ci-method",
      "knapp-hartung"]),
    (["--model", "FE", "--measure", "PFT"], ["--model", "common", "--measure", "freeman-tukey"]),
    (["--model", "CE", "--measure", "PR"], ["--model", "EE", "--measure", "raw"]),
    (["--level", "95"], ["--level", "0.95"]),
    (["--model", "GLMM", "--level", "90", "--n-agq", "1"],
     ["--model", "glmm", "--confidence-level", "0.9", "--n-agq", "1"]),
]


@pytest.mark.parametrize(("metafor", "ours"), SAME_FIT)
def test_metafor_spellings_give_the_same_fit(capsys, csv, metafor, ours):
    a, _ = pooled(capsys, csv, *metafor)
    b, _ = pooled(capsys, csv, *ours)
    assert a == b


def test_level_90_is_applied(capsys, csv):
    out, _ = pooled(capsys, csv, "--level", "90")
    assert out["methods"]["confidence_level"] == 0.9
    assert out["ci_high"] < pooled(capsys, csv)[0]["ci_high"]


def test_metafor_columns_work_from_the_command_line(capsys, csv, tmp_path):
    theirs = tmp_path / "metafor.csv"
    theirs.write_text(csv.read_text().replace("study_id,events,n", "slab,xi,ni"))
    assert pooled(capsys, theirs)[0] == pooled(capsys, csv)[0]


def test_knapp_hartung_with_the_glmm_is_a_noted_alias_of_t(capsys, csv):
    old, err = pooled(capsys, csv, "--model", "glmm", "--ci-method", "knapp-hartung")
    new, err_new = pooled(capsys, csv, "--model", "glmm", "--ci-method", "t")
    assert old == new
    assert old["methods"]["ci_method"] == "t"
    assert "deprecated" in err
    assert "--ci-method t" in err
    assert err_new == ""


# ------------------------------------------------------------------------------ help
def subparsers(parser=None):
    parser = parser or build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("name", sorted(subparsers()))
def test_every_subcommand_has_a_description_and_an_example(name):
    p = subparsers()[name]
    assert len(p.description or "") > 40, name
    assert "example" in (p.epilog or ""), name
    assert "evsynth" in (p.epilog or ""), name
    for action in p._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{name} {action.option_strings[0]} has no help text"


@pytest.mark.parametrize(("flag", "default"), [("--in", steps.DATA), ("--results", steps.RESULTS)])
def test_shared_input_flags_mean_the_same_everywhere(flag, default):
    seen = 0
    for name, p in subparsers().items():
        for action in p._actions:
            if flag in action.option_strings:
                assert action.default == default, (name, flag)
                assert not action.required, (name, flag)
                seen += 1
    assert seen >= 3


def test_pool_help_shows_every_default_and_where_an_option_applies(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one line per option, none wrapped
    code, out, _ = call(capsys, "pool", "--help")
    assert code == 0
    from analysis.present.commands import _default, primary_method_text

    for text in (f"(default: {DEFAULTS.model})", f"({_default('measure')})",
                 f"({_default('tau2_method')})", f"({_default('ci_method')})", f"({_default('n_agq')})",
                 "(default: 0.95)", "(default: clopper-pearson)", f"({_default('correction_policy')})",
                 "only with --model random", "only with --model glmm", "not with --model bayes",
                 "PLO", "REML", "knha", "examples:", "slab,xi,ni", primary_method_text()):
        assert text in out, text
    p = subparsers()["pool"]
    for action in p._actions:
        if action.option_strings and action.dest not in ("help", "forest") and action.nargs != 0:
            assert "default: " in action.help, action.option_strings[0]


def test_top_level_help_says_how_to_run_the_command(capsys):
    code, out, _ = call(capsys, "--help")
    assert code == 0
    assert ".venv/bin/evsynth" in out
    assert "source .venv/bin/activate" in out


# ---------------------------------------------------------------------------- forest
@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf"])
def test_forest_writes_the_plot_and_is_deterministic(capsys, csv, tmp_path, suffix):
    out = tmp_path / f"forest{suffix}"
    code, stdout, err = call(capsys, "pool", str(csv), "--forest", str(out))
    assert code == 0, err
    first = out.read_bytes()
    assert len(first) > 1000
    assert f"wrote {out}" in stdout
    assert call(capsys, "pool", str(csv), "--forest", str(out))[0] == 0
    assert out.read_bytes() == first


def test_forest_with_another_suffix_is_refused_before_reading_the_file(capsys, tmp_path):
    code, out, err = call(capsys, "pool", str(tmp_path / "missing.csv"), "--forest", "plot.jpg")
    assert code == 2
    assert "--forest plot.jpg" in err
    assert ".svg, .png or .pdf" in err
    assert out == ""
