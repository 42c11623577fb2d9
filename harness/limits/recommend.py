"""From the measured limit to the numbers a user pastes into their code and Ollama.

    max_context_tokens = floor(max_context x safety / 1024) x 1024       (safety 0.80)
                         when memory bounded max_context; when the model's trained context
                         or the server's cap did, floor(max_context / 1024) x 1024: the
                         margin guards against running out of memory, which did not bound it
    trim_threshold     = floor(max_context_tokens x trim_fraction)       (0.85)
    tokens_per_message = tokens_per_request / messages_per_request       (1500 / 2)
    keep_messages      = floor(keep_fraction x trim_threshold / tokens_per_message),
                         rounded down to whole requests, at least one request
    trim_interval      = floor((trim_threshold - system_tokens - keep_messages x
                         tokens_per_message) / tokens_per_request), at least 1

After a trim the conversation holds the system prompt and KEEP_MESSAGES messages; each
request adds `tokens_per_request`; TRIM_INTERVAL is how many requests fit before the
threshold is reached again, so trimming every TRIM_INTERVAL requests never crosses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROUND_TO = 1024
GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Policy:
    """How the limit turns into settings (the matrix's `limits:` section)."""

    safety: float = 0.80
    trim_fraction: float = 0.85
    tokens_per_request: int = 1500
    messages_per_request: int = 2
    keep_fraction: float = 0.5
    system_tokens: int = 0


@dataclass(frozen=True)
class RecommendedSettings:
    """The constants of seed 000, measured instead of guessed."""

    max_context_tokens: int
    trim_threshold: int
    trim_interval: int
    keep_messages: int
    model_vram_gb: float | None
    kv_cache_per_token_mb: float | None
    bound: str | None = "memory"  # what set the maximum (verdict.BOUNDS)

    def as_dict(self, settings_text: str) -> dict[str, Any]:
        return {
            "max_context_tokens": self.max_context_tokens,
            "trim_threshold": self.trim_threshold,
            "trim_interval": self.trim_interval,
            "keep_messages": self.keep_messages,
            "model_vram_gb": self.model_vram_gb,
            "kv_cache_per_token_mb": self.kv_cache_per_token_mb,
            "settings_text": settings_text,
        }


def trim_plan(trim_threshold: int, policy: Policy) -> tuple[int, int]:
    """(keep_messages, trim_interval) for a threshold (see the module docstring)."""
    per_request = max(1, policy.tokens_per_request)
    per_message = per_request / max(1, policy.messages_per_request)
    keep = int(policy.keep_fraction * trim_threshold / per_message)
    keep = max(
        policy.messages_per_request,
        keep // policy.messages_per_request * policy.messages_per_request,
    )
    room = trim_threshold - policy.system_tokens - keep * per_message
    return keep, max(1, int(room // per_request))


def margin(bound: str | None, policy: Policy) -> float:
    """The share of the maximum to recommend: the safety margin only for a memory bound."""
    return policy.safety if bound in (None, "memory") else 1.0


def recommend(
    max_context: int,
    base_bytes: float | None,
    bytes_per_token: float | None,
    policy: Policy,
    bound: str | None = "memory",
) -> RecommendedSettings:
    max_tokens = int(max_context * margin(bound, policy)) // ROUND_TO * ROUND_TO
    threshold = int(max_tokens * policy.trim_fraction)
    keep, interval = trim_plan(threshold, policy)
    return RecommendedSettings(
        max_context_tokens=max_tokens,
        trim_threshold=threshold,
        trim_interval=interval,
        keep_messages=keep,
        model_vram_gb=None if base_bytes is None else round(base_bytes / GIB, 2),
        kv_cache_per_token_mb=None if bytes_per_token is None else round(bytes_per_token / MIB, 4),
        bound=bound,
    )


BOUND_WORDS = {
    "server_cap": "the server's cap",
    "trained_context": "the model's trained context",
}


def settings_text(rec: RecommendedSettings, max_context: int, where: str, policy: Policy) -> str:
    """Python constants, a Modelfile line and an environment value, ready to paste."""
    memory = "VRAM" if "GPU" in where else "RAM"
    why = (
        f"{policy.safety:.0%} of the largest good context ({max_context:,})"
        if rec.bound in (None, "memory")
        else f"{BOUND_WORDS[rec.bound]} ({max_context:,}); memory did not bound it, so no margin"
    )
    lines = [
        f"# Measured by the harness's context_limits suite: {where}",
        f"MAX_CONTEXT_TOKENS = {rec.max_context_tokens}  # {why}",
        f"CONTEXT_TRIM_THRESHOLD = {rec.trim_threshold}  "
        f"# {policy.trim_fraction:.0%} of MAX_CONTEXT_TOKENS",
        f"TRIM_INTERVAL = {rec.trim_interval}  "
        f"# requests between trims if each adds ~{policy.tokens_per_request:,} tokens "
        "(conversation batching: measured by the throughput suite, `harness batch analyze`)",
        f"KEEP_MESSAGES = {rec.keep_messages}  # messages kept after a trim",
    ]
    if rec.model_vram_gb is not None:
        lines.append(f"MODEL_VRAM_GB = {rec.model_vram_gb}  # GiB of {memory} at no context")
    if rec.kv_cache_per_token_mb is not None:
        lines.append(
            f"KV_CACHE_PER_TOKEN_MB = {rec.kv_cache_per_token_mb}  # MiB per token of context"
        )
    lines += [
        "",
        "# Ollama Modelfile",
        f"PARAMETER num_ctx {rec.max_context_tokens}",
        "",
        "# Ollama server environment (default context for every model)",
        f"OLLAMA_CONTEXT_LENGTH={rec.max_context_tokens}",
    ]
    return "\n".join(lines)
