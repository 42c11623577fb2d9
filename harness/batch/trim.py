"""The trim strategies: which messages of a conversation survive a trim.

Every strategy keeps the system message (it is the shared prefix the server caches and
the instructions every answer depends on) and starts what it keeps at a user message, so
no assistant answer is left without its question.

- `sliding_window`: system + the last K messages.
- `importance`: system + messages marked `"important": true` (the mark is a harness
  extension, stripped before sending) + the most recent messages, K in all.
- `hybrid`: importance, then the oldest unmarked messages dropped until the estimate is
  under half the trim threshold.
- `aggressive`: system + the last exchange (or K/4 messages, whichever is more); used when
  memory is high or after an out-of-memory answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

Message = Mapping[str, Any]
Conversation = list[Message]


class SupportsTokenEstimate(Protocol):
    def estimate(self, messages: Sequence[Message]) -> int: ...


Trimmer = Callable[[Conversation, int, SupportsTokenEstimate, int], Conversation]


def _split(conversation: Conversation) -> tuple[Conversation, Conversation]:
    if conversation and conversation[0].get("role") == "system":
        return conversation[:1], conversation[1:]
    return [], list(conversation)


def _from_user(messages: Conversation) -> Conversation:
    """Drop leading non-user messages so the kept part starts with a question."""
    for index, message in enumerate(messages):
        if message.get("role") == "user":
            return messages[index:]
    return messages[-1:] if messages else []


def _important(message: Message) -> bool:
    return message.get("important") is True


def sliding_window(
    conversation: Conversation, keep: int, estimator: SupportsTokenEstimate, target: int
) -> Conversation:
    head, rest = _split(conversation)
    if len(rest) <= keep:
        return list(conversation)
    return head + _from_user(rest[-keep:])


def importance(
    conversation: Conversation, keep: int, estimator: SupportsTokenEstimate, target: int
) -> Conversation:
    head, rest = _split(conversation)
    if len(rest) <= keep:
        return list(conversation)
    # Recent messages fill what the marked ones leave; marked ones at most half of K.
    marked_all = [i for i, m in enumerate(rest) if _important(m)]
    marked = marked_all[-(keep // 2) :] if keep >= 2 else []
    recent_start = len(rest) - (keep - len(marked))
    while recent_start < len(rest) and rest[recent_start].get("role") != "user":
        recent_start += 1
    kept = sorted({*(i for i in marked if i < recent_start), *range(recent_start, len(rest))})
    return head + [rest[i] for i in kept]


def hybrid(
    conversation: Conversation, keep: int, estimator: SupportsTokenEstimate, target: int
) -> Conversation:
    trimmed = importance(conversation, keep, estimator, target)
    head, rest = _split(trimmed)
    # Then drop the oldest unmarked exchange until the estimate fits half the threshold,
    # always keeping the newest message (the question about to be answered).
    while len(rest) > 1 and estimator.estimate(head + rest) > target:
        victim = next((i for i, m in enumerate(rest[:-1]) if not _important(m)), None)
        if victim is None:
            break
        del rest[victim]
        rest = _from_user(rest) if rest and rest[0].get("role") != "user" else rest
    return head + rest


def trim_aggressive(conversation: Conversation, keep: int) -> Conversation:
    head, rest = _split(conversation)
    window = max(2, keep // 4)
    if len(rest) <= window:
        tail = rest
    else:
        tail = _from_user(rest[-window:])
    # The newest message is the pending question: it always survives.
    if rest and (not tail or tail[-1] is not rest[-1]):
        tail = [rest[-1]]
    return head + tail


def aggressive(
    conversation: Conversation, keep: int, estimator: SupportsTokenEstimate, target: int
) -> Conversation:
    return trim_aggressive(conversation, keep)


TRIMMERS: dict[str, Trimmer] = {
    "sliding_window": sliding_window,
    "importance": importance,
    "hybrid": hybrid,
    "aggressive": aggressive,
}


def for_wire(conversation: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages as the server gets them: the harness's `important` mark removed."""
    return [{k: v for k, v in m.items() if k != "important"} for m in conversation]
