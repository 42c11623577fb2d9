"""From a chat/generate request body to a Job: tokens, truncation, and how much to generate.

Truncation follows Ollama: chat drops the oldest messages (keeping system messages and the
last one) until the prompt fits `num_ctx`; what is still too long is cut by the runner, which
keeps the first `num_keep` tokens and drops the front of the rest. The request still succeeds;
only `prompt_eval_count` shows it. `"truncate": false` refuses instead (400).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.sim import tokens as tk
from harness.sim.model_runner import Job
from harness.sim.physics import LoadConfig
from harness.sim.profiles import ModelProfile, find_model
from harness.sim.request_options import ApiError, Options, parse_keep_alive, parse_options
from harness.sim.scheduler import Scheduler

TOO_LONG = "the input length exceeds the context length"
MIN_REPLY, MAX_REPLY = 16, 128  # a default request (num_predict -1) stops in this range


@dataclass(frozen=True)
class Prepared:
    """A validated request. `tokens` is None for a load (or unload) request."""

    model: ModelProfile
    opts: Options
    cfg: LoadConfig
    keep_alive_s: float | None
    tokens: list[str] | None
    sent_count: int
    unload: bool = False


def resolve_model(body: Mapping[str, Any]) -> ModelProfile:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "model is required")
    model = find_model(name)
    if model is None:
        raise ApiError(404, f"model '{name}' not found")
    return model


def _common(
    body: Mapping[str, Any], sched: Scheduler
) -> tuple[ModelProfile, Options, LoadConfig, float | None]:
    model = resolve_model(body)
    opts = parse_options(body.get("options"), dict(model.parameters))
    sched.record_ignored(opts.ignored)
    keep_alive = parse_keep_alive(body.get("keep_alive"))
    return model, opts, sched.load_config(model, opts), keep_alive


def _runner_truncate(tokens: list[str], num_ctx: int, num_keep: int) -> list[str]:
    if len(tokens) <= num_ctx:
        return tokens
    keep = max(0, min(num_keep, num_ctx - 1))
    return tokens[:keep] + tokens[len(tokens) - (num_ctx - keep) :]


def _fit_messages(template: tk.ChatTemplate, chat: list[tk.Turn], num_ctx: int) -> list[str]:
    """Drop the oldest non-system messages (never the last) until the chat fits."""
    keep = list(range(len(chat)))
    while len(tokens := template.join([chat[i] for i in keep])) > num_ctx:
        droppable = [i for i in keep[:-1] if chat[i][0] != "system"]
        if not droppable:
            break
        keep.remove(droppable[0])
    return tokens


def prepare_chat(body: Mapping[str, Any], sched: Scheduler) -> Prepared:
    model, opts, cfg, keep_alive = _common(body, sched)
    messages: Sequence[Mapping[str, Any]] = body.get("messages") or []
    if not messages:
        return Prepared(model, opts, cfg, keep_alive, None, 0, unload=keep_alive == 0)
    template = tk.ChatTemplate(model.template)
    chat = tk.turns(messages)
    full = template.join(chat)
    if len(full) > cfg.num_ctx and body.get("truncate") is False:
        raise ApiError(400, TOO_LONG)
    fitted = _fit_messages(template, chat, cfg.num_ctx) if len(full) > cfg.num_ctx else full
    final = _runner_truncate(fitted, cfg.num_ctx, opts.int("num_keep"))
    return Prepared(model, opts, cfg, keep_alive, final, len(full))


def prepare_generate(body: Mapping[str, Any], sched: Scheduler) -> Prepared:
    model, opts, cfg, keep_alive = _common(body, sched)
    prompt = body.get("prompt") or ""
    if not prompt:
        return Prepared(model, opts, cfg, keep_alive, None, 0, unload=keep_alive == 0)
    template = tk.ChatTemplate(model.template)
    full = template.generate(str(prompt), str(body.get("system") or ""), bool(body.get("raw")))
    if len(full) > cfg.num_ctx and body.get("truncate") is False:
        raise ApiError(400, TOO_LONG)
    final = _runner_truncate(full, cfg.num_ctx, opts.int("num_keep"))
    return Prepared(model, opts, cfg, keep_alive, final, len(full))


def make_job(request_id: str, prep: Prepared) -> Job:
    """The job with its reply decided up front: length from num_predict or a seeded stop."""
    assert prep.tokens is not None
    seed = prep.opts.int("seed")
    if seed < 0:
        seed = zlib.crc32("\x1f".join(prep.tokens).encode())
    natural = MIN_REPLY + seed % (MAX_REPLY - MIN_REPLY + 1)
    limit = prep.opts.int("num_predict")
    if 0 <= limit < natural:
        count, reason = limit, "length"
    else:
        count, reason = natural, "stop"
    return Job(
        request_id=request_id, tokens=prep.tokens, text=tk.filler(seed, count), done_reason=reason
    )


def token_ids(tokens: Sequence[str], vocab: int) -> list[int]:
    """Stable fake token ids for /api/generate's `context`."""
    return [zlib.crc32(t.encode()) % vocab for t in tokens]
