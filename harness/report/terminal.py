"""The compact table of cases that ends the pytest terminal summary."""

from __future__ import annotations

from typing import Protocol

from harness.results.recording import RunRecorder
from harness.results.schema import Case, as_run


class TerminalWriter(Protocol):
    def write_sep(self, sep: str, title: str, **markup: bool) -> None: ...

    def write_line(self, line: str, **markup: bool) -> None: ...


_COLUMNS = ("case", "verdict", "TTFT p50", "prompt tok/s", "decode tok/s", "stability")


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def case_row(case: Case) -> tuple[str, ...]:
    return (
        case.id,
        case.verdict,
        _fmt(case.p50("ttft_s"), "{:.3f} s"),
        _fmt(case.p50("prompt_tok_s"), "{:.0f}"),
        _fmt(case.p50("decode_tok_s"), "{:.1f}"),
        _fmt(case.stability.score if case.stability else None, "{:.2f}"),
    )


def write_summary(tr: TerminalWriter, harness: RunRecorder) -> None:
    title = "harness results" + (" (SIMULATED)" if harness.simulated else "")
    tr.write_sep("=", title)
    cases = [Case.from_json(c) for c in harness.cases]
    if cases:
        rows = [_COLUMNS, *(case_row(c) for c in cases)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
        for index, row in enumerate(rows):
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            tr.write_line(line.rstrip(), bold=index == 0)
    finished = harness.finished_payload
    run = as_run(finished) if finished is not None else None
    limits = run.limits if run is not None and finished else ()
    if limits:
        from harness.limits.report import format_recommendations

        for limit in limits:
            for line in format_recommendations(limit).splitlines():
                tr.write_line(line)
    plan_trims = False
    if run is not None:  # seed 000's tables, the job plan, use cases
        from harness.plan.render import plan_has_trim, terminal_lines

        run_dir = harness.writer.run_dir if harness.writer is not None else None
        for line in terminal_lines(run, run_dir):
            tr.write_line(line)
        plan_trims = plan_has_trim(run)
    for case in cases:
        # Conversation batching: settings from measured growth, unless the plan gives them.
        if case.trim_plan and not plan_trims:
            from harness.batch.analyze import plan_lines

            tr.write_line(f"{case.id}:")
            for line in plan_lines(dict(case.trim_plan)):
                tr.write_line(f"  {line}")
    for note in harness.notes:
        tr.write_line(note)
    if harness.writer is not None:
        tr.write_line(f"results: {harness.writer.run_dir}")
        tr.write_line(f"report:  {harness.reports_dir / 'latest' / 'report.html'}")
