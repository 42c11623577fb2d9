"""The sustained loop against the simulator, and how a run becomes a judged case."""

from __future__ import annotations

from typing import Any

import pytest

from harness import errors
from harness.engines.ollama import OllamaEngine
from harness.workloads import SustainedSettings, WorkloadSpec, build_case, run_sustained
from harness.workloads.runner import SustainedRun


@pytest.mark.parametrize("kind", ["coding", "rag", "chat"])
def test_every_kind_runs_for_its_duration_without_truncation(
    sim_engine: OllamaEngine, kind: str
) -> None:
    spec = WorkloadSpec(model="qwen2.5:3b-instruct", kind=kind, num_ctx=2048, num_predict=8)
    marks: list[str] = []
    run = run_sustained(
        sim_engine, spec, SustainedSettings(duration_s=0.6, time_scale=20.0), mark=marks.append
    )
    assert marks == ["load", "prefill", "after"]
    assert run.stopped is None
    assert len(run.samples) >= 3
    assert all(s["outcome"] == "ok" for s in run.samples), run.samples
    times = [s["t_s"] for s in run.samples]
    assert times == sorted(times)
    assert times[-1] <= 0.6 * 20.0 * 1.5  # simulated seconds: wall x time_scale
    if kind != "chat":  # single-shot prompts fill about half the context (fill 0.5)
        target = 2048 * 0.5 - 8
        for sample in run.samples:  # the first is sized by the warm-up's rough rate
            assert 0.75 * target <= sample["prompt_eval_count"] <= 1.25 * target, sample


def test_a_long_chat_trims_before_the_server_would_truncate(sim_engine: OllamaEngine) -> None:
    spec = WorkloadSpec(model="qwen2.5:3b-instruct", kind="chat", num_ctx=1024, num_predict=8)
    run = run_sustained(sim_engine, spec, SustainedSettings(duration_s=1.0, time_scale=20.0))
    assert any(s["trimmed"] for s in run.samples)
    assert all(s["outcome"] == "ok" for s in run.samples)
    assert max(s["prompt_eval_count"] for s in run.samples) <= 1024


class _OutOfMemoryEngine:
    """Loads, answers the warm-up, then runs out of memory."""

    kind = "ollama"
    base_url = "http://fake"

    def __init__(self, engine: OllamaEngine) -> None:
        self._engine = engine
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > 2:
            raise errors.OutOfMemory("cudaMalloc failed: out of memory")
        return self._engine.chat(*args, **kwargs)


def test_out_of_memory_stops_the_run_and_is_the_verdict(sim_engine: OllamaEngine) -> None:
    spec = WorkloadSpec(model="qwen2.5:3b-instruct", kind="rag", num_ctx=2048, num_predict=8)
    engine: Any = _OutOfMemoryEngine(sim_engine)
    run = run_sustained(engine, spec, SustainedSettings(duration_s=5.0))
    assert run.stopped is not None
    assert run.stopped.startswith("oom")
    assert [s["outcome"] for s in run.samples] == ["ok", "oom"]
    case = build_case(run, matrix="m", server="s", engine_kind="ollama", hardware=None, memory=None)
    assert case["verdict"] == "oom"
    assert "stopped early" in case["reason"]


def _run(
    spec: WorkloadSpec, decode: list[float], outcomes: list[str] | None = None
) -> SustainedRun:
    run = SustainedRun(spec, SustainedSettings(duration_s=60.0), steady_ns=0, ended_ns=60 * 10**9)
    for i, rate in enumerate(decode):
        outcome = (outcomes or ["ok"] * len(decode))[i]
        run.samples.append(
            {
                "outcome": outcome,
                "t_s": float(i * 10),
                "decode_tok_s": rate,
                "ttft_s": 0.5,
                "error": None if outcome == "ok" else "boom",
            }
        )
    return run


