"""A deterministic tokenizer and chat template, simple enough for the harness to predict.

Rule: every run of ASCII letters and digits is cut into pieces of at most 8 characters,
each piece one token; every other non-space character is one token; whitespace is free.
So "hello world" is 2 tokens, "internationalization" (20 letters) is 3, "a, b." is 4.

Chat template (one for every model): 1 BOS token, then per message 4 tokens
(`<start_of_turn>`, the role, a newline before the content, `<end_of_turn>` after it), then
3 tokens (`<start_of_turn>`, "assistant", a newline) that open the model's reply. A reply
therefore continues its prompt token for token, so the next turn of a conversation finds the
whole previous exchange in the prefix cache. So a chat with
messages of n1..nk content tokens counts `1 + sum(ni + 4) + 3`; `/api/generate` wraps its
prompt (and `system`, when given) the same way, and `raw: true` sends the bare tokens.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

_TOKEN = re.compile(r"[A-Za-z0-9]{1,8}|[^\sA-Za-z0-9]")

BOS = "<bos>"
TURN_START = "<start_of_turn>"
TURN_END = "<end_of_turn>"
NEWLINE = "\\n"
MESSAGE_OVERHEAD = 4
REPLY_OVERHEAD = 3

# Words of at most 8 letters, so each generated word is exactly one token.
_FILLER = (
    "the model writes fake words while the harness measures time and memory of each "
    "request token stream under load with a cache and slots that queue work"
).split()


def tokenize(text: str) -> list[str]:
    """The tokens of `text` under the rule above."""
    return _TOKEN.findall(text)


def count(text: str) -> int:
    return len(tokenize(text))


def _message(role: str, content: str) -> list[str]:
    return [TURN_START, role, NEWLINE, *tokenize(content), TURN_END]


def render_messages(messages: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Each message's tokens including its template overhead (4 per message)."""
    return [_message(str(m.get("role", "user")), str(m.get("content") or "")) for m in messages]


def join_chat(rendered: Sequence[Sequence[str]]) -> list[str]:
    """BOS + messages + the 3 tokens that open the reply."""
    tokens = [BOS]
    for part in rendered:
        tokens.extend(part)
    tokens.extend([TURN_START, "assistant", NEWLINE])
    return tokens


def generate_tokens(prompt: str, system: str = "", raw: bool = False) -> list[str]:
    """The tokens /api/generate sends to the runner."""
    if raw:
        return tokenize(prompt)
    messages = [{"role": "user", "content": prompt}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return join_chat(render_messages(messages))


def filler(seed: int, n: int) -> list[str]:
    """`n` generated tokens (each a leading space and one short word), reproducible by seed."""
    rng = random.Random(seed)
    return [" " + rng.choice(_FILLER) for _ in range(n)]
