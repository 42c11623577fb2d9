"""A base model with a bare `{{ .Prompt }}` template (gemma3:270m as the real tests create it):
what it counts, what it shows, and how a chat is collated (Ollama's template.go)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest

from harness.sim import tokens
from harness.sim.tokens import BOS, ChatTemplate, prompt_only_chat, turns

BARE = "gemma3:270m"


def _count(http: httpx.Client, path: str, body: Mapping[str, object]) -> int:
    body = {**body, "stream": False, "options": {"num_predict": 1}}
    answer = http.post(path, json=body)
    assert answer.status_code == 200, answer.text
    count: int = answer.json()["prompt_eval_count"]
    return count


def test_a_bare_template_adds_only_bos(http: httpx.Client) -> None:
    text = "Write one sentence about the sea."
    n = tokens.count(text)
    chat = {"model": BARE, "messages": [{"role": "user", "content": text}]}
    assert _count(http, "/api/chat", chat) == 1 + n
    assert _count(http, "/api/generate", {"model": BARE, "prompt": text}) == 1 + n
    # The simulator's own chat template adds 4 per message and 3 to open the reply.
    chat_4b = {"model": "gemma3:4b", "messages": [{"role": "user", "content": text}]}
    assert _count(http, "/api/chat", chat_4b) == 1 + n + 4 + 3


def test_show_omits_what_the_model_has_not(http: httpx.Client) -> None:
    shown = http.post("/api/show", json={"model": BARE}).json()
    assert "license" not in shown
    assert "parameters" not in shown
    assert shown["template"] == "{{ .Prompt }}"
    assert shown["capabilities"] == ["completion"]
    assert "license" in http.post("/api/show", json={"model": "gemma3:4b"}).json()


@pytest.mark.parametrize(
    ("messages", "rendered"),
    [
        ([("user", "a b")], "a b"),
        ([("system", "rules"), ("user", "q")], "q"),  # no .System in the template
        ([("user", "q1"), ("assistant", "r1"), ("user", "q2")], "q1 q2"),
        ([("user", "first"), ("user", "second")], "second"),  # one turn: the last prompt
        ([("user", "q1"), ("assistant", "r1"), ("system", "s"), ("user", "q2")], "q1 q2"),
    ],
)
def test_chats_are_collated_as_ollama_does(messages: list[tuple[str, str]], rendered: str) -> None:
    chat = [{"role": role, "content": content} for role, content in messages]
    assert prompt_only_chat(turns(chat)) == [BOS, *tokens.tokenize(rendered)]
    assert ChatTemplate("{{ .Prompt }}").chat(chat) == [BOS, *tokens.tokenize(rendered)]
