"""How a request becomes the messages sent: `independent` or `conversation` batching.

`independent` sends each request's own messages. Requests that share a system prompt share
the prompt's prefix, which the server's prefix cache reuses as long as the same prompt comes
first, so nothing else is needed.

`conversation` is the seeds' conversation batching: one growing conversation per (model,
system prompt); each request's messages are appended, the answer is appended after it, and
the ContextManager trims the conversation. The engine routes one conversation to one worker,
so its turns never run concurrently (`key` is the routing key).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.batch.context import ContextManager, TrimEvent
from harness.batch.jsonl import BatchRequest
from harness.batch.trim import Conversation, Message

STRATEGIES: tuple[str, ...] = ("independent", "conversation")


@dataclass(frozen=True)
class PreparedAttempt:
    """What one attempt sends, and the trim (if any) that shaped it."""

    messages: tuple[Message, ...]
    key: str
    turn: int
    trim: TrimEvent | None = None


class Strategy(Protocol):
    name: str

    def key(self, request: BatchRequest, model: str) -> str: ...

    def prepare(self, request: BatchRequest, model: str) -> PreparedAttempt: ...

    def after_oom(self, request: BatchRequest, prepared: PreparedAttempt) -> PreparedAttempt: ...

    def complete(self, request: BatchRequest, prepared: PreparedAttempt, answer: str) -> None: ...

    def fail(self, request: BatchRequest, prepared: PreparedAttempt) -> None: ...


def _history(sent: Conversation, own: Sequence[Message]) -> Conversation:
    """The conversation without this request's own messages (identity, not equality: two
    requests may ask the very same question)."""
    mine = {id(m) for m in own}
    return [m for m in sent if id(m) not in mine]


def conversation_key(model: str, system_prompt: str | None) -> str:
    digest = hashlib.sha1(f"{model}\0{system_prompt or ''}".encode()).hexdigest()
    return digest[:12]


class Independent:
    """Each request alone."""

    name = "independent"

    def key(self, request: BatchRequest, model: str) -> str:
        return conversation_key(model, request.system_prompt)

    def prepare(self, request: BatchRequest, model: str) -> PreparedAttempt:
        return PreparedAttempt(request.messages, self.key(request, model), 0)

    def after_oom(self, request: BatchRequest, prepared: PreparedAttempt) -> PreparedAttempt:
        return prepared  # nothing of ours to drop: the retry is the same request

    def complete(self, request: BatchRequest, prepared: PreparedAttempt, answer: str) -> None:
        return None

    def fail(self, request: BatchRequest, prepared: PreparedAttempt) -> None:
        return None


@dataclass
class _State:
    messages: Conversation
    turns: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ConversationBatching:
    """One conversation per system prompt, trimmed by a ContextManager."""

    name = "conversation"

    def __init__(self, context: ContextManager) -> None:
        self.context = context
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def key(self, request: BatchRequest, model: str) -> str:
        return conversation_key(model, request.system_prompt)

    def _state(self, key: str, request: BatchRequest) -> _State:
        with self._lock:
            state = self._states.get(key)
            if state is None:
                head = list(request.messages[:1]) if request.system_prompt is not None else []
                state = self._states[key] = _State(head)
            return state

    def prepare(self, request: BatchRequest, model: str) -> PreparedAttempt:
        key = self.key(request, model)
        state = self._state(key, request)
        own = list(request.messages[1:] if request.system_prompt is not None else request.messages)
        with state.lock:
            candidate = [*state.messages, *own]
            trimmed, event = self.context.maybe_trim(candidate, state.turns, request.custom_id, key)
            if event is not None:
                # The trim is kept for later turns too: the history itself got shorter.
                state.messages = _history(trimmed, own)
            return PreparedAttempt(tuple(trimmed), key, state.turns, event)

    def after_oom(self, request: BatchRequest, prepared: PreparedAttempt) -> PreparedAttempt:
        state = self._state(prepared.key, request)
        own = request.messages[1:] if request.system_prompt is not None else request.messages
        with state.lock:
            trimmed, event = self.context.force_aggressive(
                list(prepared.messages), prepared.turn, request.custom_id, prepared.key, "oom"
            )
            state.messages = _history(trimmed, own)
            return PreparedAttempt(tuple(trimmed), prepared.key, prepared.turn, event)

    def complete(self, request: BatchRequest, prepared: PreparedAttempt, answer: str) -> None:
        state = self._state(prepared.key, request)
        reply: dict[str, Any] = {"role": "assistant", "content": answer}
        if any(m.get("important") is True for m in request.messages):
            reply["important"] = True  # an important question keeps its answer through trims
        with state.lock:
            state.messages = [*prepared.messages, reply]
            state.turns += 1

    def fail(self, request: BatchRequest, prepared: PreparedAttempt) -> None:
        """A request that finally failed still counts as a turn (trim intervals stay on
        schedule), but its question is not kept, since it has no answer."""
        state = self._state(prepared.key, request)
        with state.lock:
            state.turns += 1
