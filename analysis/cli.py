"""Command line: ``python -m analysis <command>``, one subcommand per pipeline step.

Every subcommand takes explicit input and output paths and writes exactly one
artefact (atomically). Bad input exits with status 2 and one message naming the file,
row and field, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ._version import __version__
from .stats._validation import (
    CI_METHODS,
    MEASURES,
    MODELS,
    STUDY_CI_METHODS,
    TAU2_METHODS,
    InputError,
)

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exit status 2 (as argparse does)."""

    def error(self, message: str):  # pragma: no cover - exercised through main()
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _add_pool(sub) -> None:
    p = sub.add_parser(
        "pool",
        help="pool a CSV with columns study_id,events,n and print the result",
        description="Pool single proportions from a CSV with columns study_id,events,n.",
    )
    p.add_argument("file", help="CSV file with columns study_id,events,n")
    p.add_argument("--measure", choices=MEASURES, default="logit")
    p.add_argument("--model", choices=MODELS, default="glmm")
    p.add_argument("--tau2-method", choices=TAU2_METHODS, default="reml")
    p.add_argument("--ci-method", choices=CI_METHODS, default="wald")
    p.add_argument("--study-ci", choices=STUDY_CI_METHODS, default="clopper-pearson")
    p.add_argument("--confidence-level", type=float, default=0.95)
    p.add_argument("--n-agq", type=int, default=7, help="GLMM quadrature nodes (1 = Laplace)")
    bayes = p.add_argument_group("--model bayes (exact Bayesian random effects, logit scale)")
    bayes.add_argument("--likelihood", choices=("binomial", "normal"), default=None,
                       help="binomial-normal (default) or normal-normal on logits")
    bayes.add_argument("--tau-prior", default=None, metavar="KIND:SCALE",
                       help="half-normal:0.5 (default), half-cauchy:S or uniform:UPPER")
    bayes.add_argument("--mu-prior", default=None, metavar="normal:MEAN:SD",
                       help="normal:0:10 (default) or flat")
    bayes.add_argument("--threshold", type=float, default=None,
                       help="also report P(proportion > THRESHOLD)")
    p.add_argument("--leave-one-out", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _cmd_pool(args) -> int:
    from .review.io import dumps_json, read_counts_csv
    from .stats.pooling import leave_one_out, pool_proportions

    df = read_counts_csv(args.file)
    measure = args.measure
    if args.model == "glmm" and measure != "logit":
        raise ValueError('--model glmm is fitted on the logit scale: use --measure logit')
    opts = {
        "measure": measure,
        "model": args.model,
        "tau2_method": args.tau2_method,
        "ci_method": args.ci_method,
        "study_ci_method": args.study_ci,
        "confidence_level": args.confidence_level,
        "n_agq": args.n_agq,
    }
    opts.update(_bayes_options(args))
    ids = df.study_id.tolist()
    res = pool_proportions(df.events, df.n, study_ids=ids, **opts)
    loo = leave_one_out(df.events, df.n, study_ids=ids, **opts) if args.leave_one_out else None
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
    return 0


def _bayes_options(args) -> dict:
    """The --model bayes options that were given, priors parsed (bad ones name the option)."""
    from .stats.bayes import mu_prior, tau_prior

    out = {}
    if args.likelihood is not None:
        out["likelihood"] = args.likelihood
    if args.tau_prior is not None:
        out["tau_prior"] = tau_prior(args.tau_prior, option="--tau-prior")
    if args.mu_prior is not None:
        out["mu_prior"] = mu_prior(args.mu_prior, option="--mu-prior")
    if args.threshold is not None:
        out["threshold"] = args.threshold
    if out and args.model != "bayes":
        given = ", ".join("--" + k.replace("_", "-") for k in out)
        raise ValueError(f"{given} only apply to --model bayes")
    return out


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (one subparser per command)."""
    parser = _Parser(
        prog="python -m analysis",
        description="bkvn-ivig-evidence: pooled proportions, data checks, figures, report.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_pool(sub)
    from .present import steps as pipeline

    pipeline.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "pool":
            return _cmd_pool(args)
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except json.JSONDecodeError as exc:  # pragma: no cover - defensive
        print(f"error: invalid JSON input ({exc})", file=sys.stderr)
        return EXIT_BAD_INPUT
