"""`harness report RUN`: re-render a stored run's report.html, matrix.md and matrix.csv (and
its job-plan.yaml and presets/ when it measured anything for them).

RUN is a run folder, a results.json file, a run id under --reports-dir, or `latest` (the
newest run there, by run id, which starts with its timestamp).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.errors import ResultsError
from harness.results.schema import RESULTS_FILE

DEFAULT_RUNS_DIR = Path("reports") / "runs"


def register(subparsers: Any) -> None:
    """Add the `report` subcommand to the `harness` command's subparsers."""
    parser = subparsers.add_parser(
        "report",
        help="re-render a run's report.html, matrix.md and matrix.csv from its results.json",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "run",
        metavar="RUN",
        help="a run folder, a results.json file, a run id under --reports-dir, or 'latest'",
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=DEFAULT_RUNS_DIR,
        metavar="DIR",
        help=f"where run folders live (default: {DEFAULT_RUNS_DIR})",
    )
    parser.set_defaults(func=run)


def resolve_run(spec: str, runs_dir: Path) -> Path:
    """The run folder that `spec` names; `ResultsError` listing what was tried otherwise."""
    given = Path(spec)
    if given.is_file():
        return given.parent
    if given.is_dir():
        return given
    candidate = runs_dir / spec
    if candidate.is_dir():
        return candidate
    if spec == "latest":
        runs = sorted(
            (p for p in runs_dir.glob("*") if (p / RESULTS_FILE).is_file()),
            key=lambda p: p.name,
        )
        if runs:
            return runs[-1]
        raise ResultsError(
            f"no run with a {RESULTS_FILE} under {str(runs_dir)!r}; run a suite first "
            "or pass --reports-dir"
        )
    raise ResultsError(
        f"run {spec!r} not found: it is not a folder, not a file and not a run id under "
        f"{str(runs_dir)!r}; pass a run folder, a results.json path, a run id or 'latest'"
    )


def run(args: argparse.Namespace) -> int:
    from harness.report.render import render_run

    run_dir = resolve_run(str(args.run), Path(args.reports_dir))
    for path in render_run(run_dir):
        sys.stdout.write(f"{path}\n")
    return 0
