"""`harness compare BASELINE RUN`: the nightly regression gate.

Exit codes are the contract CI relies on: 0 when nothing regressed (improvements, new, noisy,
missing and incomparable cases included), 1 when any case regressed, 2 on unusable input
(raised as HarnessError and turned into 2 by `harness.cli.main`; argparse also exits 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.baseline import METRICS, BaselineStore, CompareConfig, compare_runs, load_comparable


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use e.g. 0.10") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction like 0.10 (= 10%)")
    return value


def _alpha(text: str) -> float:
    value = _fraction(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1, e.g. 0.01")
    return value


def _metric_tolerance(text: str) -> tuple[str, float]:
    known = [m.name for m in METRICS]
    metric, sep, value = text.partition("=")
    if not sep or metric not in known:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not METRIC=FRACTION with METRIC one of {', '.join(known)}"
        )
    return metric, _fraction(value)


def register(subparsers: Any) -> None:
    """Add the `compare` subcommand to the `harness` command."""
    parser = subparsers.add_parser(
        "compare",
        help="compare a run with a stored baseline; exit 1 on regression",
        description=(
            "Compare RUN with BASELINE case by case. A metric regresses when its median moves "
            "the wrong way by more than the tolerance AND the move is significant (one-sided "
            "Mann-Whitney p < alpha with >= 5 samples a side, else a bootstrap interval of the "
            "ratio of medians). Exit status: 0 no regression, 1 regression, 2 bad input."
        ),
    )
    parser.add_argument("baseline", metavar="BASELINE", help="baseline NAME or path to a file")
    parser.add_argument(
        "run", metavar="RUN", help="a run's results.json, or its folder (e.g. reports/latest)"
    )
    parser.add_argument(
        "--tolerance", type=_fraction, default=0.10, help="allowed change (default 0.10)"
    )
    parser.add_argument(
        "--metric-tolerance",
        type=_metric_tolerance,
        action="append",
        default=[],
        metavar="METRIC=FRACTION",
        help="per-metric tolerance, repeatable (e.g. ttft_s=0.15)",
    )
    parser.add_argument(
        "--alpha", type=_alpha, default=0.01, help="significance level (default 0.01)"
    )
    parser.add_argument(
        "--force", action="store_true", help="compare even when the machine fingerprints differ"
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=Path("reports"),
        help="where baselines/ lives (default: reports)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the comparison as JSON instead of a table"
    )
    parser.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """Load both sides, compare, print, and return the exit status."""
    cfg = CompareConfig(
        tolerance=args.tolerance,
        per_metric_tolerance=dict(args.metric_tolerance),
        alpha=args.alpha,
        force=args.force,
    )
    baseline = BaselineStore(args.reports_dir / "baselines").load(args.baseline)
    report = compare_runs(baseline, load_comparable(args.run), cfg)
    if args.json:
        payload = {
            "summary": report.to_json(),
            "cases": [case.to_json() for case in report.cases],
        }
        sys.stdout.write(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    else:
        sys.stdout.write(report.table())
    return 1 if report.regressed else 0
