"""The OpenAI engine and the launcher against a real llama.cpp server (llama-cpp-python).

The model is synthetic (random weights, see harness.devtools.synth_model), so nothing is downloaded;
its answers are noise but its tokenizer, speed and memory are llama.cpp's own.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from harness.devtools.synth_model import SynthShape, ascii_token_count
from harness.engines.launcher import Launcher, LaunchFailed, LaunchSpec
from harness.engines.openai import OpenAIEngine
from harness.errors import StreamIncomplete

from .conftest import require_llama_cpp

require_llama_cpp(module=True)

CONTEXTS = (2048, 8192, 16384, 32768)


# Not named `engine`: the harness plugin takes tests using that fixture for Ollama-bound ones.
@pytest.fixture
def llama_engine(llama_launcher: Launcher) -> Iterator[OpenAIEngine]:
    client = OpenAIEngine(llama_launcher.ensure(num_ctx=4096))
    try:
        yield client
    finally:
        client.close()


def _prompt(words: int) -> str:
    # A nonce first, so no prefix cache from an earlier request flatters the timing.
    return f"{secrets.token_hex(4)} " + " ".join(["the river carries light stone"] * words)


def _server_token_count(base_url: str, text: str) -> int:
    response = httpx.post(f"{base_url}/extras/tokenize", json={"input": text}, timeout=30)
    response.raise_for_status()
    return len(response.json()["tokens"])


def _usage(base_url: str, model: str, text: str) -> dict[str, int]:
    # llama-cpp-python ignores stream_options and sends no usage in a stream
    # (abetlen/llama-cpp-python#1640), so the counts come from the same request unstreamed.
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 1},
        timeout=60,
    )
    response.raise_for_status()
    usage: dict[str, int] = response.json()["usage"]
    return usage


def test_openai_engine_measures_ttft_and_rates(llama_engine: OpenAIEngine) -> None:
    model = llama_engine.tags()[0].name
    text = _prompt(words=30)
    got = llama_engine.chat(
        model,
        [{"role": "user", "content": text}],
        options={"num_predict": 32, "temperature": 0.0, "seed": 1},
    )
    assert got.done_reason == "length"
    assert len(got.chunk_ns) == 32  # one chunk per token, streamed as decoded
    assert got.ttft_s is not None
    assert 0 < got.ttft_s < 30
    prompt_tok_s = ascii_token_count(text) / got.ttft_s  # TTFT is almost all prefill here
    assert 50 < prompt_tok_s < 1e6
    assert got.client_decode_tok_s is not None
    assert 2 < got.client_decode_tok_s < 1e5
    if got.counters.prompt_eval_count is not None:  # a server version that streams usage
        assert got.counters.prompt_eval_count == ascii_token_count(text)


def test_server_counts_exactly_the_prompt_tokens_sent(llama_engine: OpenAIEngine) -> None:
    text = _prompt(words=30)
    usage = _usage(llama_engine.base_url, llama_engine.tags()[0].name, text)
    # The template is BOS + the message: the server evaluates exactly the text we sent.
    assert usage["prompt_tokens"] == ascii_token_count(text)
    assert usage["prompt_tokens"] == _server_token_count(llama_engine.base_url, text)


def test_a_longer_prompt_takes_longer_to_first_token(llama_engine: OpenAIEngine) -> None:
    model = llama_engine.tags()[0].name
    options = {"num_predict": 2, "temperature": 0.0}
    short = llama_engine.chat(model, [{"role": "user", "content": _prompt(5)}], options=options)
    long = llama_engine.chat(model, [{"role": "user", "content": _prompt(40)}], options=options)
    assert short.ttft_s is not None
    assert long.ttft_s is not None
    assert long.ttft_s > short.ttft_s


def test_a_prompt_over_the_context_is_an_incomplete_stream_explained_in_the_log(
    llama_engine: OpenAIEngine, llama_launcher: Launcher
) -> None:
    # llama-cpp-python answers 200, then fails inside the stream without a word: the reason
    # is only in the server's log, which the launcher keeps.
    with pytest.raises(StreamIncomplete):
        llama_engine.chat(
            "m", [{"role": "user", "content": _prompt(200)}], options={"num_predict": 1}
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the traceback is logged after the stream closes
        if any("exceed context window of 4096" in line for line in llama_launcher.log_tail()):
            return
        time.sleep(0.1)
    pytest.fail(
        "no 'exceed context window' in the server's log:\n" + "\n".join(llama_launcher.log_tail())
    )


def _rss_after_short_request(launcher: Launcher, url: str) -> int:
    # Pages are counted once touched: one request makes sure the model's weights and the
    # buffers a request uses are resident, so only what grows with the context differs.
    client = OpenAIEngine(url)
    try:
        model = client.tags()[0].name
        client.chat(model, [{"role": "user", "content": "hello"}], options={"num_predict": 1})
    finally:
        client.close()
    return launcher.memory_bytes()


def _fit_bytes_per_token(contexts: Sequence[int], rss: Sequence[int]) -> tuple[float, float]:
    import numpy as np

    slope, intercept = np.polyfit(np.array(contexts, dtype=float), np.array(rss, dtype=float), 1)
    return float(slope), float(intercept)


def test_memory_per_token_of_context_is_the_kv_cache(
    llama_launcher: Launcher,
    synth_model: tuple[Path, SynthShape],
    record_property: Callable[[str, object], None],
) -> None:
    after_load: list[int] = []
    after_request: list[int] = []
    for num_ctx in CONTEXTS:
        url = llama_launcher.ensure(num_ctx=num_ctx)
        after_load.append(llama_launcher.memory_bytes())
        after_request.append(_rss_after_short_request(llama_launcher, url))
    slope, intercept = _fit_bytes_per_token(CONTEXTS, after_request)
    analytic = synth_model[1].kv_bytes_per_token()
    record_property("bytes_per_token_measured", round(slope))
    record_property("bytes_per_token_analytic", analytic)
    # llama.cpp zeroes the whole KV buffer at load, so its pages are resident at once.
    assert abs(slope / analytic - 1) < 0.10, (
        f"measured {slope:.0f} B/token (intercept {intercept / 2**20:.0f} MiB), "
        f"analytic {analytic} B/token; RSS after a request {after_request}, "
        f"after load {after_load}"
    )


def test_memory_per_token_with_the_context_full_is_still_the_kv_cache(
    llama_launcher: Launcher,
    synth_model: tuple[Path, SynthShape],
    record_property: Callable[[str, object], None],
) -> None:
    # A full prompt touches every buffer that grows with the context; with flash attention
    # only the f16 attention mask (n_ubatch x 2 bytes per token) is added to the KV cache.
    contexts = (2048, 4096, 8192)
    rss: list[int] = []
    for num_ctx in contexts:
        client = OpenAIEngine(llama_launcher.ensure(num_ctx=num_ctx))
        try:
            text = "ab " * int(num_ctx * 0.9 / 3)
            client.chat("m", [{"role": "user", "content": text}], options={"num_predict": 1})
        finally:
            client.close()
        rss.append(llama_launcher.memory_bytes())
    slope, _ = _fit_bytes_per_token(contexts, rss)
    analytic = synth_model[1].kv_bytes_per_token()
    record_property("bytes_per_token_full_context", round(slope))
    assert abs(slope / analytic - 1) < 0.10, f"measured {slope:.0f} B/token, RSS {rss}"


def test_a_missing_model_is_a_quick_crash_with_the_servers_words(
    tmp_path: Path, llama_template: str
) -> None:
    spec = LaunchSpec(
        template=llama_template,
        variables={"model_path": str(tmp_path / "no-such-model.gguf")},
        ready_timeout_s=60.0,
    )
    start = time.monotonic()
    with Launcher(spec) as launcher, pytest.raises(LaunchFailed) as info:
        launcher.ensure(num_ctx=2048)
    assert time.monotonic() - start < 30
    assert info.value.outcome == "crash"
    assert info.value.log_tail
    assert "no-such-model.gguf" in str(info.value)


def test_measure_cell_runs_a_cell_on_the_real_server(llama_engine: OpenAIEngine) -> None:
    from harness.matrix.cells import Cell, CellSettings
    from harness.measure.procedure import measure_cell

    cell = Cell(
        matrix="real-engine",
        model=llama_engine.tags()[0].name,
        num_ctx=4096,
        settings=CellSettings(repeats=2, num_predict=8, fill=0.25),
        marks=(),
    )
    outcome = measure_cell(llama_engine, cell)
    case = outcome.case
    assert case["verdict"] == "pass", case["reason"]
    assert len(case["samples"]) == 2
    for sample in case["samples"]:
        assert sample["outcome"] == "ok"
        assert sample["ttft_s"] > 0
        assert sample["decode_tok_s"] > 0
        assert abs(sample["prompt_length_error"]) < 0.05  # aimed at 1024 tokens
