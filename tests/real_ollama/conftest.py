"""The real-Ollama test group: a real server and a real Gemma 3 model (issue 17).

Runs in `make test` whenever a server can be had (tests/real_ollama/server.py says how)
and skips, saying how to get one, when it cannot. Against your own Ollama:

    HARNESS_OLLAMA_URL=http://127.0.0.1:11434 .venv/bin/pytest tests/real_ollama
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .server import (
    HOW_TO_GET,
    MODEL,
    URL_ENV,
    NotAvailable,
    RealOllama,
    ensure_model,
    find_binary,
    gguf_path,
    start,
    stop,
    wait_until_ready,
)


@pytest.fixture(scope="session")
def real_ollama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealOllama]:
    """A real Ollama serving gemma3:270m for the whole session, stopped by PID afterwards."""
    try:
        gguf = gguf_path()
        given = os.environ.get(URL_ENV)
        binary = None if given else find_binary()
    except NotAvailable as exc:
        pytest.skip(str(exc))
    if given:
        ensure_model(given.rstrip("/"), MODEL, gguf)
        yield RealOllama(given.rstrip("/"), MODEL, pid=None, log_path=None)
        return
    if binary is None:
        pytest.skip(HOW_TO_GET)
    proc, base_url, log = start(binary, tmp_path_factory.mktemp("ollama"))
    try:
        wait_until_ready(base_url, proc, log)
        ensure_model(base_url, MODEL, gguf)
        yield RealOllama(base_url, MODEL, pid=proc.pid, log_path=log)
    finally:
        stop(proc)