def _steady(values: list[int]) -> list[tuple[float, float]]:
    """Readings one second apart, from the steady-state mark on."""
    return [(2.0 + i, float(v)) for i, v in enumerate(values)]


def test_success_rate_and_the_decode_floor_decide_the_verdict() -> None:
    spec = WorkloadSpec(model="m", kind="chat", num_ctx=4096, tok_s_min=3.5)
    passing = build_case(
        _run(spec, [4.0] * 20),
        matrix="m",
        server="s",
        engine_kind="ollama",
        hardware=None,
        memory=None,
    )
    assert passing["verdict"] == "pass"
    assert passing["id"] == "sustained:m:chat"
    assert passing["stability"]["components"]["drift"] == 1.0
    slow = build_case(
        _run(spec, [3.0] * 20),
        matrix="m",
        server="s",
        engine_kind="ollama",
        hardware=None,
        memory=None,
    )
    assert slow["verdict"] == "fail"
    assert "mean decode 3.00 tok/s < 3.5" in slow["reason"]
    flaky = build_case(
        _run(spec, [4.0] * 20, ["ok"] * 18 + ["crash"] * 2),
        matrix="m",
        server="s",
        engine_kind="ollama",
        hardware=None,
        memory=None,
    )
    assert flaky["verdict"] == "fail"
    assert "success rate 90.0% < 95%" in flaky["reason"]


def test_drift_is_reported_and_fails_only_past_the_matrix_threshold() -> None:
    falling = [10.0 - 0.02 * i for i in range(30)]  # -0.002 tok/s per second: ~-77% per hour
    report_only = WorkloadSpec(model="m", kind="coding", num_ctx=4096)
    case = build_case(
        _run(report_only, falling),
        matrix="m",
        server="s",
        engine_kind="ollama",
        hardware=None,
        memory=None,
    )
    assert case["verdict"] == "pass"
    drift = case["metrics"]["decode_drift_per_hour"]
    assert drift["significant"]
    assert drift["slope"] < -0.5
    strict = WorkloadSpec(model="m", kind="coding", num_ctx=4096, drift_max_per_hour=0.2)
    case = build_case(
        _run(strict, falling),
        matrix="m",
        server="s",
        engine_kind="ollama",
        hardware=None,
        memory=None,
    )
    assert case["verdict"] == "fail"
    assert "drifts" in case["reason"]


def test_memory_growth_after_warm_up_is_a_leak_past_the_threshold() -> None:
    spec = WorkloadSpec(model="m", kind="chat", num_ctx=4096, memory_growth_max_bytes=1000)
    # The load (0 -> 5000) happened before the "prefill" mark: the sampler's readings since
    # it (HardwareSampler.readings_since) start loaded.
    leaking = _steady([5000, 5100, 5200, 5300, 5400, 5500])
    flat = _steady([5000] * 6)
    memory = {"metric": "mem", "fraction_of_budget": 0.5}
    bad = build_case(
        _run(spec, [5.0] * 10),
        matrix="m",
        server="s",
        engine_kind="ollama",
        hardware=None,
        memory=memory,
        memory_readings=leaking,
    )
    assert bad["metrics"]["memory_growth"]["bytes_over_run"] == pytest.approx(500.0)
    good = build_case(
        _run(spec, [5.0] * 10),
        matrix="m",
        server="s",
        engine_kind="ollama",
        hardware=None,
        memory=memory,
        memory_readings=flat,
    )
    assert good["verdict"] == "pass"
    assert good["metrics"]["memory_growth"]["bytes_over_run"] == 0
    spec_tight = WorkloadSpec(model="m", kind="chat", num_ctx=4096, memory_growth_max_bytes=100)
    tight = build_case(
        _run(spec_tight, [5.0] * 10),
        matrix="m",
        server="s",
        engine_kind="ollama",
        hardware=None,
        memory=memory,
        memory_readings=leaking,
    )
    assert tight["verdict"] == "fail"
    assert "leak" in tight["reason"]
