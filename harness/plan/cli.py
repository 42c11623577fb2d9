"""`harness plan RUN`: the job plan and use-case recommendations of a stored run.

RUN is a run folder, a results.json file, a run id under --reports-dir, or `latest`.
The plan is computed from the run's results (the same function the run itself used), so a
run stored before plans existed gets one too; `--job-requests N` plans for another job size
(the time carried along the fitted line, its interval scaled by the same ratio).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.cases.options import positive_int
from harness.report.cli import DEFAULT_RUNS_DIR, resolve_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="print the job plan (strategy, num_ctx, trims, parallel, time, memory, savings) "
        "and use-case recommendations of a stored run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "run", metavar="RUN", help="a run folder, a results.json file, a run id or 'latest'"
    )
    parser.add_argument(
        "--job-requests", type=positive_int, metavar="N",
        help="requests in the job (default: the run's projection target, 170,000 unless its "
        "throughput section's extrapolate_to says otherwise)",
    )  # fmt: skip
    parser.add_argument(
        "--model", metavar="NAME",
        help="the model of the job (default: the first the throughput suite measured)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument(
        "--write", action="store_true",
        help="(re)write job-plan.yaml and presets/*.yaml in the run folder",
    )  # fmt: skip
    parser.add_argument(
        "--reports-dir", type=Path, default=DEFAULT_RUNS_DIR, metavar="DIR",
        help=f"where run folders live (default: {DEFAULT_RUNS_DIR})",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.plan.job import plan_job
    from harness.plan.preset import write_presets
    from harness.plan.render import stored_or_computed, terminal_lines
    from harness.results.schema import load_run

    run_dir = resolve_run(str(args.run), Path(args.reports_dir))
    run = load_run(run_dir)
    # Always recomputed: the function is pure, so a stored run gets today's plan.
    plan = plan_job(run, args.job_requests, args.model)
    _, recs = stored_or_computed(run)
    if args.json:
        out = {"job_plan": plan.to_json(), "recommendations": [r.to_json() for r in recs]}
        sys.stdout.write(json.dumps(out, indent=1) + "\n")
    else:
        lines = terminal_lines(run, run_dir, plan)
        if not plan.measured and not recs:
            lines.append(
                f"{run_dir}: measured nothing a plan uses (throughput, context limits, capacity) "
                "and no use-case cells; run pytest suites/throughput --matrix NAME"
            )
        sys.stdout.write("\n".join(lines) + "\n")
    if args.write:
        for path in write_presets(run_dir, plan, recs, run.run_id or run_dir.name):
            sys.stderr.write(f"wrote {path}\n")
    # 1 when the run measured something for a plan but not enough for settings.
    return 1 if plan.measured and not plan.ready else 0
