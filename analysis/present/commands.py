"""The commands that pool your own data: ``evsynth pool`` (single proportions) and
``evsynth compare`` (2x2 tables); `analysis.cli` adds them to its parser.

``pool``'s options are defined in small functions (one per group) and checked against
`APPLICABILITY`, a table of which option applies to which model: an option that does not
apply is an error naming the option and what to do instead. To add a model or an option,
add its definition function and its rows in that table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..stats._validation import (
    ALIASES,
    CI_METHODS,
    CORRECTION_POLICIES,
    MEASURES,
    MODELS,
    PI_METHODS,
    STUDY_CI_METHODS,
    TAU2_METHODS,
    TWO_GROUP_CI_METHODS,
    TWO_GROUP_MEASURES,
    TWO_GROUP_METHODS,
    canonical,
    parse_level,
)
from ..stats.options import DEFAULTS, MODEL_BASE, PRIMARY_METHOD, defaults_for
from .narrative_methods import primary_method_phrase

__all__ = ["APPLICABILITY", "POOL_OPTION_GROUPS", "add_compare_command", "add_pool_command",
           "resolve_pool_options"]

FOREST_FORMATS = (".svg", ".png", ".pdf")


# ----------------------------------------------------------------- option vocabularies
def _vocabulary(option: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    """argparse ``type=``: metafor's spelling or any letter case -> the canonical name."""

    def convert(text: str) -> str:
        name = canonical(option, text)
        if name not in choices:
            names = ", ".join(_names(option, choices))
            raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {names})")
        return name  # type: ignore[return-value]

    convert.__name__ = option  # argparse names the type in some messages
    return convert


def _names(option: str, choices: tuple[str, ...]) -> list[str]:
    """'logit (PLO)', ...: each canonical name with its metafor spellings."""
    out = []
    upper = option != "ci_method"  # metafor writes test= in lower case, the rest in upper
    for c in choices:
        al = [a.upper() if upper else a for a, n in ALIASES.get(option, {}).items()
              if n == c and (a != c or (upper and a.upper() != c))]
        out.append(f"{c} ({'/'.join(al)})" if al else c)
    return out


