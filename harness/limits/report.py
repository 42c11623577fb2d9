"""The limits for people: a terminal block per model, and the seed's `context_limit_results.json`.

Both read the serialized `limits` entries (results.json), never live objects, so they work
on a stored run as well as at the end of this one: the terminal block through the typed
model (`harness.results.schema.Limit`), the results file as the JSON itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.results.schema import Limit
from harness.results.writer import write_json_atomic

RESULTS_NAME = "context_limit_results.json"
GIB = 1024**3


def _ctx(value: float | None) -> str:
    """A token count with thousands separators; '-' for none (or a fraction, which no
    context is)."""
    return f"{int(value):,}" if value is not None and value.is_integer() else "-"


def _largest(limit: Limit, device: str) -> str:
    """The maximum and what bounded it: memory, the server's cap or the trained context."""
    top = _ctx(limit.max_context)
    if limit.bound == "trained_context":
        at = [p for p in limit.probes if p.num_ctx == limit.max_context]
        used, cap = (at[-1].memory_bytes, at[-1].capacity_bytes) if at else (0, 0)
        room = f": {used / GIB:.1f} GiB used, {cap / GIB:.1f} GiB available" if used and cap else ""
        return (
            f"  largest context: {top}, the model's trained context (memory did not bound it{room})"
        )
    if limit.bound == "server_cap":
        return f"  largest context: {top}, the server's cap (it loads no more; not memory)"
    return f"  largest context that fits ({device} budget): {top}"


def _margin(limit: Limit) -> str:
    if limit.bound in ("trained_context", "server_cap"):
        return "the maximum itself; the 80% margin is only for a memory bound"
    return "80% of the maximum"


def _fit_line(limit: Limit) -> list[str]:
    bpt, base, r2 = limit.bytes_per_token, limit.base_bytes, limit.r2
    if bpt is None or base is None:
        return []
    return [
        f"  memory = {base / GIB:.2f} GiB + {bpt / 1024**2:.4f} MiB x tokens "
        f"({bpt:,.0f} bytes/token, R^2 {r2 if r2 is not None else '-'})"
    ]


def _prediction_lines(limit: Limit) -> list[str]:
    prediction, lines = limit.prediction, []
    kv, kv_all = prediction.kv_bytes_per_token, prediction.kv_bytes_per_token_all_layers
    if kv:
        also = ""
        if kv_all is not None and kv_all != kv:
            also = f"; {kv_all:,.0f} if every layer kept the whole context"
        if prediction.full_window_caches:
            also = " (this server keeps full-size sliding-window caches: every layer grows)"
        lines.append(f"  KV cache alone (analytic): {kv:,.0f} bytes/token{also}")
    error = prediction.bytes_per_token_error
    if error is not None:
        lines.append(f"  predicted bytes/token off by {error:+.1%}")
    elif prediction.note:
        lines.append(f"  {prediction.note}")
    return lines


def _headline(limit: Limit) -> list[str]:
    verdict = (limit.verdict or "?").upper()
    device = "GPU" if limit.device == "gpu" else "RAM"
    lines = [f"{limit.model} on {limit.hardware}: {verdict}"]
    lines.append(_largest(limit, device))
    if limit.spill_context:
        lines.append(f"  spills to the CPU at: {_ctx(limit.spill_context)}")
    lines += _fit_line(limit)
    if limit.memory_source:
        lines.append(f"  memory measured by: {limit.memory_source} ({limit.memory_reason})")
    lines += _prediction_lines(limit)
    searched = "?" if limit.search_probes is None else limit.search_probes
    bound = "?" if limit.search_max_probes is None else limit.search_max_probes
    lines.append(f"  probes: {searched} search (bound {bound}), {len(limit.probes)} in all")
    return lines


def format_recommendations(limit: Limit) -> str:
    """A `limits` entry as the lines the terminal summary prints for it."""
    lines = _headline(limit)
    if limit.verdict != "pass":
        lines.append(f"  reason: {limit.reason}")
        lines.append("  no settings to paste: the measurement did not pass")
    settings = limit.recommendations.settings_text
    if settings:
        lines.append(f"  recommended settings ({_margin(limit)}):")
        lines += [f"    {line}" if line else "" for line in settings.splitlines()]
    return "\n".join(lines)


def write_context_limit_results(run_dir: Path, payload: Mapping[str, Any]) -> Path:
    """Write `payload["limits"]` to RUN_DIR/context_limit_results.json; return its path."""
    path = Path(run_dir) / RESULTS_NAME
    write_json_atomic(path, list(payload.get("limits") or []))
    return path
