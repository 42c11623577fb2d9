"""Switches that turn the simulator into a *broken* server, to prove the harness notices.

Each reproduces a real bug class: a server that reloads on every request, one that divides
the context among slots, one without a prefix cache, one that truncates without the
`prompt_eval_count` sign, one that ignores `keep_alive`. All default to off.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    reload_every_request: bool = False
    ctx_scaled_by_slots: bool = False  # each slot gets num_ctx / num_parallel tokens
    no_prefix_cache: bool = False
    silent_truncation_no_sign: bool = False  # prompt_eval_count reports what was sent
    ignore_keep_alive: bool = False  # always the 5m default
