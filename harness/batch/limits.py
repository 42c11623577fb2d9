"""`harness batch run --limits RESULTS`: the trim threshold and context of a limits run.

RESULTS is a run's `results.json` or its folder (`reports/runs/<id>/`, `reports/latest/`).
Its `limits` section (suites/context_limits) holds one entry per model; an entry that
passed carries `recommendations` (MAX_CONTEXT_TOKENS, CONTEXT_TRIM_THRESHOLD, ...), and
the batch takes its trim threshold and, unless `--num-ctx` is given, its context from them.
Anything else (no such file, no limits section, another model, a search that failed) is a
ConfigError that says what was found and what to run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

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
        payload = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--limits {str(source)!r}: not a readable results.json ({exc})") from exc
    entries = payload.get("limits") if isinstance(payload, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"--limits {str(source)!r}: the run has no context_limits result; run "
            f"`{LIMITS_COMMAND}` first and give its run folder"
        )
    entry = _entry_for(source, [e for e in entries if isinstance(e, Mapping)], model)
    name = str(entry.get("model"))
    rec = entry.get("recommendations")
    if not isinstance(rec, Mapping):
        verdict = entry.get("verdict") or "no verdict"
        reason = entry.get("reason") or "no reason recorded"
        raise ConfigError(
            f"--limits {str(source)!r}: the limits search for {name} did not pass "
            f"({verdict}: {reason}), so it recommends no trim threshold; fix what it says and "
            "run the limits suite again, or give --trim-threshold yourself"
        )
    threshold: Any = rec.get("trim_threshold")
    context: Any = rec.get("max_context_tokens")
    if not _count(threshold) or not _count(context):
        raise ConfigError(
            f"--limits {str(source)!r}: {name}'s recommendations have no usable "
            f"trim_threshold / max_context_tokens ({threshold!r} / {context!r})"
        )
    bound = entry.get("bound")
    return LimitsChoice(name, int(threshold), int(context), bound and str(bound), source)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _entry_for(
    source: Path, entries: Sequence[Mapping[str, Any]], model: str | None
) -> Mapping[str, Any]:
    names = [str(e.get("model")) for e in entries]
    if model is None:
        if len(entries) == 1:
            return entries[0]
        raise ConfigError(
            f"--limits {str(source)!r}: the run has limits for {len(entries)} models "
            f"({', '.join(names)}); say which with --model"
        )
    wanted = {model, model.removesuffix(":latest"), f"{model}:latest"}
    for entry in entries:
        if str(entry.get("model")) in wanted:
            return entry
    raise ConfigError(
        f"--limits {str(source)!r}: no limits for --model {model!r}; the run has: "
        f"{', '.join(names)}"
    )
