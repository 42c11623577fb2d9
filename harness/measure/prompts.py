"""Prompts of an exact token length, each opened by a nonce so no prefix cache helps.

The harness cannot know a server's tokenizer or chat template, so it measures them: two
short requests give the template overhead and tokens per filler word from the server's own
`prompt_eval_count` (OLLAMA.md: the template adds tokens around every message), and every
later answer refines the rate. Filler words are common short English words, which real
BPE tokenizers keep whole and which all have one length, so the rate is linear.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.engines.base import Engine, Message

# Common five-letter words: whole tokens in BPE vocabularies and five tokens each in byte
# vocabularies, so a prompt's token count is linear in its words whichever words are drawn;
# mixed lengths spread the count by about 1% on byte-level tokenizers.
_FILLER = (
    "river stone light field water trees birds north bread house green table paper music "
    "night heart story place point money plant smile sound world voice month"
).split()
CALIBRATION_WORDS = (64, 320)
MIN_PROMPT_TOKENS = 16


@dataclass(frozen=True)
class TokenCalibration:
    """prompt_eval_count ~= overhead + tokens_per_word x words, for one model's template."""

    overhead: float
    tokens_per_word: float

    def words_for(self, tokens: int) -> int:
        return max(1, round((tokens - self.overhead) / self.tokens_per_word))

    def expected_tokens(self, words: int) -> float:
        return self.overhead + self.tokens_per_word * words

    def refined(self, words: int, observed: int) -> TokenCalibration:
        """Adjust the rate so `words` would give `observed` (the overhead is kept)."""
        if words <= 0 or observed <= self.overhead:
            return self
        return TokenCalibration(self.overhead, (observed - self.overhead) / words)


class PromptBuilder:
    """Deterministic filler (from `seed`) behind a fresh random nonce on every prompt."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)

    def text(self, words: int) -> str:
        # The nonce leads so that two prompts never share a cacheable prefix.
        body = " ".join(self._rng.choice(_FILLER) for _ in range(max(0, words - 2)))
        return f"ref {secrets.token_hex(4)} {body}".rstrip()

    def messages(self, words: int) -> list[Message]:
        return [{"role": "user", "content": self.text(words)}]


def calibrate(
    engine: Engine, model: str, options: Mapping[str, Any], builder: PromptBuilder
) -> TokenCalibration:
    """Two short requests give template overhead and tokens per word for `model`."""
    small, large = CALIBRATION_WORDS
    opts = {**options, "num_predict": 1}
    count_small = engine.chat(model, builder.messages(small), options=opts).counters
    count_large = engine.chat(model, builder.messages(large), options=opts).counters
    a = count_small.prompt_eval_count or 0
    b = count_large.prompt_eval_count or 0
    rate = (b - a) / (large - small) if b > a else 1.0
    return TokenCalibration(overhead=max(0.0, a - rate * small), tokens_per_word=max(rate, 0.05))


def target_prompt_tokens(
    num_ctx: int, fill: float, num_predict: int, prompt_tokens: int | None = None
) -> int:
    """Fill `fill` of the context, leaving room for the answer (default 90% - num_predict);
    a fixed `prompt_tokens` (a matrix's setting) wins over the fill."""
    if prompt_tokens is not None:
        return max(MIN_PROMPT_TOKENS, prompt_tokens)
    return max(MIN_PROMPT_TOKENS, int(num_ctx * fill) - num_predict)


def is_truncated(observed: int | None, expected: float, tolerance: float = 0.03) -> bool:
    """The server evaluated clearly fewer tokens than were sent: it cut the prompt."""
    return observed is not None and observed < expected * (1.0 - tolerance)


def conversation_words(messages: Sequence[Message]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages)
