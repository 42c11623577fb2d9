"""Fixtures for the launcher and real-engine tests: launchers that always get stopped,
the fake server's command template, and synthetic models written once per session."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.devtools.synth_model import SynthShape, write_synth_model
from harness.engines.launcher import Launcher, LaunchSpec

FAKE_SERVER = Path(__file__).with_name("fake_server.py")
LLAMACPP_MISSING = "llama.cpp is not installed: pip install -e '.[llamacpp]'"


def require_llama_cpp(*, module: bool = False) -> None:
    """Skip unless llama-cpp-python is installed, without importing it into pytest.

    Its servers run in their own processes. Importing it here (pytest.importorskip) opened
    two /dev/null files that llama_cpp/_utils.py keeps for ever, which Python reported as
    "ResourceWarning: unclosed file <_io.TextIOWrapper name='/dev/null'>" when pytest exited.
    """
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip(LLAMACPP_MISSING, allow_module_level=module)


# Two threads for the 2-core CI box. `--flash_attn true`: without it llama.cpp materializes
# the attention scores (n_ctx x n_ubatch x heads x 4 bytes), which once a prompt fills the
# context costs more per token than the KV cache itself (docs/real-engines.md).
# `--logits_all false`: the server's default keeps a float32 logits row per token of
# context, vocab x 4 more bytes per token as prompts fill it.
LLAMA_TEMPLATE = (
    "{python} -m llama_cpp.server --model {model_path} --n_ctx {num_ctx} "
    "--host {host} --port {port} --n_threads 2 --n_threads_batch 2 --seed 0 "
    "--flash_attn true --logits_all false"
)
# 4 layers x 8 KV heads x 128 = 16 KiB of f16 KV per token (512 MiB at 32K) against
# ~60 MB of weights, so the cache dominates the memory that grows with the context.
KV_HEAVY = SynthShape(layers=4, heads=8, kv_heads=8, head_dim=128, ff=1024, vocab=512, ctx=32768)


@pytest.fixture
def fake_template() -> str:
    return f"{{python}} {FAKE_SERVER} --host {{host}} --port {{port}} --ctx {{num_ctx}}"


@pytest.fixture
def make_launcher() -> Iterator[Callable[..., Launcher]]:
    """Build Launchers from LaunchSpec arguments; every one is stopped after the test."""
    made: list[Launcher] = []

    def make(template: str, **kwargs: Any) -> Launcher:
        launcher = Launcher(LaunchSpec(template=template, **kwargs))
        made.append(launcher)
        return launcher

    try:
        yield make
    finally:
        for launcher in made:
            launcher.close()


@pytest.fixture(scope="session")
def synth_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthShape]:
    """A random-weight llama GGUF whose KV cache dominates its memory at long contexts."""
    pytest.importorskip("gguf", reason=LLAMACPP_MISSING)
    path = tmp_path_factory.mktemp("models") / "kv-heavy.gguf"
    return write_synth_model(path, KV_HEAVY, seed=0), KV_HEAVY


@pytest.fixture(scope="module")
def llama_launcher(synth_model: tuple[Path, SynthShape]) -> Iterator[Launcher]:
    """llama-cpp-python's server for the synthetic model, stopped after the module."""
    require_llama_cpp()
    spec = LaunchSpec(
        template=LLAMA_TEMPLATE,
        variables={"model_path": str(synth_model[0])},
        ready_timeout_s=60.0,
    )
    launcher = Launcher(spec)
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture(scope="session")
def llama_template() -> str:
    return LLAMA_TEMPLATE
