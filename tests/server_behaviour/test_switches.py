"""Each broken-server switch of the simulator fails exactly the checks meant to catch it.

A healthy simulator passes every check; each `--sim-behaviour` switch reproduces one of
seed 004's regressions, and the suite must fail the matching checks (with a message that
names what went wrong) and pass the rest. A check that cannot judge under a switch (the
prefix cache when every request reloads the model) skips, saying why.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.server_behaviour.suite_runs import SuiteRun

ALL_CHECKS = {
    "test_identical_requests_do_not_reload",
    "test_num_ctx_change_reloads_once",
    "test_context_is_per_sequence",
    "test_kv_cache_grows_with_slots",
    "test_long_prompt_truncation_is_visible",
    "test_truncate_false_is_refused",
    "test_prefix_cache_follows_new_tokens",
    "test_keep_alive_zero_unloads",
    "test_negative_keep_alive_keeps",
    "test_short_keep_alive_expires",
}
# switch -> {failing check: a phrase its message must contain}
FAILS: dict[str, dict[str, str]] = {
    "reload_every_request": {
        "test_identical_requests_do_not_reload": "reloaded the model",
        "test_num_ctx_change_reloads_once": "exactly once",
    },
    "ctx_scaled_by_slots": {
        "test_context_is_per_sequence": "divided among the slots",
        "test_kv_cache_grows_with_slots": "divided among the slots",
    },
    "no_prefix_cache": {"test_prefix_cache_follows_new_tokens": "prefix cache is not working"},
    "silent_truncation_no_sign": {
        "test_long_prompt_truncation_is_visible": "silent truncation",
    },
    "ignore_keep_alive": {
        "test_keep_alive_zero_unloads": "keep_alive 0",
        "test_negative_keep_alive_keeps": "ignored the negative keep_alive",
        "test_short_keep_alive_expires": "does not expire",
    },
}
SKIPS: dict[str, set[str]] = {"reload_every_request": {"test_prefix_cache_follows_new_tokens"}}

RunSuite = Callable[[str | None], SuiteRun]


def test_a_healthy_server_passes_every_check(suite_run: RunSuite) -> None:
    run = suite_run(None)
    assert set(run.outcomes) == ALL_CHECKS, run.output
    assert run.named("passed") == ALL_CHECKS, run.outcomes


@pytest.mark.parametrize("switch", sorted(FAILS))
def test_each_switch_fails_its_own_checks_only(suite_run: RunSuite, switch: str) -> None:
    run = suite_run(switch)
    expected = FAILS[switch]
    assert run.named("failed") == set(expected), run.outcomes
    for name, phrase in expected.items():
        assert phrase in run.outcomes[name][1], (name, run.outcomes[name][1])
    skipped = SKIPS.get(switch, set())
    assert run.named("skipped") == skipped, run.outcomes
    assert run.named("passed") == ALL_CHECKS - set(expected) - skipped, run.outcomes
