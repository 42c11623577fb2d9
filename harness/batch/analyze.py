"""`harness batch analyze OUT`: counts, errors by code, latency percentiles, tokens, trims,
and for conversation batching the measured growth per request with the trim settings that
follow from it (harness.batch.growth).

Reads the output (and its `OUT.trims.jsonl` sidecar) as a stream; only the latencies and
each conversation's prompt counts are kept, 8 bytes a request each.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.batch.growth import measured_growth, trim_settings
from harness.batch.output import trims_path
from harness.errors import ConfigError
from harness.measure.stats import percentile


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if line.endswith("\n"):
                    raise ConfigError(f"{path}:{number}: not a JSON record") from None
                return  # a torn last line: a resume will cut it off
            if isinstance(record, dict):
                yield record


def analyze(path: Path, trim_threshold: int = 28_000) -> dict[str, Any]:
    """The analysis of one output file as a JSON-able dict; trim settings for `trim_threshold`."""
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    latencies: array[float] = array("d")
    tokens = {"prompt": 0, "completion": 0}
    custom_ids: set[str] = set()
    duplicates = 0
    turns: dict[str, dict[int, int]] = {}  # conversation -> turn -> prompt tokens
    for record in _records(path):
        cid = record.get("custom_id")
        if isinstance(cid, str) and record.get("response") is not None:
            duplicates += cid in custom_ids
            custom_ids.add(cid)
        error = record.get("error")
        if isinstance(error, dict):
            counts["failed"] += 1
            codes[str(error.get("code"))] += 1
        else:
            counts["succeeded"] += 1
            usage = ((record.get("response") or {}).get("body") or {}).get("usage") or {}
            tokens["prompt"] += int(usage.get("prompt_tokens") or 0)
            tokens["completion"] += int(usage.get("completion_tokens") or 0)
            _turn(turns, record.get("harness") or {}, usage.get("prompt_tokens"))
        latency = (record.get("harness") or {}).get("latency_s")
        if isinstance(latency, int | float):
            latencies.append(float(latency))
    return {
        "file": str(path),
        "requests": counts["succeeded"] + counts["failed"],
        "succeeded": counts["succeeded"],
        "failed": counts["failed"],
        "duplicates": duplicates,
        "errors": dict(codes.most_common()),
        "latency_s": _percentiles(list(latencies)),
        "tokens": {**tokens, "total": tokens["prompt"] + tokens["completion"]},
        "trims": analyze_trims(trims_path(path)),
        "trim_plan": _trim_plan(turns, trim_threshold),
    }


def _turn(turns: dict[str, dict[int, int]], extra: dict[str, Any], prompt: Any) -> None:
    key, turn = extra.get("conversation"), extra.get("turn")
    if extra.get("strategy") == "conversation" and isinstance(key, str) and isinstance(turn, int):
        if isinstance(prompt, int) and prompt > 0:
            turns.setdefault(key, {})[turn] = prompt


def _trim_plan(turns: dict[str, dict[int, int]], threshold: int) -> dict[str, Any] | None:
    growth = measured_growth([[t[k] for k in sorted(t)] for t in turns.values()])
    return None if growth is None else trim_settings(threshold, growth).as_dict()


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    out = {f"p{q}": round(percentile(values, q), 6) for q in (50, 90, 95, 99)}
    out["mean"] = round(sum(values) / len(values), 6)
    out["max"] = round(max(values), 6)
    return out


def analyze_trims(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"count": 0, "threshold_lowered": []}
    reasons: Counter[str] = Counter()
    before = after = 0
    lowered: list[dict[str, Any]] = []
    for event in _records(path):
        if event.get("event") == "threshold_lowered":  # the adaptive limit, not a trim
            lowered.append(event)
            continue
        reasons[str(event.get("reason"))] += 1
        before += int(event.get("tokens_before") or 0)
        after += int(event.get("tokens_after") or 0)
    n = sum(reasons.values())
    return {
        "count": n,
        "threshold_lowered": lowered,
        "by_reason": dict(reasons.most_common()),
        "mean_tokens_before": round(before / n, 1) if n else None,
        "mean_tokens_after": round(after / n, 1) if n else None,
    }


def format_analysis(a: dict[str, Any]) -> str:
    lines = [
        f"{a['file']}: {a['requests']} requests, {a['succeeded']} ok, {a['failed']} failed"
        + (f", {a['duplicates']} DUPLICATE custom_ids" if a["duplicates"] else ""),
    ]
    if a["errors"]:
        lines.append("errors: " + ", ".join(f"{k} {v}" for k, v in a["errors"].items()))
    lat = a["latency_s"]
    if lat:
        lines.append(
            "latency: "
            + "  ".join(f"{k} {v:.3f} s" for k, v in lat.items() if k in ("p50", "p90", "p99"))
            + f"  max {lat['max']:.3f} s"
        )
    t = a["tokens"]
    lines.append(f"tokens: {t['prompt']} prompt + {t['completion']} completion = {t['total']}")
    trims = a["trims"]
    line = f"trims: {trims['count']}"
    if trims["count"]:
        reasons = ", ".join(f"{k} {v}" for k, v in trims["by_reason"].items())
        line += (
            f" ({reasons}); tokens {trims['mean_tokens_before']:.0f} -> "
            f"{trims['mean_tokens_after']:.0f} on average"
        )
    lines.append(line)
    for event in trims.get("threshold_lowered") or []:
        lines.append(
            f"adaptive limit: trim threshold lowered {event.get('threshold_before'):,} -> "
            f"{event.get('threshold_after'):,} at request {event.get('request_index')} "
            f"(memory {float(event.get('memory_fraction') or 0):.0%}; 90% of the largest "
            f"context that ran safely, {event.get('largest_safe_tokens'):,})"
        )
    plan = a.get("trim_plan")
    if plan:
        lines += plan_lines(plan)
    return "\n".join(lines)


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """A `trim_plan` dict (TrimSettings.as_dict) as the lines the terminal shows."""
    g = plan["growth"]
    return [
        f"conversation growth ({g['source']}, {g['samples']:,} requests): "
        f"{g['tokens_per_request']:,} tokens per request (user message + reply), "
        f"system prompt {g['system_tokens']:,} once",
        f"trim settings for a {plan['trim_threshold']:,}-token threshold: TRIM_INTERVAL = "
        f"{plan['trim_interval']}, KEEP_MESSAGES = {plan['keep_messages']}",
        f"  {plan['command']}",
    ]
