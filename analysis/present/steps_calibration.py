"""The calibration steps: ``design`` (study sizes, grid, methods; never counts) and
``calibrate`` (the coverage simulation, the written rule's choice and, with
``--decision-out``, the primary-method decision record)."""

from __future__ import annotations

from pathlib import Path

from ._steps_common import _command, _in, _read_json, _repo


def _cmd_design(args) -> int:
    """Write the calibration design; leave the file (and its mtime) alone if unchanged."""
    from ..review.design import calibration_design
    from ..review.io import dumps_json, load_package, write_text
    from ..review.question import load_question

    question = load_question(Path(args.inp).parent / "question.toml")
    text = dumps_json(calibration_design(load_package(args.inp), question))
    out = Path(args.out)
    if out.is_file() and out.read_text(encoding="utf-8") == text:
        print(f"{out}: unchanged")
        return 0
    write_text(text, out)
    print(f"wrote {out}")
    return 0


def progress_bar(stream, *, width: int = 30):
    """A callback ``(done, total)`` drawing a one-line bar with elapsed time on `stream`."""
    import time

    start = time.monotonic()

    def show(done: int, total: int) -> None:
        filled = width * done // max(total, 1)
        secs = int(time.monotonic() - start)
        stream.write(f"\rcalibration [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"scenarios {secs // 60}:{secs % 60:02d}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def _progress_stream(args):
    """Where the progress bar goes: stderr if a terminal, else (with --tty-progress, as make
    -O captures stderr) the terminal itself, else nowhere."""
    import sys

    if args.quiet:
        return None
    if sys.stderr.isatty():
        return sys.stderr
    if args.tty_progress:
        try:
            return open("/dev/tty", "w", encoding="utf-8")
        except OSError:  # no terminal (CI, cron): no bar
            return None
    return None


def _cmd_calibrate(args) -> int:
    import hashlib
    import sys

    from ..review.io import write_json
    from ..stats.calibration import run_design

    path = Path(args.design)
    design = _read_json(path)
    stream = _progress_stream(args)
    out = run_design(design, replicates=args.replicates, seed=args.seed,
                     executor="dask" if args.scheduler else args.executor, jobs=args.jobs,
                     scheduler=args.scheduler,
                     progress=None if stream is None else progress_bar(stream))
    if stream is not None and stream is not sys.stderr:
        stream.close()
    out["design_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    write_json(out, args.out)
    print(f"wrote {args.out}")
    if args.decision_out:
        write_json(decision_record(out), args.decision_out)
        print(f"wrote {args.decision_out}: primary method {out['selection']['chosen']}")
    return 0


def decision_record(calibration: dict) -> dict:
    """The primary-method decision of a calibration run (``data/decisions/primary_method.json``):
    the selection by the written rule, what it was computed from, and no per-scenario rows."""
    from ..stats.options import METHOD_OPTIONS

    sel = calibration["selection"]
    chosen = sel["chosen"]
    return {
        "about": "The primary pooling method picked by the written rule "
                 "(analysis.stats.coverage.select_primary) from a calibration run at the "
                 "replicate count the rule asks for; written by `make calibration-rule`. "
                 "tests/test_primary_method.py checks that it was run on the current design "
                 "and that analysis.stats.options.PRIMARY_METHOD is its choice.",
        "design_sha256": calibration["design_sha256"],
        "design": calibration["design"],
        "replicates": calibration["replicates"],
        "seed": calibration["seed"],
        "primary_method": chosen,
        "options": METHOD_OPTIONS.get(chosen),
        "recommendation": calibration["recommendation"],
        "selection": sel,
    }


def add_calibration_commands(sub) -> None:
    """Register ``design`` and ``calibrate``."""
    p = _command(sub, "design", _cmd_design,
                 help="write the calibration design (study sizes, grid, methods; no counts)",
                 description="Write the calibration design from the data package: the study sizes "
                             "of the plan's single-arm sets (never their counts), the grid, the "
                             "candidate methods and the seed. The file is rewritten only when its "
                             "content changes, so correcting a count does not rerun the simulation.",
                 example="evsynth design --out data/derived/calibration_design.json")
    _in(p)
    p.add_argument("--out", required=True, metavar="PATH",
                   help="the design JSON (written only when its content changes)")

    p = _command(sub, "calibrate", _cmd_calibrate,
                 help="simulate the coverage of every interval for the design",
                 description="Simulate the coverage of every candidate interval for the design "
                             "file's study sizes and grid, and pick the primary method by the "
                             "written rule (analysis.stats.coverage.select_primary).",
                 example="evsynth calibrate --design data/derived/calibration_design.json "
                         "--replicates 500 --jobs 2 --out data/derived/calibration.json")
    p.add_argument("--design", default=_repo("data/derived/calibration_design.json"), metavar="PATH",
                   help="the design file written by `design`")
    p.add_argument("--out", required=True, metavar="PATH", help="the calibration JSON to write")
    p.add_argument("--decision-out", default=None, metavar="PATH",
                   help="also write the primary-method decision record (make calibration-rule)")
    p.add_argument("--replicates", type=int, default=None, metavar="R",
                   help="replicates per scenario (default: the design's, 2000)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the design's)")
    p.add_argument("--executor", choices=("local", "dask"), default="local", help="where to run")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="local processes; only with --executor local")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786; only with --executor dask")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--tty-progress", action="store_true",
                   help="draw the bar on the terminal even when stderr is captured (make -O)")
