"""Deterministic synthetic batches for the throughput suite (the seeds' candidate scoring).

Every request carries the identical system prompt (the rubric) and its own user message
(a candidate profile) of about `user_tokens` tokens; the same seed gives the same batch,
so runs on different days compare. Word counts stand in for tokens (about 1.3 tokens per
English word); the server's `prompt_eval_count` is what the suite reports.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from harness.batch.jsonl import BatchRequest

_WORDS = (
    "python sql kubernetes leadership design testing mentoring cloud data pipelines "
    "analytics security frontend backend research product startup enterprise finance "
    "healthcare logistics retail education compilers networking embedded robotics"
).split()
_RUBRIC = (
    "You are a recruiter scoring candidates for a senior engineering role. Score each "
    "candidate from 1 to 10 for fit, weighing depth of experience, breadth of skills, "
    "evidence of ownership and clarity of communication. Answer with the number only."
)


def _words(tokens: int) -> int:
    return max(1, round(tokens / 1.3))


def system_prompt(tokens: int) -> str:
    words = _RUBRIC.split()
    count = _words(tokens)
    return " ".join(words[i % len(words)] for i in range(count))


def synthetic_batch(
    size: int, *, system_tokens: int, user_tokens: int, num_predict: int, seed: int = 0
) -> Iterator[BatchRequest]:
    """`size` requests sharing one system prompt; generated lazily."""
    rng = random.Random(seed)
    system = {"role": "system", "content": system_prompt(system_tokens)}
    for index in range(size):
        skills = " ".join(rng.choice(_WORDS) for _ in range(_words(user_tokens) - 4))
        user = {
            "role": "user",
            "content": f"Candidate {index}: {rng.randint(1, 30)} years; {skills}",
        }
        yield BatchRequest(
            line=index + 1,
            custom_id=f"cand-{index:06d}",
            messages=(system, user),
            params={"max_tokens": num_predict, "temperature": 0},
        )
