"""When and how a growing conversation is trimmed (the seeds' ContextManager).

Triggers, checked before each request of a conversation:
- `interval`: `trim_interval` requests after the conversation's last trim of any kind (or its
  start), so a threshold trim at request 98 is not followed by an interval trim at 100;
- `threshold`: the estimated context exceeds `trim_threshold` tokens;
- `memory`: the memory callable reports a fraction at or above `memory_warning`; the trim is
  then `aggressive` whatever the configured strategy, since memory is what runs out first.

Adaptive limits (seed 002, with a memory reading): the manager remembers the largest context
(the server's prompt count) that ran while memory was below `adapt_at` (default: 5 points
under `memory_warning`). Once memory reaches `adapt_at`, the trim threshold drops to 90% of
that largest safe context, if that is lower; the change is kept for the rest of the run
(memory that neared the budget once will again) and announced as a `threshold_lowered`
record, which the engine writes to the trims file and shows in its progress.

Token estimates start at 4 characters per token plus a per-message template overhead and are
calibrated on the server's own `prompt_eval_count`, which counts the whole prompt (cached
prefix included) as the model's tokenizer and chat template see it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.batch.trim import TRIMMERS, Conversation, trim_aggressive
from harness.errors import ConfigError

MemoryFraction = Callable[[], float | None]
ADAPT_FRACTION = 0.9  # the seeds' adaptive limit: 90% of the largest context seen to run safely
ADAPT_MARGIN = 0.05  # memory "nears the budget" this far below the warning level


@dataclass(frozen=True)
class ContextSettings:
    """How a conversation is kept small; the defaults are the seeds' numbers."""

    strategy: str = "sliding_window"
    trim_interval: int | None = 50
    trim_threshold: int = 28_000
    keep_messages: int = 40
    memory_warning: float = 0.875  # 14 GB of a 16 GB card, the seeds' VRAM warning level
    adaptive: bool = True
    adapt_at: float | None = None  # None: memory_warning - ADAPT_MARGIN

    @property
    def adapt_level(self) -> float:
        """The memory fraction at which the threshold adapts."""
        return self.adapt_at if self.adapt_at is not None else self.memory_warning - ADAPT_MARGIN

    def __post_init__(self) -> None:
        if self.strategy not in TRIMMERS:
            raise ConfigError(
                f"unknown trim strategy {self.strategy!r}; choose one of: {', '.join(TRIMMERS)}"
            )
        if self.trim_interval is not None and self.trim_interval < 1:
            raise ConfigError(f"trim interval {self.trim_interval!r} must be >= 1")
        if self.trim_threshold < 1 or self.keep_messages < 2:
            raise ConfigError("trim threshold must be >= 1 token and keep messages >= 2")
        if not 0 < self.memory_warning <= 1:
            raise ConfigError(f"memory warning {self.memory_warning!r} must be in (0, 1]")
        if not 0 < self.adapt_level <= 1:
            raise ConfigError(
                f"adapt-at {self.adapt_level!r} must be in (0, 1] (a share of device memory)"
            )


@dataclass(frozen=True)
class TrimEvent:
    """One trim, as written to OUT.trims.jsonl."""

    request_index: int
    custom_id: str
    conversation: str
    reason: str
    strategy: str
    tokens_before: int
    tokens_after: int
    messages_before: int
    messages_after: int
    memory_fraction: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ThresholdLowered:
    """The adaptive limit at work, as written to OUT.trims.jsonl beside the trims."""

    request_index: int
    custom_id: str
    conversation: str
    memory_fraction: float
    largest_safe_tokens: int
    threshold_before: int
    threshold_after: int
    event: str = "threshold_lowered"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return (
            f"memory at {self.memory_fraction:.0%} of the device: trim threshold lowered "
            f"{self.threshold_before:,} -> {self.threshold_after:,} tokens (90% of the largest "
            f"context that ran safely, {self.largest_safe_tokens:,}) at request "
            f"{self.request_index} ({self.custom_id})"
        )


class TokenEstimator:
    """Characters-per-token, learnt from what the server counted; shared by threads."""

    def __init__(self, chars_per_token: float = 4.0, overhead_per_message: int = 4) -> None:
        self.overhead_per_message = overhead_per_message
        self._chars = chars_per_token * 1000.0  # a prior worth 1,000 tokens of evidence
        self._tokens = 1000.0
        self._lock = threading.Lock()

    @property
    def chars_per_token(self) -> float:
        return self._chars / self._tokens

    def estimate(self, messages: Sequence[Mapping[str, Any]]) -> int:
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        return round(chars / self.chars_per_token) + self.overhead_per_message * len(messages)

    def observe(self, messages: Sequence[Mapping[str, Any]], prompt_eval_count: int | None) -> None:
        """Fold in one request whose prompt the server counted as `prompt_eval_count`."""
        if not prompt_eval_count:
            return
        text_tokens = prompt_eval_count - self.overhead_per_message * len(messages)
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        if text_tokens <= 0 or chars <= 0:
            return
        with self._lock:
            self._chars += chars
            self._tokens += text_tokens


