"""Server behaviour (seed 004): the regressions a patched Ollama showed, one test each.

Every test drives one small model through the HTTP API and fails with a sentence saying
what the server did wrong. Against the simulator, `--sim-behaviour SWITCH` breaks the
server on purpose and the matching test fails (tests/server_behaviour proves it).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.behaviour_checks import Finding

RunCheck = Callable[[str], Finding]


# 1. reloads
def test_identical_requests_do_not_reload(run_check: RunCheck) -> None:
    run_check("identical_requests_do_not_reload")


def test_num_ctx_change_reloads_once(run_check: RunCheck) -> None:
    run_check("num_ctx_change_reloads_once")


# 2. NumCtx is per sequence, never scaled by numParallel; memory grows with the slots
def test_context_is_per_sequence(run_check: RunCheck) -> None:
    run_check("context_is_per_sequence")


def test_kv_cache_grows_with_slots(run_check: RunCheck) -> None:
    run_check("kv_cache_grows_with_slots")


# 3. truncation
def test_long_prompt_truncation_is_visible(run_check: RunCheck) -> None:
    run_check("long_prompt_truncation_is_visible")


def test_truncate_false_is_refused(run_check: RunCheck) -> None:
    run_check("truncate_false_is_refused")


# 4. the prefix cache
def test_prefix_cache_follows_new_tokens(run_check: RunCheck) -> None:
    run_check("prefix_cache_follows_new_tokens")


# 5. keep_alive
def test_keep_alive_zero_unloads(run_check: RunCheck) -> None:
    run_check("keep_alive_zero_unloads")


def test_negative_keep_alive_keeps(run_check: RunCheck) -> None:
    run_check("negative_keep_alive_keeps")


def test_short_keep_alive_expires(run_check: RunCheck) -> None:
    run_check("short_keep_alive_expires")
