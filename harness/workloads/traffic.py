"""From a workload kind to a stream of chat requests sized to the context.

The server's tokenizer is unknown, so sizes start from a guess of tokens per word and are
corrected after every answer from the server's own `prompt_eval_count` (only from answers
that were not truncated, or a truncation would hide itself). A chat grows by one exchange
per turn and drops its oldest exchanges when the next turn would pass `fill_max` of
`num_ctx`, keeping the system message, so the server never has to truncate it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from harness.engines.base import Message
from harness.workloads.generators import chat_system, chat_turn, coding_prompt, rag_prompt

# Starting guesses (tokens per word): code is dense in punctuation, prose is not.
_GUESS = {"coding": 2.5, "rag": 1.4, "chat": 1.4}
MESSAGE_OVERHEAD = 8  # template tokens around one message (a guess; a template may add more)
_SMOOTHING = 0.5  # weight of the newest observation in the rate


@dataclass
class TokenRate:
    """Tokens per word of one workload on one server, refined as answers arrive."""

    per_word: float
    observations: int = 0

    def words_for(self, tokens: float) -> int:
        return max(8, int(tokens / self.per_word))

    def tokens(self, words: int) -> float:
        return words * self.per_word

    def observe(self, words: int, tokens: float) -> None:
        if words > 0 and tokens > 0:
            seen = tokens / words
            # The first measurement replaces the guess; later ones only smooth out noise.
            weight = _SMOOTHING if self.observations else 1.0
            self.per_word = (1 - weight) * self.per_word + weight * seen
            self.observations += 1


@dataclass(frozen=True)
class Request:
    """The messages of one request and what the harness expects the server to count."""

    messages: list[Message]
    expected_tokens: float
    words: int
    trimmed: bool = False


class Traffic(Protocol):
    kind: str
    rate: TokenRate

    def next_request(self, index: int, scale: float = 1.0) -> Request: ...

    def answered(self, request: Request, reply: str, counted: int, generated: int) -> None: ...


@dataclass
class SingleShot:
    """Coding or RAG: a fresh prompt of `fill` x num_ctx tokens per request."""

    kind: str
    seed: int
    num_ctx: int
    num_predict: int
    fill: float
    rate: TokenRate = field(init=False)

    def __post_init__(self) -> None:
        self.rate = TokenRate(_GUESS[self.kind])
        self._make: Callable[[int, int], str] = (
            coding_prompt if self.kind == "coding" else rag_prompt
        )

    def next_request(self, index: int, scale: float = 1.0) -> Request:
        target = max(32.0, (self.num_ctx * self.fill - self.num_predict) * scale)
        words = self.rate.words_for(target - MESSAGE_OVERHEAD)
        text = self._make(self.seed + index, words)
        used = len(text.split())
        return Request(
            [{"role": "user", "content": text}], self.rate.tokens(used) + MESSAGE_OVERHEAD, used
        )

    def answered(self, request: Request, reply: str, counted: int, generated: int) -> None:
        self.rate.observe(request.words, counted - MESSAGE_OVERHEAD)


# A message of a conversation: its text's words (None for an answer) and its known tokens.
Entry = tuple[Message, int | None, float]


@dataclass
class Conversation:
    """A chat that grows turn by turn and is trimmed from the front before it overflows.

    User and system messages are sized in words and counted with the current rate (so a
    better rate re-estimates the whole history); answers count the `eval_count` tokens the
    server generated.
    """

    seed: int
    num_ctx: int
    num_predict: int
    fill_max: float = 0.9
    trim_to: float = 0.5
    kind: str = "chat"
    rate: TokenRate = field(default_factory=lambda: TokenRate(_GUESS["chat"]))
    history: list[Entry] = field(default_factory=list)
    pending: Entry | None = None
    system: Entry | None = None

    def _tokens(self, entry: Entry) -> float:
        words = entry[1]
        body = entry[2] if words is None else self.rate.tokens(words)
        return body + MESSAGE_OVERHEAD

    def _user(self, role: str, text: str) -> Entry:
        return ({"role": role, "content": text}, len(text.split()), 0.0)

    def next_request(self, index: int, scale: float = 1.0) -> Request:
        if self.system is None:
            words = self.rate.words_for(max(32.0, self.num_ctx / 16) * scale)
            self.system = self._user("system", chat_system(self.seed, words))
        words = self.rate.words_for(max(24.0, self.num_ctx / 32) * scale)
        self.pending = self._user("user", chat_turn(self.seed, index, words))
        trimmed = self._trim()
        parts = [self.system, *self.history, self.pending]
        return Request(
            [m for m, _, _ in parts],
            sum(self._tokens(p) for p in parts),
            sum(w or 0 for _, w, _ in parts),
            trimmed,
        )

    def _trim(self) -> bool:
        """Drop the oldest exchanges when this turn and its answer would pass fill_max."""
        assert self.system is not None
        assert self.pending is not None
        fixed = self._tokens(self.system) + self._tokens(self.pending) + self.num_predict

        def size() -> float:
            return fixed + sum(self._tokens(e) for e in self.history)

        if size() <= self.fill_max * self.num_ctx:
            return False
        while self.history and size() > self.trim_to * self.num_ctx:
            del self.history[:2]  # one user message and its answer
        return True

    def answered(self, request: Request, reply: str, counted: int, generated: int) -> None:
        if self.pending is None:
            return
        answers = sum(e[2] for e in self.history if e[1] is None)
        overhead = MESSAGE_OVERHEAD * len(request.messages)
        # Every worded message is re-estimated from the rate, so fit the rate to them all.
        self.rate.observe(request.words, counted - answers - overhead)
        self.history += [self.pending, ({"role": "assistant", "content": reply}, None, generated)]
        self.pending = None

    def failed(self) -> None:
        """A turn without an answer is dropped, so the next turn does not repeat it."""
        self.pending = None


def traffic_for(kind: str, seed: int, num_ctx: int, num_predict: int, fill: float) -> Traffic:
    if kind == "chat":
        return Conversation(seed, num_ctx, num_predict)  # a chat fills up to 90%, then trims
    return SingleShot(kind, seed, num_ctx, num_predict, fill)
