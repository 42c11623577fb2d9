"""An engine over a server the harness starts itself (`--launch TEMPLATE`).

Servers such as llama.cpp's or vLLM fix their context when they start. Here a load at
`num_ctx=N` (re)starts the server at N through `harness.engines.launcher.Launcher`, and every other
call goes to an ordinary engine (OpenAI-compatible by default) at the server's current
address, so measuring, the context-limit search and the hardware sampler work through a
launched server exactly as through Ollama's reloads.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.engines.base import (
    Catalogue,
    ContextControl,
    Engine,
    LoadedModel,
    LoadResult,
    MemoryAccounting,
    Message,
    ModelTag,
    StreamMeasurement,
)
from harness.engines.gguf_info import show_from_gguf
from harness.engines.http import Timeouts
from harness.engines.launcher import Launcher, LaunchFailed

DEFAULT_CONTEXT = 4096


class LaunchedEngine:
    """The Engine protocol over a launched server; `kind` is the protocol it speaks.

    Core plus Catalogue and ModelDetails (from the model file the template names),
    LoadControl (a load (re)starts the server at its context, an unload stops it) and
    ServerMemory with "process_rss" accounting (the server process tree's RSS).
    """

    memory_accounting: MemoryAccounting = "process_rss"
    context_control: ContextControl = "per_start"

    def __init__(
        self, launcher: Launcher, inner_kind: str = "openai", timeouts: Timeouts | None = None
    ) -> None:
        self.launcher = launcher
        self.kind = inner_kind
        self._timeouts = timeouts
        self._inner: Engine | None = None
        self._inner_url: str | None = None
        # A context whose start failed fails again at once: retrying a start that timed out
        # would cost another full ready timeout for the same answer.
        self._failed: dict[int, LaunchFailed] = {}
        self._model = "launched"  # the name of the last model asked for, for ps()

    @property
    def base_url(self) -> str:
        return self.launcher.url or self.launcher.address

    def prepare(self, num_ctx: int) -> Engine:
        """The engine of a server running at `num_ctx`, starting or restarting it."""
        if num_ctx in self._failed:
            raise self._failed[num_ctx]
        try:
            url = self.launcher.ensure(num_ctx)
        except LaunchFailed as exc:
            self._failed[num_ctx] = exc
            raise
        if self._inner is None or url != self._inner_url:
            from harness.engines import create_engine

            if self._inner is not None:
                self._inner.close()
            self._inner = create_engine(self.kind, url, self._timeouts)
            self._inner_url = url
        return self._inner

    def _current(self) -> Engine:
        return self.prepare(self.launcher.num_ctx or DEFAULT_CONTEXT)

    def version(self) -> str:
        return "launched"  # answering must not start a server at an arbitrary context

    def check(self) -> None:
        return None  # nothing runs until the first load names its context

    @property
    def model_path(self) -> Path | None:
        """The model file the template starts the server with (`--launch-var model_path=`)."""
        raw = self.launcher.spec.variables.get("model_path")
        return Path(raw) if raw and Path(raw).is_file() else None

    @property
    def keeps_full_window_caches(self) -> bool:
        """llama-cpp-python's server allocates sliding-window layers at the full context
        (`swa_full` is on and it has no flag to turn it off), unlike Ollama and llama-server.
        """
        return "llama_cpp.server" in self.launcher.spec.template

    def tags(self) -> list[ModelTag]:
        inner = self._current() if self.launcher.running else None
        tags: list[ModelTag] = inner.tags() if isinstance(inner, Catalogue) else []
        path = self.model_path
        if path is None:
            return tags
        # The file's size is the weights' size, which /v1/models does not give.
        size = path.stat().st_size
        names = [t.name for t in tags] or [self._model]
        return [ModelTag(name=name, size=size, digest="") for name in names]

    def show(self, model: str) -> dict[str, Any]:
        """The model file's GGUF keys, in /api/show's shape (such servers have no /api/show)."""
        path = self.model_path
        found = show_from_gguf(path) if path is not None else None
        return found if found is not None else {}

    def ps(self) -> list[LoadedModel]:
        """The running server as one loaded model: its process tree's RSS as its size.

        `size_vram` equals `size` so a launched server is never reported as spilled: the
        harness cannot see how such a server splits its memory across devices.
        """
        if not self.launcher.running:
            return []
        size = self.launcher.memory_bytes()
        return [LoadedModel(self._model, size, size, self.launcher.num_ctx)]

    def load(
        self,
        model: str,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
    ) -> LoadResult:
        start = time.perf_counter_ns()
        self._model = model
        self.prepare(int((options or {}).get("num_ctx") or DEFAULT_CONTEXT))
        return LoadResult(model, "load", None, time.perf_counter_ns() - start)

    def unload(self, model: str) -> None:
        """Free the memory, as an unload does on Ollama: the launched server is its model."""
        self.launcher.stop()
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        truncate: bool | None = None,
    ) -> StreamMeasurement:
        num_ctx = (options or {}).get("num_ctx")
        inner = self.prepare(int(num_ctx)) if num_ctx else self._current()
        return inner.chat(
            model, messages, options=options, keep_alive=keep_alive, truncate=truncate
        )

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        self.launcher.close()
