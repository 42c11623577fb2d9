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

A model whose template is `{{ .Prompt }}` alone (a base model such as gemma3:270m created
from a bare GGUF) gets no overhead: 1 BOS token and the prompt. Its chats are collated the
way Ollama renders a template without `.Messages` (template.go): each user turn's text, while
system and assistant text have no place in the template and are left out.
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
PROMPT_ONLY = "{{ .Prompt }}"

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


def render_messages(messages: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Each message's tokens including its template overhead (4 per message)."""
    return [[TURN_START, role, NEWLINE, *text, TURN_END] for role, text in turns(messages)]


def join_chat(rendered: Sequence[Sequence[str]]) -> list[str]:
    """BOS + messages + the 3 tokens that open the reply."""
    tokens = [BOS]
    for part in rendered:
        tokens.extend(part)
    tokens.extend([TURN_START, "assistant", NEWLINE])
    return tokens


Turn = tuple[str, list[str]]  # a message's role and its content's tokens


def turns(messages: Sequence[Mapping[str, Any]]) -> list[Turn]:
    return [(str(m.get("role", "user")), tokenize(str(m.get("content") or ""))) for m in messages]


def prompt_only_chat(chat: Sequence[Turn]) -> list[str]:
    """BOS + what a `{{ .Prompt }}` template renders of a chat (template.go Execute)."""
    tokens = [BOS]
    prompt: list[str] = []
    response: list[str] = []
    for role, content in chat:
        # A turn is rendered when the next one starts; the template shows only its prompt.
        if (role == "system" and (prompt or response)) or (role == "user" and response):
            tokens += prompt
            prompt, response = [], []
        if role == "user":
            prompt = content
        elif role == "assistant":
            response = content
    return tokens + prompt


class ChatTemplate:
    """How a model's template turns messages into tokens: the simulator's Gemma-style one,
    or a bare `{{ .Prompt }}`."""

    def __init__(self, template: str | None) -> None:
        self.prompt_only = template is not None and template.strip() == PROMPT_ONLY

    def join(self, chat: Sequence[Turn]) -> list[str]:
        if self.prompt_only:
            return prompt_only_chat(chat)
        return join_chat([[TURN_START, role, NEWLINE, *text, TURN_END] for role, text in chat])

    def chat(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        return self.join(turns(messages))

    def generate(self, prompt: str, system: str = "", raw: bool = False) -> list[str]:
        """The tokens /api/generate sends to the runner."""
        if raw:
            return tokenize(prompt)
        if self.prompt_only:
            return [BOS, *tokenize(prompt)]  # the template has no place for `system`
        messages = [{"role": "user", "content": prompt}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
        return self.chat(messages)


def generate_tokens(prompt: str, system: str = "", raw: bool = False) -> list[str]:
    """The tokens /api/generate sends to the runner under the simulator's own template."""
    return ChatTemplate(None).generate(prompt, system, raw)


def filler(seed: int, n: int) -> list[str]:
    """`n` generated tokens (each a leading space and one short word), reproducible by seed."""
    rng = random.Random(seed)
    return [" " + rng.choice(_FILLER) for _ in range(n)]