def _level(text: str) -> float:
    try:
        return parse_level(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _nonnegative(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not x >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more; got {text!r}")
    return x


# ------------------------------------------------------------- pool: option groups
# Every pool option defaults to None, so "given explicitly" can be told from "left at the
# default". Left out, an option takes the default of the fit: DEFAULTS (the report's
# primary method) when --model is not given either, else the named model's (MODEL_BASE).
def _default(field: str) -> str:
    """'default: X', or both defaults when the primary method's differs from other models'."""
    mine, other = getattr(DEFAULTS, field), getattr(MODEL_BASE, field)
    if mine == other:
        return f"default: {mine}"
    return f"default: {mine} without --model, {other} with --model"


def primary_method_text() -> str:
    """The default fit in words, for --help (the report's phrase for the primary method)."""
    return (f"{primary_method_phrase(DEFAULTS.as_kwargs())} (calibration id {PRIMARY_METHOD}), "
            "the method the written rule of the calibration study picked "
            "(data/decisions/primary_method.json)")


def _add_input_output(p) -> None:
    p.add_argument("file", help="CSV with columns study_id,events,n (metafor's slab,xi,ni also work)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--leave-one-out", action="store_true", help="also re-fit without each study in turn")
    p.add_argument("--forest", metavar="PATH", default=None,
                   help="also write a forest plot; the suffix picks the format (.svg, .png or .pdf)")


def _add_model_options(p) -> None:
    p.add_argument("--model", type=_vocabulary("model", MODELS), default=None, metavar="NAME",
                   help="glmm: binomial-normal GLMM; random (RE): inverse-variance random effects; "
                        "common (EE/FE/CE): common effect; bayes: exact Bayesian random effects "
                        f"(default: {DEFAULTS.model})")
    p.add_argument("--measure", type=_vocabulary("measure", MEASURES), default=None, metavar="NAME",
                   help=f"{', '.join(_names('measure', MEASURES))}: analysis scale; other than "
                        f"logit only with --model random or common ({_default('measure')})")
    p.add_argument("--tau2-method", type=_vocabulary("tau2_method", TAU2_METHODS), default=None,
                   metavar="NAME",
                   help=f"{', '.join(_names('tau2_method', TAU2_METHODS))}: tau^2 estimator; only "
                        f"with --model random ({_default('tau2_method')})")
    p.add_argument("--n-agq", type=int, default=None, metavar="K",
                   help=f"quadrature nodes, 1 = Laplace; only with --model glmm "
                        f"({_default('n_agq')})")


def _add_interval_options(p) -> None:
    p.add_argument("--ci-method", type=_vocabulary("ci_method", CI_METHODS), default=None,
                   metavar="NAME",
                   help="pooled CI and prediction interval: t: t(k-1) quantiles; wald (z): normal "
                        "quantiles; knapp-hartung (knha): only with --model random or common; not "
                        f"with --model bayes ({_default('ci_method')})")
    p.add_argument("--pi-method", choices=PI_METHODS, default=None,
                   help="prediction interval: hts: t(k-2), none for k <= 2 (Higgins, Thompson & "
                        "Spiegelhalter 2009; R meta); metafor: predict(), the CI's quantile; not "
                        f"with --model bayes ({_default('pi_method')})")
    p.add_argument("--level", "--confidence-level", dest="confidence_level", type=_level,
                   default=None, metavar="L",
                   help=f"confidence level, 0.95 or 95 (default: {DEFAULTS.confidence_level:g})")
    p.add_argument("--study-ci", dest="study_ci_method", default=None, metavar="NAME",
                   type=_vocabulary("study_ci_method", STUDY_CI_METHODS),
                   help=f"{', '.join(STUDY_CI_METHODS)}: per-study intervals "
                        f"(default: {DEFAULTS.study_ci_method})")


def _add_correction_options(p) -> None:
    p.add_argument("--add", dest="correction", type=_nonnegative, default=None, metavar="X",
                   help="continuity correction added to the cells (metafor add=); only with "
                        "--model random or common (default: 0.5; 0 for freeman-tukey and arcsine)")
    p.add_argument("--to", dest="correction_policy", default=None, metavar="WHICH",
                   type=_vocabulary("correction_policy", CORRECTION_POLICIES),
                   help=f"{'|'.join(CORRECTION_POLICIES)}: which studies get it (metafor to=); only "
                        f"with --model random or common ({_default('correction_policy')})")


POOL_OPTION_GROUPS: list[Callable] = [_add_input_output, _add_model_options, _add_interval_options,
                                      _add_correction_options]

_COUNTS = ("glmm", "bayes")  # the models that fit the counts: no continuity correction
# (dest, flag, applies(opts) -> bool, what to do instead). Checked only when the option was
# given explicitly; `opts` holds the resolved options (explicit values over the model's defaults).
APPLICABILITY: list[tuple[str, str, Callable[[dict], bool], str]] = [
    ("tau2_method", "--tau2-method", lambda o: o["model"] == "random",
     "It applies only with --model random (the GLMM's tau^2 is always ML, the Bayesian models "
     "integrate over tau and the common-effect model has none): add --model random or drop "
     "--tau2-method"),
    ("n_agq", "--n-agq", lambda o: o["model"] == "glmm",
     "It sets the quadrature of the GLMM's likelihood, only with --model glmm: drop --n-agq"),
    ("correction", "--add", lambda o: o["model"] not in _COUNTS,
     "The GLMM and the Bayesian models fit the counts and need no continuity correction: add "
     "--model random (or common), or drop --add"),
    ("correction_policy", "--to", lambda o: o["model"] not in _COUNTS,
     "The GLMM and the Bayesian models fit the counts and need no continuity correction: add "
     "--model random (or common), or drop --to"),
    ("measure", "--measure", lambda o: o["model"] not in _COUNTS or o["measure"] == "logit",
     "The GLMM and the Bayesian models work on the logit scale: add --model random (or --model "
     "common) to pool on another scale, or use --measure logit"),
    ("ci_method", "--ci-method", lambda o: o["model"] != "bayes",
     "The Bayesian models give equal-tailed credible intervals: drop --ci-method"),
    ("pi_method", "--pi-method", lambda o: o["model"] != "bayes",
     "The Bayesian models give the posterior predictive interval: drop --pi-method"),
]
_FREQUENTIST = ("measure", "tau2_method", "ci_method", "correction", "correction_policy", "n_agq",
                "pi_method")


def resolve_pool_options(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """The options given explicitly, checked against APPLICABILITY for the model fitted.

    Returns the keyword options of `pool_proportions` (only those given: the engine fills
    in the model's defaults) and notes for stderr; raises ValueError naming the first
    option that does not apply.
    """
    keys = ("model", "confidence_level", "study_ci_method", *_FREQUENTIST)
    given = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    base = defaults_for(given.get("model"))
    model = base.model
    opts = base.replace(**given).as_kwargs()
    for dest, flag, applies, advice in APPLICABILITY:
        if dest in given and not applies(opts):
            value = given[dest]
            shown = f" {value:g}" if isinstance(value, float) else f" {value}"
            model_text = model + ("" if "model" in given else " (the default model)")
            raise ValueError(f"{flag}{shown} does not apply to --model {model_text}. {advice}")
    notes = []
    if model == "glmm" and given.get("ci_method") == "knapp-hartung":
        notes.append("note: --ci-method knapp-hartung with the GLMM is deprecated: the GLMM has no "
                     "Knapp-Hartung adjustment, only t(k-1) quantiles; use --ci-method t")
        given["ci_method"] = "t"
    if "n_agq" in given and not 1 <= given["n_agq"] <= 50:
        raise ValueError(f"--n-agq must be between 1 and 50; got {given['n_agq']}")
    return given, notes


POOL_EPILOG = """\
examples:
  evsynth pool my.csv                         # the report's primary method (see above)
  evsynth pool my.csv --json --leave-one-out  # one JSON object, with leave-one-out re-fits
  evsynth pool my.csv --forest forest.svg     # also write a forest plot (.svg, .png or .pdf)
  evsynth pool my.csv --model glmm            # metafor rma.glmm(measure="PLO", test="t")
  evsynth pool my.csv --model RE --measure PLO --tau2-method DL --ci-method knha --level 90
  evsynth pool my.csv --model random --add 0.5 --to all
  evsynth pool my.csv --model bayes --tau-prior half-normal:1 --threshold 0.5

The CSV needs one row per study: study_id,events,n (or metafor's slab,xi,ni).
Method names also accept metafor's spellings in any case (PLO, PFT, REML, DL, EE, RE, knha).
"""


def add_pool_command(sub) -> None:
    p = sub.add_parser(
        "pool",
        help="pool single proportions from your own CSV and print the result",
        description="Pool single proportions (events out of n per study) across studies. With no "
                    f"options it fits the report's primary method: {primary_method_text()}.",
        epilog=POOL_EPILOG,
    )
    for add_group in POOL_OPTION_GROUPS:
        add_group(p)
    bayes = p.add_argument_group("--model bayes (exact Bayesian random effects, logit scale)")
    bayes.add_argument("--likelihood", choices=("binomial", "normal"), default=None,
                       help="binomial-normal or normal-normal on logits; only with --model bayes (default: binomial)")
    bayes.add_argument("--tau-prior", default=None, metavar="KIND:SCALE",
                       help="half-normal:S, half-cauchy:S or uniform:UPPER; only with --model bayes (default: half-normal:0.5)")
    bayes.add_argument("--mu-prior", default=None, metavar="normal:MEAN:SD",
                       help="normal:MEAN:SD or flat; only with --model bayes (default: normal:0:10)")
    bayes.add_argument("--threshold", type=float, default=None,
                       help="also report P(proportion > THRESHOLD); only with --model bayes (default: none)")
    p.set_defaults(func=_cmd_pool)


def _cmd_pool(args) -> int:
    from ..review.io import MAX_LEAVE_ONE_OUT, dumps_json, read_counts_csv
    from ..stats.pooling import leave_one_out, pool_proportions

    opts, notes = resolve_pool_options(args)
    if args.forest and Path(args.forest).suffix.lower() not in FOREST_FORMATS:
        raise ValueError(f"--forest {args.forest}: the file name must end in .svg, .png or .pdf")
    opts.update(_bayes_options(args))
    for note in notes:
        print(note, file=sys.stderr)
    df = (read_counts_csv(args.file, max_rows=MAX_LEAVE_ONE_OUT,
                          limit_reason="the limit for --leave-one-out (it refits once per study)")
          if args.leave_one_out else read_counts_csv(args.file))
    ids = df.study_id.tolist()
    res = pool_proportions(df.events, df.n, study_ids=ids, **opts)
    loo = leave_one_out(df.events, df.n, study_ids=ids, **opts) if args.leave_one_out else None
    if args.forest:
        _write_forest(res, Path(args.forest), source=args.file)
    if args.json:
        out = res.to_dict()
        if loo is not None:
            out["leave_one_out"] = loo.to_dict()["leave_one_out"]
        sys.stdout.write(dumps_json(out))
    else:
        print(res.summary())
        if loo is not None:
            print()
            print(loo.summary())
        if args.forest:
            print(f"\nwrote {args.forest}")
    return 0


def add_compare_command(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="pool 2x2 tables (treated vs control) from a CSV and print the result",
        description="Compare two groups: pool a CSV with columns study_id,events_treated,n_treated,"
                    "events_control,n_control (or metafor's ai,n1i,ci,n2i).",
        epilog="example:\n  evsynth compare trials.csv --measure rr --method mantel-haenszel --json\n"
               "  evsynth compare trials.csv --measure or --method glmm-umfs",
    )
    p.add_argument("file", help="CSV file with columns study_id,events_treated,n_treated,events_control,n_control")
    p.add_argument("--measure", choices=TWO_GROUP_MEASURES, default="or",
                   help="odds ratio, risk ratio or risk difference (metafor OR, RR, RD)")
    p.add_argument("--method", choices=TWO_GROUP_METHODS, default="mantel-haenszel",
                   help="pooling method (metafor rma.mh, rma.peto, rma.uni, rma.glmm UM.FS / CM.EL)")
    p.add_argument("--model", choices=("random", "common"), default=None,
                   help="default: common for mantel-haenszel and peto, random otherwise")
    p.add_argument("--tau2-method", choices=TAU2_METHODS, default=None,
                   help="inverse-variance random effects only (default reml)")
    p.add_argument("--ci-method", choices=TWO_GROUP_CI_METHODS, default="wald",
                   help="wald; knapp-hartung (inverse variance); t (GLMMs, metafor test=\"t\")")
    p.add_argument("--level", type=parse_level, default=0.95, help="confidence level, 0.95 or 95")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args) -> int:
    from ..review.io import dumps_json, read_two_group_csv
    from ..stats.two_group import pool_two_group

    df = read_two_group_csv(args.file)
    res = pool_two_group(
        df.events_treated, df.n_treated, df.events_control, df.n_control, measure=args.measure,
        method=args.method, model=args.model, tau2_method=args.tau2_method, ci_method=args.ci_method,
        confidence_level=args.level, study_ids=df.study_id.tolist(),
    )
    sys.stdout.write(dumps_json(res.to_dict()) if args.json else res.summary() + "\n")
    return 0


def _bayes_options(args) -> dict:
    """The --model bayes options that were given, priors parsed (bad ones name the option)."""
    from ..stats.bayes import mu_prior, tau_prior

    out = {}
    if args.likelihood is not None:
        out["likelihood"] = args.likelihood
    if args.tau_prior is not None:
        out["tau_prior"] = tau_prior(args.tau_prior, option="--tau-prior")
    if args.mu_prior is not None:
        out["mu_prior"] = mu_prior(args.mu_prior, option="--mu-prior")
    if args.threshold is not None:
        out["threshold"] = args.threshold
    if out and (args.model or DEFAULTS.model) != "bayes":
        given = ", ".join("--" + k.replace("_", "-") for k in out)
        raise ValueError(f"{given} only apply to --model bayes")
    return out


def _write_forest(res, path: Path, *, source: str) -> None:
    from .figures import save_figure

    fig = res.plot_forest()
    save_figure(fig, path, title=f"Forest plot: {res.label()}",
                caption=f"Pooled proportion of {source}, k = {res.k}")