class ContextManager:
    """Decides when a conversation is trimmed, trims it, and counts the trims."""

    def __init__(
        self,
        settings: ContextSettings,
        estimator: TokenEstimator | None = None,
        memory_fraction: MemoryFraction | None = None,
    ) -> None:
        self.settings = settings
        self.estimator = estimator or TokenEstimator()
        self.memory_fraction = memory_fraction
        self._count = 0
        self._last_trim: dict[str, int] = {}  # conversation key -> turn of its last trim
        self._lock = threading.Lock()
        self.threshold = settings.trim_threshold  # lowered by the adaptive limit
        self.largest_safe: int | None = None
        self.lowered: list[ThresholdLowered] = []
        self._unsent: list[ThresholdLowered] = []

    @property
    def trims(self) -> int:
        return self._count

    def observe(self, tokens: int | None, memory: float | None) -> None:
        """A request of `tokens` (the whole context sent) succeeded; `memory` read after it.

        It ran safely when memory stayed under the adapt level; only then does it count."""
        if not tokens or (memory is not None and memory >= self.settings.adapt_level):
            return
        with self._lock:
            self.largest_safe = max(self.largest_safe or 0, tokens)

    def take_lowered(self) -> list[ThresholdLowered]:
        """The adaptations not yet written (the engine writes and shows them)."""
        with self._lock:
            out, self._unsent = self._unsent, []
        return out

    def _adapt(self, memory: float | None, turn: int, custom_id: str, key: str) -> None:
        s = self.settings
        if not s.adaptive or memory is None or memory < s.adapt_level:
            return
        with self._lock:
            if self.largest_safe is None:
                return  # nothing ran safely yet: no context is known to fit
            lowered = int(ADAPT_FRACTION * self.largest_safe)
            if lowered >= self.threshold:
                return
            event = ThresholdLowered(
                request_index=turn,
                custom_id=custom_id,
                conversation=key,
                memory_fraction=round(memory, 4),
                largest_safe_tokens=self.largest_safe,
                threshold_before=self.threshold,
                threshold_after=lowered,
            )
            self.threshold = lowered
            self.lowered.append(event)
            self._unsent.append(event)

    def reason(self, since_trim: int, tokens: int, memory: float | None) -> str | None:
        """Why a conversation should trim now, `since_trim` requests after its last trim."""
        s = self.settings
        if memory is not None and memory >= s.memory_warning:
            return "memory"
        if tokens > self.threshold:
            return "threshold"
        if s.trim_interval and since_trim >= s.trim_interval:
            return "interval"
        return None

    def maybe_trim(
        self, conversation: Conversation, turn: int, custom_id: str, key: str
    ) -> tuple[Conversation, TrimEvent | None]:
        """The conversation to send next, trimmed if a trigger fired and it shrinks it."""
        tokens = self.estimator.estimate(conversation)
        memory = self.memory_fraction() if self.memory_fraction else None
        self._adapt(memory, turn, custom_id, key)
        with self._lock:
            since = turn - self._last_trim.get(key, 0)
        why = self.reason(since, tokens, memory)
        if why is None:
            return conversation, None
        aggressive = why == "memory" or self.settings.strategy == "aggressive"
        return self._apply(conversation, turn, custom_id, key, why, aggressive, tokens, memory)

    def force_aggressive(
        self, conversation: Conversation, turn: int, custom_id: str, key: str, reason: str
    ) -> tuple[Conversation, TrimEvent | None]:
        """Trim as hard as possible (after an out-of-memory answer)."""
        tokens = self.estimator.estimate(conversation)
        return self._apply(conversation, turn, custom_id, key, reason, True, tokens, None)

    def _apply(
        self,
        conversation: Conversation,
        turn: int,
        custom_id: str,
        key: str,
        reason: str,
        aggressive: bool,
        tokens: int,
        memory: float | None,
    ) -> tuple[Conversation, TrimEvent | None]:
        s = self.settings
        if aggressive:
            trimmed, strategy = trim_aggressive(conversation, s.keep_messages), "aggressive"
        else:
            target = self.threshold // 2
            trimmed = TRIMMERS[s.strategy](conversation, s.keep_messages, self.estimator, target)
            strategy = s.strategy
        if len(trimmed) >= len(conversation):
            return conversation, None  # nothing to drop: not a trim, and not counted as one
        with self._lock:
            self._count += 1
            self._last_trim[key] = turn
        event = TrimEvent(
            request_index=turn,
            custom_id=custom_id,
            conversation=key,
            reason=reason,
            strategy=strategy,
            tokens_before=tokens,
            tokens_after=self.estimator.estimate(trimmed),
            messages_before=len(conversation),
            messages_after=len(trimmed),
            memory_fraction=memory,
        )
        return trimmed, event
