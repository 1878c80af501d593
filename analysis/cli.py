"""Command line: ``python -m analysis <command>``, one subcommand per pipeline step.

Every subcommand takes explicit input and output paths and writes exactly one
artefact (atomically). Bad input exits with status 2 and one message naming the file,
row and field, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
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
    p.add_argument("--leave-one-out", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _cmd_pool(args) -> int:
    from .review.io import MAX_LEAVE_ONE_OUT, dumps_json, read_counts_csv
    from .stats.pooling import leave_one_out, pool_proportions

    df = (read_counts_csv(args.file, max_rows=MAX_LEAVE_ONE_OUT,
                          limit_reason="the limit for --leave-one-out (it refits once per study)")
          if args.leave_one_out else read_counts_csv(args.file))
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


def _run(argv: Sequence[str] | None) -> int:
    from .review.io import transaction

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with transaction():  # a command that fails leaves its outputs as they were
            if args.command == "pool":
                return _cmd_pool(args)
            return args.func(args)
    except InputError as exc:
        _fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    except ValueError as exc:
        _fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    except json.JSONDecodeError as exc:  # pragma: no cover - defensive
        _fail(f"error: invalid JSON input ({exc})")
        return EXIT_BAD_INPUT


def _fail(message: str) -> None:
    """Print `message` to stderr as exactly one line (control characters escaped)."""
    line = "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in message)
    print(line, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status, and never shows a traceback in ordinary use.

    Bad input: exit 2 with one line naming file, line and field. Output closed early
    (``pool FILE | head -1``): exit quietly as the Python documentation recommends
    (``signal`` section, "Note on SIGPIPE"). Ctrl-C: exit 130. A file that cannot be
    read or written: exit 2 naming it. Anything else is a bug: exit 1 with one line;
    ``ANALYSIS_TRACEBACK=1`` shows the traceback.
    """
    try:
        status = _run(argv)
        sys.stdout.flush()  # a closed pipe must fail here, inside the handler, not at exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"error: {where}{exc.strerror or exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:
        if os.environ.get("ANALYSIS_TRACEBACK"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (a bug: please report it; "
              "ANALYSIS_TRACEBACK=1 shows where)")
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests)
        pass
