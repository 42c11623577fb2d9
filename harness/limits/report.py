"""The limits for people: a terminal block per model, and the seed's `context_limit_results.json`.

Both read the serialized `limits` entries (results.json), never live objects, so they work
on a stored run as well as at the end of this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.results.writer import write_json_atomic

RESULTS_NAME = "context_limit_results.json"
GIB = 1024**3


def _ctx(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _largest(limit: Mapping[str, Any], device: str) -> str:
    """The maximum and what bounded it: memory, the server's cap or the trained context."""
    top = _ctx(limit.get("max_context"))
    bound = limit.get("bound")
    if bound == "trained_context":
        at = [p for p in limit.get("probes") or [] if p.get("num_ctx") == limit.get("max_context")]
        used, cap = (at[-1].get("memory_bytes"), at[-1].get("capacity_bytes")) if at else (0, 0)
        room = f": {used / GIB:.1f} GiB used, {cap / GIB:.1f} GiB available" if used and cap else ""
        return (
            f"  largest context: {top}, the model's trained context (memory did not bound it{room})"
        )
    if bound == "server_cap":
        return f"  largest context: {top}, the server's cap (it loads no more; not memory)"
    return f"  largest context that fits ({device} budget): {top}"


def _margin(limit: Mapping[str, Any]) -> str:
    if limit.get("bound") in ("trained_context", "server_cap"):
        return "the maximum itself; the 80% margin is only for a memory bound"
    return "80% of the maximum"


def _headline(limit: Mapping[str, Any]) -> list[str]:
    verdict = str(limit.get("verdict", "?")).upper()
    device = "GPU" if limit.get("device") == "gpu" else "RAM"
    lines = [f"{limit.get('model')} on {limit.get('hardware')}: {verdict}"]
    lines.append(_largest(limit, device))
    if limit.get("spill_context"):
        lines.append(f"  spills to the CPU at: {_ctx(limit['spill_context'])}")
    bpt, base, r2 = limit.get("bytes_per_token"), limit.get("base_bytes"), limit.get("r2")
    if bpt is not None and base is not None:
        lines.append(
            f"  memory = {base / GIB:.2f} GiB + {bpt / 1024**2:.4f} MiB x tokens "
            f"({bpt:,.0f} bytes/token, R^2 {r2 if r2 is not None else '-'})"
        )
    memory = limit.get("memory") or {}
    if memory.get("name"):
        lines.append(f"  memory measured by: {memory['name']} ({memory.get('reason', '')})")
    prediction = limit.get("prediction") or {}
    kv, kv_all = (
        prediction.get("kv_bytes_per_token"),
        prediction.get("kv_bytes_per_token_all_layers"),
    )
    if kv:
        also = f"; {kv_all:,.0f} if every layer kept the whole context" if kv_all != kv else ""
        if prediction.get("full_window_caches"):
            also = " (this server keeps full-size sliding-window caches: every layer grows)"
        lines.append(f"  KV cache alone (analytic): {kv:,.0f} bytes/token{also}")
    error = prediction.get("bytes_per_token_error")
    if error is not None:
        lines.append(f"  predicted bytes/token off by {error:+.1%}")
    elif prediction.get("note"):
        lines.append(f"  {prediction['note']}")
    search = limit.get("search") or {}
    lines.append(
        f"  probes: {search.get('probes', '?')} search (bound {search.get('max_probes', '?')}), "
        f"{len(limit.get('probes') or [])} in all"
    )
    return lines


def format_recommendations(limit: Mapping[str, Any]) -> str:
    """A `limits` entry as the lines the terminal summary prints for it."""
    lines = _headline(limit)
    if limit.get("verdict") != "pass":
        lines.append(f"  reason: {limit.get('reason', '')}")
        lines.append("  no settings to paste: the measurement did not pass")
    settings = (limit.get("recommendations") or {}).get("settings_text")
    if settings:
        lines.append(f"  recommended settings ({_margin(limit)}):")
        lines += [f"    {line}" if line else "" for line in str(settings).splitlines()]
    return "\n".join(lines)


def write_context_limit_results(run_dir: Path, payload: Mapping[str, Any]) -> Path:
    """Write `payload["limits"]` to RUN_DIR/context_limit_results.json; return its path."""
    path = Path(run_dir) / RESULTS_NAME
    write_json_atomic(path, list(payload.get("limits") or []))
    return path
