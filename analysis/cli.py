"""Command line: ``evsynth <command>`` (the same as ``python -m analysis <command>``).

``pool`` and ``compare`` pool your own counts (`analysis.present.commands`, with the table
of which ``pool`` option applies to which model); the other subcommands are the steps of
the Makefile pipeline (`analysis.present.steps`). Every subcommand takes explicit input
and output paths and writes its artefact atomically. Bad input exits with status 2 and one
message per problem naming the file, row and field, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ._version import __version__

# ``pool``'s option table and resolver, importable from here as before the split
from .present.commands import (
    APPLICABILITY,
    POOL_OPTION_GROUPS,
    add_compare_command,
    add_pool_command,
    resolve_pool_options,
)
from .stats._validation import InputError

__all__ = ["APPLICABILITY", "POOL_OPTION_GROUPS", "build_parser", "main", "resolve_pool_options"]

EXIT_BAD_INPUT = 2


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions and epilogs as written; "(default: X)" after options that have one."""

    def _get_help_string(self, action):
        if action.default in (None, False, True) or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exit status 2 (as argparse does)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # pragma: no cover - exercised through main()
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


# ------------------------------------------------------------------------- the parser
def build_parser(prog: str = "evsynth") -> argparse.ArgumentParser:
    """The full argument parser (one subparser per command)."""
    parser = _Parser(
        prog=prog,
        description="Evidence synthesis of single proportions: pool your own counts (pool), or "
                    "run the steps that build this compendium's report (the Makefile calls them).",
        epilog="examples:\n  evsynth pool my.csv\n  evsynth pool --help\n  evsynth check-data\n\n"
               "`evsynth` is installed in .venv by `make`: run .venv/bin/evsynth, or first "
               "`source .venv/bin/activate`.\n`python -m analysis` is the same command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="COMMAND")
    add_pool_command(sub)
    add_compare_command(sub)
    from .present import steps as pipeline

    pipeline.add_commands(sub)
    return parser


def _run(argv: Sequence[str] | None, prog: str) -> int:
    from .review.io import transaction

    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        with transaction():  # a command that fails leaves its outputs as they were
            return args.func(args)
    except InputError as exc:
        for err in getattr(exc, "errors", None) or [exc]:
            _fail(f"error: {err}")
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


def main(argv: Sequence[str] | None = None, prog: str = "evsynth") -> int:
    """Entry point of `evsynth` (and, with ``prog="python -m analysis"``, of ``python -m
    analysis``); returns the exit status, and never shows a traceback in ordinary use.

    Bad input: exit 2 with one line naming file, line and field. Output closed early
    (``pool FILE | head -1``): exit quietly as the Python documentation recommends
    (``signal`` section, "Note on SIGPIPE"). Ctrl-C: exit 130. A file that cannot be
    read or written: exit 2 naming it. Anything else is a bug: exit 1 with one line;
    ``ANALYSIS_TRACEBACK=1`` shows the traceback.
    """
    try:
        status = _run(argv, prog)
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
