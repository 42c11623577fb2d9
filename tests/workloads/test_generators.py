"""Prompt generators are deterministic, sized in words, and never share a prefix by accident."""

from __future__ import annotations

import pytest

from harness.sim.tokens import count
from harness.workloads.generators import chat_system, chat_turn, coding_prompt, nonce, rag_prompt
from harness.workloads.traffic import Conversation, SingleShot


@pytest.mark.parametrize("make", [coding_prompt, rag_prompt, chat_system])
def test_same_seed_same_text_and_about_the_words_asked(make: object) -> None:
    assert callable(make)
    text = make(11, 3000)
    assert text == make(11, 3000)
    assert text != make(12, 3000)
    assert 2700 <= len(text.split()) <= 3300


@pytest.mark.parametrize("make", [coding_prompt, rag_prompt])
def test_single_shot_prompts_open_with_their_nonce(make: object) -> None:
    assert callable(make)
    first, second = make(1, 500), make(2, 500)
    assert nonce(1) in first.splitlines()[0]
    assert first.split()[:3] != second.split()[:3]


def test_coding_prompt_looks_like_code_and_ends_with_a_task() -> None:
    text = coding_prompt(5, 2000)
    assert "class " in text
    assert "def " in text
    assert text.rstrip().endswith("must change.")


def test_rag_prompt_has_several_documents_and_one_question() -> None:
    text = rag_prompt(5, 4000)
    assert text.count("Document ") >= 5
    assert text.count("Question:") == 1


def test_chat_turns_differ_by_turn_and_keep_the_conversation_nonce_in_the_system() -> None:
    assert chat_turn(3, 1, 50) != chat_turn(3, 2, 50)
    assert chat_turn(3, 1, 50) == chat_turn(3, 1, 50)
    assert nonce(3) in chat_system(3, 100)


def test_single_shot_requests_are_sized_to_the_context() -> None:
    shot = SingleShot("rag", seed=1, num_ctx=8192, num_predict=64, fill=0.5)
    shot.rate.per_word = 1.0
    request = shot.next_request(1)
    tokens = count(str(request.messages[0]["content"]))
    assert 0.8 * (8192 * 0.5 - 64) <= tokens <= 1.2 * (8192 * 0.5)


def test_a_conversation_grows_then_trims_its_oldest_turns_but_keeps_the_system() -> None:
    chat = Conversation(seed=2, num_ctx=4096, num_predict=16)
    chat.rate.per_word = 1.0
    sizes, trimmed = [], []
    for turn in range(1, 60):
        request = chat.next_request(turn)
        assert request.messages[0]["role"] == "system"
        assert request.messages[-1]["role"] == "user"
        sizes.append(request.expected_tokens)
        trimmed.append(request.trimmed)
        chat.answered(request, " word" * 16, round(request.expected_tokens), 16)
    assert sizes[1] > sizes[0]  # it grows
    assert any(trimmed)
    assert max(sizes) + 16 <= 0.9 * 4096  # never asks the server to truncate
    first_trim = trimmed.index(True)
    assert sizes[first_trim] < sizes[first_trim - 1]


def test_a_failed_turn_is_not_kept_in_the_history() -> None:
    chat = Conversation(seed=2, num_ctx=4096, num_predict=16)
    chat.next_request(1)
    chat.failed()
    request = chat.next_request(2)
    assert [m["role"] for m in request.messages] == ["system", "user"]
