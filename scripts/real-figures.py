"""Print what the real-server groups measured, from the runs they kept (CI's last lines).

`tests/real_ollama` copies each suite run's results.json into $HARNESS_REAL_REPORTS (when
set); `.ci/run` sets it and runs this after `make test`, so CI's record, which keeps only
the end of the output, holds the real server's figures on CI's machine for the README.

    python scripts/real-figures.py reports/real-ollama
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import ResultsError
from harness.results.schema import Case, load_run

METRICS = (
    ("ttft_s", "TTFT p50 s"),
    ("prompt_tok_s", "prompt tok/s"),
    ("decode_tok_s", "decode tok/s"),
    ("ttft_gap_s", "client-server TTFT gap p50 s"),
)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def case_line(case: Case) -> str:
    parts = [
        f"{label} {value:.4g}" for key, label in METRICS if (value := case.p50(key)) is not None
    ]
    return f"real {case.id}: {case.verdict or case.outcome}; " + ", ".join(parts)


def main(folder: Path) -> int:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        say(f"real figures: none kept in {folder} (the real groups skipped?)")
        return 0
    for path in files:
        try:
            run = load_run(path)
        except ResultsError as exc:
            say(f"real figures: {exc}")
            continue
        for case in run.cases:
            say(case_line(case))
        for limit in run.limits:
            r2 = "-" if limit.r2 is None else f"{limit.r2:.4f}"
            say(
                f"real limits {limit.model}: {limit.verdict}, largest context "
                f"{count(limit.max_context)}, {count(limit.bytes_per_token)} bytes/token "
                f"(R^2 {r2}), bound {limit.bound or '-'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "reports/real-ollama")))
