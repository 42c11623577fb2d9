"""Server-behaviour checks: the regressions seed 004 chased in a patched Ollama.

Each check drives the server through its HTTP API only, so the same checks run against a
real Ollama and against the simulator (whose `--sim-behaviour` switches reproduce each
broken behaviour). `CHECKS` maps a check's name to its function; the suite
`suites/server_behaviour` runs one test per entry.

    base.py     settings, Finding (passed / failed with a sentence / cannot judge), probes
    kv.py       KV cache bytes per token from /api/show
    loading.py  reloads, per-sequence context and slots, keep_alive
    prefill.py  visible truncation, "truncate": false, the prefix cache
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from harness.behaviour_checks.base import (
    DEFAULT_MODEL,
    BehaviourSettings,
    ControlledServer,
    Finding,
    cannot_judge,
)
from harness.behaviour_checks.kv import kv_bytes_per_token
from harness.behaviour_checks.model_loading import (
    context_is_per_sequence,
    identical_requests_do_not_reload,
    keep_alive_zero_unloads,
    kv_cache_grows_with_slots,
    negative_keep_alive_keeps,
    num_ctx_change_reloads_once,
    short_keep_alive_expires,
)
from harness.behaviour_checks.prefill import (
    long_prompt_truncation_is_visible,
    prefix_cache_follows_new_tokens,
    truncate_false_is_refused,
)
from harness.engines.base import (
    Engine,
    LoadControl,
    ServerMemory,
    missing_capabilities,
)

Check = Callable[[Engine, BehaviourSettings], Finding]


def _controlled(check: Callable[[ControlledServer, BehaviourSettings], Finding]) -> Check:
    """`check`, which cannot judge a server that lacks load control or memory figures."""

    @wraps(check)
    def run(engine: Engine, settings: BehaviourSettings) -> Finding:
        if isinstance(engine, ControlledServer):
            return check(engine, settings)
        lacks = missing_capabilities(engine, LoadControl, ServerMemory)
        return cannot_judge(
            f"this {engine.kind} server has no {', '.join(lacks)}: the check loads, unloads "
            "and reads what the server holds (/api/ps), which its API does not offer",
            missing_capabilities=lacks,
        )

    return run


CHECKS: dict[str, Check] = {
    "identical_requests_do_not_reload": _controlled(identical_requests_do_not_reload),
    "num_ctx_change_reloads_once": _controlled(num_ctx_change_reloads_once),
    "context_is_per_sequence": _controlled(context_is_per_sequence),
    "kv_cache_grows_with_slots": _controlled(kv_cache_grows_with_slots),
    "long_prompt_truncation_is_visible": long_prompt_truncation_is_visible,
    "truncate_false_is_refused": truncate_false_is_refused,
    "prefix_cache_follows_new_tokens": _controlled(prefix_cache_follows_new_tokens),
    "keep_alive_zero_unloads": _controlled(keep_alive_zero_unloads),
    "negative_keep_alive_keeps": _controlled(negative_keep_alive_keeps),
    "short_keep_alive_expires": _controlled(short_keep_alive_expires),
}

__all__ = ["CHECKS", "DEFAULT_MODEL", "BehaviourSettings", "Check", "Finding", "kv_bytes_per_token"]
