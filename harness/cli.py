"""The `harness` command: a thin dispatcher over subcommands that live with their concern.

Each subcommand module exposes `register(subparsers)`, which adds its parser and sets
`func` (a callable taking the parsed namespace and returning an exit code). The modules are
imported by name here, so each concern keeps its own command-line code.
"""

from __future__ import annotations

from harness import interrupt  # first: Ctrl-C while the modules below load is one line too

# isort: split
import argparse
import importlib
import signal
import sys
from collections.abc import Callable, Sequence
from typing import cast

from harness import __version__
from harness.errors import EngineError, HarnessError

# Modules that contribute subcommands, in the order `--help` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "harness.sim.cli",
    "harness.report.cli",
    "harness.plan.cli",
    "harness.baseline.cli",
    "harness.batch.cli",
    "harness.devtools.synth_cli",
    "harness.batchapi.cli",
    "harness.devtools.benchtable",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description=(
            "Benchmark and regression harness for local LLM servers. The measurements run "
            "as pytest suites (pytest suites/context_limits -m gpu); this command serves the "
            "simulator, renders and compares stored runs, and drives batch jobs."
        ),
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; its exit code, 2 for bad input, 3 when no server answers, 130 on
    Ctrl-C (at any moment, imports included), each with one line on stderr."""
    try:
        with interrupt.running():
            return _dispatch(argv)
    except KeyboardInterrupt:
        return interrupted()


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = cast(Callable[[argparse.Namespace], int] | None, getattr(args, "func", None))
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except EngineError as exc:  # a network fault that outlasted the retries: not bad input
        sys.stderr.write(f"harness: error: {exc}\n")
        return 3
    except HarnessError as exc:
        sys.stderr.write(f"harness: error: {exc}\n")
        return 2


def interrupted() -> int:
    """One line and 130; a second Ctrl-C while the interpreter shuts down ends it at once
    (the default action), instead of printing a traceback from its clean-up."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.stderr.write(interrupt.MESSAGE + "\n")
    return interrupt.EXIT_CODE


if __name__ == "__main__":
    raise SystemExit(main())
