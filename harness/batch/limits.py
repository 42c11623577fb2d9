"""`harness batch run --limits RESULTS`: the trim threshold and context of a limits run.

RESULTS is a run's `results.json` or its folder (`reports/runs/<id>/`, `reports/latest/`).
Its `limits` section (suites/context_limits) holds one entry per model; an entry that
passed carries `recommendations` (MAX_CONTEXT_TOKENS, CONTEXT_TRIM_THRESHOLD, ...), and
the batch takes its trim threshold and, unless `--num-ctx` is given, its context from them.
Anything else (no such file, no limits section, another model, a search that failed) is a
ConfigError that says what was found and what to run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError, ResultsError
from harness.results.schema import Limit, load_run

LIMITS_COMMAND = "pytest suites/context_limits --matrix NAME"


@dataclass(frozen=True)
class LimitsChoice:
    """What a batch takes from one model's limits entry."""

    model: str
    trim_threshold: int
    max_context_tokens: int
    bound: str | None
    source: Path

    def text(self) -> str:
        bound = f", bounded by {self.bound}" if self.bound else ""
        return (
            f"limits from {self.source} ({self.model}{bound}): trim threshold "
            f"{self.trim_threshold:,} tokens, context {self.max_context_tokens:,}"
        )


def _results_file(path: Path) -> Path:
    if path.is_dir():
        found = path / "results.json"
        if not found.is_file():
            raise ConfigError(
                f"--limits {str(path)!r}: no results.json in that folder (a run still going, "
                "or not a run folder); give a finished run's folder or its results.json"
            )
        return found
    if not path.is_file():
        raise ConfigError(
            f"--limits {str(path)!r}: no such file or folder; give a run folder such as "
            "reports/latest or its results.json"
        )
    return path


def read_limits(path: Path, model: str | None) -> LimitsChoice:
    """The limits entry of `model` (or the only one) in the run at `path`, if it passed."""
    source = _results_file(path)
    try:
        run = load_run(source)
    except ResultsError as exc:
        raise ConfigError(f"--limits: {exc}") from exc
    if not run.limits:
        raise ConfigError(
            f"--limits {str(source)!r}: the run has no context_limits result; run "
            f"`{LIMITS_COMMAND}` first and give its run folder"
        )
    entry = _entry_for(source, run.limits, model)
    threshold = entry.recommendations.trim_threshold
    context = entry.recommendations.max_context_tokens
    if threshold is None or context is None:
        raise ConfigError(
            f"--limits {str(source)!r}: the limits search for {entry.model} did not pass "
            f"({entry.verdict or 'no verdict'}: {entry.reason or 'no reason recorded'}), so it "
            "recommends no trim threshold; fix what it says and run the limits suite again, "
            "or give --trim-threshold yourself"
        )
    if threshold < 1 or context < 1:
        raise ConfigError(
            f"--limits {str(source)!r}: {entry.model}'s recommendations have no usable "
            f"trim_threshold / max_context_tokens ({threshold:g} / {context:g})"
        )
    return LimitsChoice(entry.model, int(threshold), int(context), entry.bound, source)


def _entry_for(source: Path, entries: Sequence[Limit], model: str | None) -> Limit:
    names = [e.model for e in entries]
    if model is None:
        if len(entries) == 1:
            return entries[0]
        raise ConfigError(
            f"--limits {str(source)!r}: the run has limits for {len(entries)} models "
            f"({', '.join(names)}); say which with --model"
        )
    wanted = {model, model.removesuffix(":latest"), f"{model}:latest"}
    for entry in entries:
        if entry.model in wanted:
            return entry
    raise ConfigError(
        f"--limits {str(source)!r}: no limits for --model {model!r}; the run has: "
        f"{', '.join(names)}"
    )
