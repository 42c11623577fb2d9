"""`harness batch run | from-csv | analyze`.

`run` reads OpenAI batch JSONL and appends one OpenAI batch output line per request to
--out; running it again with the same --out resumes, skipping every custom_id already
there. `--engine sim` starts the built-in simulator for a dry run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.batch.analyze import analyze, format_analysis, plan_lines
from harness.batch.context import ContextSettings
from harness.batch.csvconvert import ImportantRows, csv_to_batch
from harness.batch.executor import BatchEngine, BatchSettings, RetryPolicy
from harness.batch.growth import estimated_growth, trim_settings
from harness.batch.jsonl import count_lines, iter_lines, read_requests
from harness.batch.limits import read_limits
from harness.batch.memory import MemoryProbe, SimProbe, close_probe, host_probe, nvml_probe
from harness.batch.output import OutputWriter
from harness.batch.progress import Progress
from harness.batch.strategies import STRATEGIES
from harness.batch.trim import TRIMMERS
from harness.cases.options import positive_float, positive_int
from harness.engines import ENGINE_KINDS, Engine
from harness.engines.base import Simulated
from harness.engines.pool import SimSettings, open_engine
from harness.errors import ConfigError, EngineError, HarnessError
from harness.plan.preset import add_plan_option, apply_plan


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer >= 0")
    return number


def register(subparsers: Any) -> None:
    batch = subparsers.add_parser(
        "batch", help="run OpenAI-format batch jobs (resumable), convert CSV, analyze output"
    )
    sub = batch.add_subparsers(dest="batch_command", metavar="ACTION", required=True)
    _register_run(sub)
    csv_p = sub.add_parser("from-csv", help="turn CSV rows into batch JSONL with a template")
    csv_p.add_argument("csv", type=Path, metavar="CSV")
    csv_p.add_argument("--system-prompt", type=Path, required=True, metavar="FILE")
    csv_p.add_argument("--template", required=True, help="user message with {column} placeholders")
    csv_p.add_argument("--out", type=Path, required=True, metavar="JSONL")
    csv_p.add_argument("--model", help="model written into every body")
    csv_p.add_argument("--id-column", help="column for custom_id (default: custom_id or id)")
    csv_p.add_argument("--max-tokens", type=positive_int, help="max_tokens of every request")
    _threshold_option(csv_p, "for the trim settings estimated from the input")
    csv_p.add_argument(
        "--important-column", metavar="COLUMN",
        help="mark rows whose COLUMN is 1/true/yes/y/x as important (kept by the importance "
        "and hybrid trims); an empty cell or 0/false/no/n is not",
    )  # fmt: skip
    csv_p.add_argument(
        "--important-ids", metavar="ID,...",
        help="mark the rows with these custom_ids as important (comma-separated)",
    )  # fmt: skip
    csv_p.set_defaults(func=cmd_from_csv)
    an = sub.add_parser("analyze", help="summarise a batch output file (and its trims)")
    an.add_argument("out", type=Path, metavar="OUT")
    an.add_argument("--json", action="store_true", help="print the analysis as JSON")
    _threshold_option(an, "for the trim settings from the measured conversation growth")
    an.set_defaults(func=cmd_analyze)


def _threshold_option(parser: argparse.ArgumentParser, purpose: str) -> None:
    parser.add_argument(
        "--trim-threshold", type=positive_int, default=28_000, metavar="TOKENS",
        help=f"the conversation's trim threshold {purpose} (default 28000; the limits "
        "suite's CONTEXT_TRIM_THRESHOLD is the measured one)",
    )  # fmt: skip


def _register_run(sub: Any) -> None:
    run = sub.add_parser("run", help="run a batch JSONL; re-run with the same --out to resume")
    run.add_argument("input", type=Path, metavar="INPUT")
    run.add_argument("--model", help="model for every request (default: each body's model)")
    run.add_argument("--out", type=Path, required=True, help="output JSONL (appended)")
    run.add_argument("--strategy", choices=STRATEGIES, default="independent")
    run.add_argument("--trim-strategy", choices=tuple(TRIMMERS), default="sliding_window")
    run.add_argument(
        "--trim-interval", type=_non_negative, default=50, metavar="N",
        help="trim a conversation N requests after its last trim of any kind; 0 turns this "
        "trigger off (default 50)",
    )  # fmt: skip
    run.add_argument(
        "--trim-threshold",
        type=positive_int,
        default=28_000,
        metavar="TOKENS",
        help="trim when the estimated context exceeds this (default 28000)",
    )
    run.add_argument(
        "--keep-messages",
        type=positive_int,
        default=40,
        metavar="K",
        help="messages a trim keeps besides the system prompt (default 40)",
    )
    run.add_argument(
        "--memory-warning",
        type=positive_float,
        default=0.875,
        metavar="FRACTION",
        help="trim aggressively above this share of GPU memory (host RAM for a CPU-only server "
        "on this machine; default 0.875)",
    )
    run.add_argument(
        "--concurrency",
        type=positive_int,
        default=1,
        metavar="N",
        help="requests in flight; a conversation always runs in order (default 1)",
    )
    run.add_argument(
        "--max-attempts",
        type=positive_int,
        default=4,
        metavar="N",
        help="tries per request on busy/disconnect/timeout (default 4)",
    )
    run.add_argument(
        "--retry-delay",
        type=positive_float,
        default=0.5,
        metavar="SECONDS",
        help="first backoff, doubled each retry up to 8 s (default 0.5)",
    )
    run.add_argument("--num-ctx", type=positive_int, metavar="N", help="Ollama num_ctx for all")
    run.add_argument("--server", help="server URL (default: $OLLAMA_HOST as Ollama parses it)")
    run.add_argument("--engine", choices=ENGINE_KINDS, default="ollama")
    run.add_argument("--sim-profile", default="tiny", metavar="P")
    run.add_argument("--sim-speed", type=positive_float, default=1.0, metavar="X")
    run.add_argument("--sim-faults", metavar="SPEC", help="e.g. disconnect=0.05,seed=3")
    run.add_argument("--progress", action="store_true", help="progress line even without a TTY")
    run.add_argument(
        "--limits", type=Path, metavar="RESULTS",
        help="take the trim threshold (and, without --num-ctx, num_ctx) from a context_limits "
        "run: its folder or results.json",
    )  # fmt: skip
    run.add_argument(
        "--no-adaptive", dest="adaptive", action="store_false",
        help="keep the trim threshold even when memory nears the budget (by default it drops "
        "to 90%% of the largest context that ran safely)",
    )  # fmt: skip
    run.add_argument(
        "--adapt-at", type=positive_float, metavar="FRACTION",
        help="memory share that counts as near the budget (default: --memory-warning - 0.05)",
    )  # fmt: skip
    run.set_defaults(func=cmd_run)
    add_plan_option(run)  # last: it wraps the defaults of the options a plan can set


@contextmanager
def _server(args: argparse.Namespace) -> Iterator[tuple[Engine, MemoryProbe | None]]:
    sim = SimSettings(args.sim_profile, args.sim_speed, args.sim_faults, (), 1)
    with open_engine(args.engine, args.server, sim) as engine:
        probe = SimProbe(engine.base_url) if isinstance(engine, Simulated) else nvml_probe()
        from harness.hardware.locality import is_local_url  # the hardware package is heavy

        if probe is None and is_local_url(engine.base_url):
            probe = host_probe()  # a CPU-only server on this machine: its RAM is the device
        try:
            yield engine, probe
        finally:
            close_probe(probe)


def settings_from_args(args: argparse.Namespace) -> BatchSettings:
    context = ContextSettings(
        strategy=args.trim_strategy,
        trim_interval=args.trim_interval or None,
        trim_threshold=args.trim_threshold,
        keep_messages=max(args.keep_messages, 2),
        memory_warning=min(args.memory_warning, 1.0),
    )
    return BatchSettings(
        model=args.model,
        strategy=args.strategy,
        context=context,
        concurrency=args.concurrency,
        retry=RetryPolicy(max_attempts=args.max_attempts, base_delay_s=args.retry_delay),
        options={"num_ctx": args.num_ctx} if args.num_ctx else {},
    )


def limits_and_adaptive(args: argparse.Namespace, settings: BatchSettings) -> BatchSettings:
    """--limits, --no-adaptive and --adapt-at applied to the settings of the other flags."""
    context = replace(settings.context, adaptive=args.adaptive, adapt_at=args.adapt_at)
    options = dict(settings.options)
    if args.limits is not None:
        if args.trim_threshold != ContextSettings().trim_threshold:
            raise ConfigError(
                "--limits sets the trim threshold: leave out --trim-threshold, or use a --plan "
                "without one"
            )
        choice = read_limits(args.limits, args.model)
        context = replace(context, trim_threshold=choice.trim_threshold)
        if not args.num_ctx:
            options["num_ctx"] = choice.max_context_tokens
        sys.stderr.write(choice.text() + "\n")
    return replace(settings, context=context, options=options)


def cmd_run(args: argparse.Namespace) -> int:
    apply_plan(args)  # --plan's settings where the command line gave none
    if not args.input.is_file():
        raise ConfigError(f"batch input {str(args.input)!r} is not a file")
    settings = limits_and_adaptive(args, settings_from_args(args))
    total = count_lines(args.input)
    show = args.progress or sys.stderr.isatty()
    with _server(args) as (engine, probe), OutputWriter(args.out) as writer:
        progress = Progress(sys.stderr if show else None, total)
        batch = BatchEngine(engine, settings, memory=probe, progress=progress)
        summary = batch.run(read_requests(iter_lines(args.input)), writer, writer.done)
        summary = replace(summary, earlier_errors=dict(writer.earlier_errors))
    sys.stderr.write(summary.text() + "\n")
    for event in batch.context.lowered:
        sys.stderr.write(f"adaptive limit: {event.text()}\n")
    if summary.trims:
        sys.stderr.write(f"trims recorded in {writer.trims_path}\n")
    if summary.interrupted:
        sys.stderr.write(f"interrupted: run the same command again to resume into {args.out}\n")
        return 130
    return 0 if summary.clean else 1


def cmd_from_csv(args: argparse.Namespace) -> int:
    try:
        system = args.system_prompt.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read --system-prompt {str(args.system_prompt)!r}") from exc
    marks = ImportantRows.from_args(args.important_column, args.important_ids)
    count = csv_to_batch(
        args.csv, system, args.template, args.out,
        model=args.model, id_column=args.id_column, max_tokens=args.max_tokens,
        important=marks,
    )  # fmt: skip
    sys.stdout.write(f"wrote {count} requests to {args.out}\n")
    if marks is not None:
        sys.stdout.write(
            f"{marks.marked} marked important: the importance and hybrid trims keep them "
            "(--strategy conversation --trim-strategy importance|hybrid)\n"
        )
    growth = estimated_growth(read_requests(iter_lines(args.out)))
    if growth is not None:
        plan = trim_settings(args.trim_threshold, growth).as_dict()
        sys.stdout.write("\n".join(plan_lines(plan)) + "\n")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    result = analyze(args.out, args.trim_threshold)
    text = json.dumps(result, indent=1) if args.json else format_analysis(result)
    sys.stdout.write(text + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.batch.cli run ...`: the batch commands alone, same exit codes."""
    from harness import interrupt
    from harness.cli import interrupted

    try:
        with interrupt.running():
            return _main(argv)
    except KeyboardInterrupt:
        return interrupted()


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="harness")
    register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(["batch", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except EngineError as exc:  # a network fault that outlasted the retries: not bad input
        sys.stderr.write(f"harness: error: {exc}\n")
        return 3
    except HarnessError as exc:
        sys.stderr.write(f"harness: error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
