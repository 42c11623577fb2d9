"""The compact table of cases that ends the pytest terminal summary."""

from __future__ import annotations

from typing import Any, Protocol

from harness.session import HarnessSession


class TerminalWriter(Protocol):
    def write_sep(self, sep: str, title: str, **markup: bool) -> None: ...

    def write_line(self, line: str, **markup: bool) -> None: ...


_COLUMNS = ("case", "verdict", "TTFT p50", "prompt tok/s", "decode tok/s", "stability")


def _fmt(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def case_row(case: dict[str, Any]) -> tuple[str, ...]:
    metrics = case.get("metrics") or {}
    stability = case.get("stability") or {}
    return (
        str(case.get("id")),
        str(case.get("verdict")),
        _fmt((metrics.get("ttft_s") or {}).get("p50"), "{:.3f} s"),
        _fmt((metrics.get("prompt_tok_s") or {}).get("p50"), "{:.0f}"),
        _fmt((metrics.get("decode_tok_s") or {}).get("p50"), "{:.1f}"),
        _fmt(stability.get("score"), "{:.2f}"),
    )


def write_summary(tr: TerminalWriter, harness: HarnessSession) -> None:
    title = "harness results" + (" (SIMULATED)" if harness.simulated else "")
    tr.write_sep("=", title)
    if harness.cases:
        rows = [_COLUMNS, *(case_row(c) for c in harness.cases)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
        for index, row in enumerate(rows):
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            tr.write_line(line.rstrip(), bold=index == 0)
    limits = (harness.finished_payload or {}).get("limits") or []
    if limits:
        from harness.limits.report import format_recommendations

        for limit in limits:
            for line in format_recommendations(limit).splitlines():
                tr.write_line(line)
    plan_trims = False
    if harness.finished_payload is not None:  # seed 000's tables, the job plan, use cases
        from harness.plan.render import plan_has_trim, terminal_lines

        run_dir = harness.writer.run_dir if harness.writer is not None else None
        for line in terminal_lines(harness.finished_payload, run_dir):
            tr.write_line(line)
        plan_trims = plan_has_trim(harness.finished_payload)
    for case in harness.cases:
        # Conversation batching: settings from measured growth, unless the plan gives them.
        if case.get("trim_plan") and not plan_trims:
            from harness.batch.analyze import plan_lines

            tr.write_line(f"{case.get('id')}:")
            for line in plan_lines(case["trim_plan"]):
                tr.write_line(f"  {line}")
    for note in harness.notes:
        tr.write_line(note)
    if harness.writer is not None:
        tr.write_line(f"results: {harness.writer.run_dir}")
        tr.write_line(f"report:  {harness.reports_dir / 'latest' / 'report.html'}")
