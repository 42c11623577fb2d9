from __future__ import annotations

from typing import Any

import pytest

from harness.batch.context import ContextManager, ContextSettings, TokenEstimator
from harness.batch.trim import (
    Conversation,
    for_wire,
    hybrid,
    importance,
    sliding_window,
    trim_aggressive,
)
from harness.errors import ConfigError


def conversation(turns: int, important: frozenset[int] = frozenset()) -> Conversation:
    out: Conversation = [{"role": "system", "content": "S" * 40}]
    for t in range(turns):
        user: dict[str, Any] = {"role": "user", "content": f"q{t} " + "x" * 36}
        if t in important:
            user["important"] = True
        out += [user, {"role": "assistant", "content": f"a{t}"}]
    out.append({"role": "user", "content": "pending question"})
    return out


EST = TokenEstimator()


def test_sliding_window_keeps_system_and_last_k_starting_at_a_question() -> None:
    conv = conversation(10)
    kept = sliding_window(conv, 5, EST, 10_000)
    assert kept[0]["role"] == "system"
    assert kept[1]["role"] == "user"
    assert kept[-1]["content"] == "pending question"
    assert len(kept) <= 6
    assert kept[1:] == conv[-len(kept) + 1 :]


def test_importance_keeps_marked_messages_beyond_the_window() -> None:
    conv = conversation(10, important=frozenset({1}))
    kept = importance(conv, 6, EST, 10_000)
    contents = [m["content"] for m in kept]
    assert any(c.startswith("q1 ") for c in contents)
    assert kept[0]["role"] == "system"
    assert contents[-1] == "pending question"
    assert not any(c.startswith("q5 ") for c in contents)


def test_hybrid_also_drops_until_under_target() -> None:
    conv = conversation(10, important=frozenset({0}))
    generous = importance(conv, 12, EST, 10_000)
    kept = hybrid(conv, 12, EST, target=40)
    assert len(kept) < len(generous)
    assert kept[-1]["content"] == "pending question"
    assert any(m.get("important") for m in kept)


def test_aggressive_keeps_system_and_the_pending_question() -> None:
    kept = trim_aggressive(conversation(10), 4)
    assert kept[0]["role"] == "system"
    assert kept[-1]["content"] == "pending question"
    assert len(kept) <= 3


def test_the_important_mark_never_reaches_the_server() -> None:
    assert all("important" not in m for m in for_wire(conversation(3, important=frozenset({1}))))


@pytest.mark.parametrize(
    ("since_trim", "tokens", "memory", "expected"),
    [
        (0, 10, None, None),
        (5, 10, None, "interval"),
        (4, 10, None, None),
        (4, 200, None, "threshold"),
        (4, 10, 0.95, "memory"),
        (4, 10, 0.5, None),
    ],
)
def test_trigger_reasons(
    since_trim: int, tokens: int, memory: float | None, expected: str | None
) -> None:
    cm = ContextManager(ContextSettings(trim_interval=5, trim_threshold=100, memory_warning=0.9))
    assert cm.reason(since_trim, tokens, memory) == expected


def test_the_interval_counts_from_the_last_trim_of_any_kind() -> None:
    # Issue 18: a threshold trim at request 98 was followed by an interval trim at 100.
    cm = ContextManager(ContextSettings(trim_interval=50, trim_threshold=1000, keep_messages=4))
    trims = []
    for turn in range(1, 200):
        # ~390 estimated tokens, except at request 98 where it has grown past the threshold.
        conv = conversation(200 if turn == 98 else 20)
        _, event = cm.maybe_trim(conv, turn, f"c{turn}", "k")
        if event is not None:
            trims.append((event.request_index, event.reason))
    assert trims == [(50, "interval"), (98, "threshold"), (148, "interval"), (198, "interval")]
    # Another conversation keeps its own count.
    _, event = cm.maybe_trim(conversation(20), 50, "other50", "other")
    assert event is not None


def test_memory_trigger_trims_aggressively_and_is_recorded() -> None:
    readings = iter([0.5, 0.95])
    cm = ContextManager(
        ContextSettings(strategy="sliding_window", trim_interval=None, keep_messages=8),
        memory_fraction=lambda: next(readings),
    )
    conv = conversation(10)
    same, event = cm.maybe_trim(conv, 3, "c3", "k")
    assert event is None
    assert same is conv
    trimmed, event = cm.maybe_trim(conv, 4, "c4", "k")
    assert event is not None
    assert (event.reason, event.strategy, event.request_index) == ("memory", "aggressive", 4)
    assert event.messages_before == len(conv)
    assert event.messages_after == len(trimmed) < len(conv)
    assert event.tokens_after < event.tokens_before
    assert cm.trims == 1


def test_a_trigger_with_nothing_to_drop_is_not_a_trim() -> None:
    cm = ContextManager(ContextSettings(trim_interval=1, keep_messages=40))
    _, event = cm.maybe_trim(conversation(2), 1, "c", "k")
    assert event is None
    assert cm.trims == 0


def test_estimator_calibrates_on_the_servers_counts() -> None:
    est = TokenEstimator(chars_per_token=4.0, overhead_per_message=0)
    msgs = [{"role": "user", "content": "x" * 2000}]
    assert est.estimate(msgs) == 500
    for _ in range(20):
        est.observe(msgs, 1000)  # the server says 2 characters per token
    assert est.chars_per_token == pytest.approx(2.0, rel=0.1)
    assert est.estimate(msgs) == pytest.approx(1000, rel=0.1)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown trim strategy 'newest'"):
        ContextSettings(strategy="newest")
