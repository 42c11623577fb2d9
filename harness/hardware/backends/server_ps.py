"""What the server itself says is loaded: `/api/ps` through the Engine protocol."""

from __future__ import annotations

from typing import Any, Protocol

from harness.engines.base import LoadedModel
from harness.hardware.backends.base import Rate


class HasPs(Protocol):
    """The one Engine method this backend needs (any Engine satisfies it)."""

    def ps(self) -> list[LoadedModel]: ...


class ServerPsBackend:
    """Sizes of the loaded models as the server reports them, summed over models.

    The engine's HTTP client is shared with the measuring thread; httpx's pool is
    thread-safe, and one small GET a second does not disturb a streaming request.
    """

    name = "server_ps"
    rate: Rate = "slow"

    def __init__(self, engine: HasPs) -> None:
        self._engine = engine
        self._models: dict[str, dict[str, Any]] = {}

    def sample(self) -> dict[str, float]:
        loaded = self._engine.ps()
        values: dict[str, float] = {
            "ps.models_loaded": len(loaded),
            "ps.size_bytes": sum(m.size for m in loaded),
            "ps.size_vram_bytes": sum(m.size_vram for m in loaded),
            # The part a spilled model keeps in host memory: slower, not an error.
            "ps.size_host_bytes": sum(max(0, m.size - m.size_vram) for m in loaded),
        }
        contexts = [m.context_length for m in loaded if m.context_length is not None]
        if contexts:
            values["ps.context_length"] = max(contexts)
        for model in loaded:
            self._remember(model)
        return values

    def _remember(self, model: LoadedModel) -> None:
        seen = self._models.setdefault(
            model.name, {"size_peak_bytes": 0, "size_vram_peak_bytes": 0, "context_length": None}
        )
        seen["size_peak_bytes"] = max(seen["size_peak_bytes"], model.size)
        seen["size_vram_peak_bytes"] = max(seen["size_vram_peak_bytes"], model.size_vram)
        if model.context_length is not None:
            seen["context_length"] = model.context_length
        seen["spilled"] = bool(seen.get("spilled")) or model.spilled

    def details(self) -> dict[str, Any]:
        return {"models": {name: dict(seen) for name, seen in sorted(self._models.items())}}

    def close(self) -> None:
        """The engine belongs to the caller, who closes it."""
