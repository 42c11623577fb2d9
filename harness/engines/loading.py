"""Loading and unloading through whatever the server offers, said in the result when it is
less than a load.

Ollama loads a model at a context on request and unloads it to give its memory back
(`LoadControl`); an OpenAI-compatible server has neither, so the model is made ready with a
one-token request instead, and the result says it was a warm-up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from harness import errors
from harness.engines.base import Engine, LoadControl, LoadResult, ServerMemory

# The `done_reason` of a LoadResult that was a one-token request, not a load.
WARM_UP = "warm-up"


def load_model(
    engine: Engine,
    model: str,
    options: Mapping[str, Any] | None = None,
    keep_alive: float | str | None = None,
) -> LoadResult:
    """Load `model` where the server can; elsewhere time a one-token request as the load."""
    if isinstance(engine, LoadControl):
        return engine.load(model, options, keep_alive)
    return warm_up(engine, model)


def warm_up(engine: Engine, model: str) -> LoadResult:
    """A one-token request that makes a server without a load endpoint ready, timed.

    Its `done_reason` is WARM_UP and it has no server load time: the server reports none.
    """
    start = time.perf_counter_ns()
    try:
        engine.chat(model, [{"role": "user", "content": "hi"}], options={"num_predict": 1})
    except errors.EmptyAnswer:
        pass  # one token may well be an end-of-turn: the server answered, so it is ready
    return LoadResult(model, WARM_UP, None, time.perf_counter_ns() - start)


def unload_model(engine: Engine, model: str) -> bool:
    """Unload `model` to give its memory back; False for a server that cannot (it keeps
    its model until it stops)."""
    if not isinstance(engine, LoadControl):
        return False
    engine.unload(model)
    return True


def unload_all(engine: Engine) -> None:
    """Unload every model the server reports loaded; nothing for a server that reports
    none or cannot unload."""
    if isinstance(engine, ServerMemory) and isinstance(engine, LoadControl):
        for loaded in engine.ps():
            engine.unload(loaded.name)
