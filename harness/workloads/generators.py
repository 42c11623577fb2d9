"""Deterministic agentic prompts from a seed: code to refactor, documents to answer from,
and the turns of a conversation (seed 001, Phase 2).

Each generator is a pure function of `(seed, words)`: the same arguments give the same text,
so a run can be replayed. Sizes are in whitespace-separated words, which the runner turns
into tokens with a rate it measures on the server (no tokenizer is known in advance).
Single-shot prompts open with a nonce derived from the seed, so a prefix cache cannot
flatter them; a conversation keeps one nonce for its whole life, since there the prefix
cache is the point.
"""

from __future__ import annotations

import random

_WORDS = (
    "cache request model token memory server thread queue batch worker result stream "
    "window budget metric report client config value index record buffer signal limit "
    "score layer state event update parser handler schema module service"
).split()
_VERBS = "load parse build merge split check scale fetch store apply trim sort".split()
_PROSE = (
    "the team measured how the service behaved under steady load and wrote down what "
    "changed when the context grew past the limit they had set for the nightly job while "
    "the old notes said the cache helped most when many requests shared a long prefix"
).split()


def nonce(seed: int) -> str:
    """Eight hex digits that differ between seeds (and so between requests)."""
    return f"{random.Random(seed).getrandbits(32):08x}"


def _fill(rng: random.Random, words: int, pool: list[str] | tuple[str, ...]) -> list[str]:
    return [rng.choice(pool) for _ in range(max(0, words))]


def _function(rng: random.Random) -> list[str]:
    verb, noun, arg = rng.choice(_VERBS), rng.choice(_WORDS), rng.choice(_WORDS)
    other, n = rng.choice(_WORDS), rng.randint(2, 99)
    return [
        f"    def {verb}_{noun}(self, {arg}, {other}_limit):",
        f"        total = {arg} * {n} + {other}_limit",
        f"        if total > self.{noun}_max:",
        f"            return self.{verb}_{noun}(total - {n}, {other}_limit)",
        f"        self.{noun}_log.append(({arg}, total))",
        "        return total",
    ]


def coding_prompt(seed: int, words: int) -> str:
    """A synthetic Python module of about `words` words, then a refactoring task."""
    rng = random.Random(seed)
    task = (
        "Task: review the module above, find the methods that duplicate work, propose a "
        "refactoring that merges them, and list every call site that must change."
    )
    lines = [f"# request {nonce(seed)}", f"# file: src/{rng.choice(_WORDS)}_{seed % 97}.py"]
    budget = words - len(task.split()) - sum(len(line.split()) for line in lines)
    methods_left = 0
    while budget > 0:
        if methods_left == 0:  # a new class every few methods
            lines.append(f"class {rng.choice(_WORDS).title()}{rng.choice(_VERBS).title()}:")
            methods_left = rng.randint(2, 5)
        method = _function(rng)
        lines += method
        budget -= sum(len(line.split()) for line in method)
        methods_left -= 1
    return "\n".join([*lines, "", task])


def rag_prompt(seed: int, words: int) -> str:
    """Several titled documents of about `words` words in all, then one question on them."""
    rng = random.Random(seed)
    subject = rng.choice(_WORDS)
    question = (
        f"Question: using only the documents above, what did the teams report about the "
        f"{subject} limit, and which documents support the answer? Cite them by number."
    )
    docs = max(2, min(12, words // 400))
    head = [f"Request {nonce(seed)}. Read the documents and answer the question."]
    per_doc = max(8, (words - len(question.split()) - len(head[0].split())) // docs - 3)
    parts = head
    for i in range(1, docs + 1):
        title = f"Document {i}: {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        parts.append(f"{title}\n" + " ".join(_fill(rng, per_doc, _PROSE + _WORDS)) + ".")
    return "\n\n".join([*parts, question])


def chat_system(seed: int, words: int) -> str:
    """The conversation's opening: its one nonce and a project description."""
    rng = random.Random(seed)
    head = f"Conversation {nonce(seed)}. You help a team that runs language models locally."
    return head + " " + " ".join(_fill(rng, words - len(head.split()), _PROSE))


def chat_turn(seed: int, turn: int, words: int) -> str:
    """The user's message of turn `turn`: a follow-up question of about `words` words."""
    rng = random.Random(seed * 1_000_003 + turn)
    ask = f"Turn {turn}: given what we said so far, what should change about the"
    topic = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}?"
    context = " ".join(_fill(rng, words - len(ask.split()) - 2, _PROSE + _WORDS))
    return f"{context}. {ask} {topic}"
