"""The duration estimate before a run, and the progress lines within a long cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cases.estimate import (
    CellEstimate,
    Estimate,
    Machine,
    Rates,
    RunKind,
    StoredRates,
    cell_seconds,
    model_size,
    predicted_rates,
)
from harness.cases.estimate_plugin import CellProgress
from harness.limits.predict import ModelShape, Prediction
from harness.results.schema import SCHEMA
from tests.suiterun import demo_project


def _shape(**changes: object) -> ModelShape:
    values: dict[str, object] = {
        "name": "m",
        "architecture": "llama",
        "weights_bytes": 2_000_000_000,
        "context_length": 131072,
        "block_count": 2,
        "embedding_length": 64,
        "feed_forward_length": 256,
        "head_count": 2,
        "kv_heads": (1, 1),
        "head_dim": 32,
        "global_layers": 2,
        "sliding_window": None,
        "vocab_size": 1000,
    }
    values.update(changes)
    return ModelShape(**values)  # type: ignore[arg-type]


CPU = Machine(name="box", cpu_flops=1e12, cpu_bandwidth=1e10, disk_bytes_s=1e9, load_overhead_s=1.0)


def test_a_cell_is_its_load_and_its_requests() -> None:
    rates = Rates(load_s=2.0, prompt_tok_s=100.0, decode_tok_s=10.0, source="predicted")
    # 2 s load + 4 requests x (1,000 / 100 + 20 / 10) s
    assert cell_seconds(rates, 1000, 20, 4, calibrate=False) == pytest.approx(50.0)
    # The first cell of a model also calibrates: 384 words x 1.2 tokens, 2 decode steps.
    assert cell_seconds(rates, 1000, 20, 4, calibrate=True) == pytest.approx(
        50.0 + 384 * 1.2 / 100 + 2 / 10
    )


def test_the_prediction_is_the_roofline_of_the_models_size_and_the_machine() -> None:
    shape = _shape()
    size = model_size({"model_info": {"general.parameter_count": 1e9}}, Prediction(shape))
    rates = predicted_rates(size, CPU, num_ctx=4096, prompt=1000)
    # Prefill: 1,000 x 2e9 FLOPs + attention 4 x 2 heads x 32 x 2 layers x 1000^2 / 2.
    attention = 4 * 2 * 32 * 2 * 1000**2 / 2
    assert rates.prompt_tok_s == pytest.approx(1000 / ((1000 * 2e9 + attention) / 1e12))
    # Decode: the weights (2 GB) and the KV cache at depth 1,000 (2 x 2 bytes x 32 x 1 head
    # x 2 layers per token) read at 10 GB/s.
    kv = 2 * 2 * 32 * 1 * 2 * 1000
    assert rates.decode_tok_s == pytest.approx(1e10 / (2e9 + kv))
    assert rates.load_s == pytest.approx(1.0 + 2.0)
    assert rates.source == "predicted"


def test_a_mixture_of_experts_computes_with_its_active_parameters() -> None:
    """qwen3-coder:30b's /api/show keys: 30.5B parameters, 8 of 128 experts of 768."""
    shape = _shape(architecture="qwen3moe", block_count=48, embedding_length=2048)
    show = {
        "model_info": {
            "general.parameter_count": 30.5e9,
            "qwen3moe.expert_count": 128,
            "qwen3moe.expert_used_count": 8,
            "qwen3moe.expert_feed_forward_length": 768,
        }
    }
    size = model_size(show, Prediction(shape))
    assert size.active_params == pytest.approx(3.32e9, rel=0.01)


def test_a_gpu_that_holds_the_model_runs_it_at_its_speed() -> None:
    gpu = Machine(
        name="gpu box",
        cpu_flops=1e12,
        cpu_bandwidth=1e10,
        disk_bytes_s=1e9,
        load_overhead_s=1.0,
        gpu_flops=1e14,
        gpu_bandwidth=1e12,
        gpu_free_bytes=16 * 2**30,
    )
    size = model_size({"model_info": {"general.parameter_count": 1e9}}, Prediction(_shape()))
    on_gpu = predicted_rates(size, gpu, num_ctx=4096, prompt=1000)
    on_cpu = predicted_rates(size, CPU, num_ctx=4096, prompt=1000)
    assert on_gpu.decode_tok_s == pytest.approx(on_cpu.decode_tok_s * 100)


def _run(reports: Path, run_id: str, simulated: bool, profile: str, load_s: float) -> None:
    folder = reports / "runs" / run_id
    folder.mkdir(parents=True)
    case = {
        "model": "m",
        "num_ctx": 4096,
        "load": {"load_s": load_s},
        "target_prompt_tokens": 1000,
        "metrics": {"prompt_tok_s": {"p50": 100.0}, "decode_tok_s": {"p50": 10.0}},
    }
    payload = {
        "schema": SCHEMA,
        "run_id": run_id,
        "simulated": simulated,
        "fingerprint": {"sim": {"profile": profile} if simulated else None},
        "cases": [case],
    }
    (folder / "results.json").write_text(json.dumps(payload))


def test_the_newest_stored_run_of_the_same_machine_gives_the_rates(tmp_path: Path) -> None:
    _run(tmp_path, "20260101-000000-aaaa", True, "ryzen16-128gb", load_s=5.0)
    _run(tmp_path, "20260102-000000-bbbb", True, "ryzen16-128gb", load_s=7.0)
    _run(tmp_path, "20260103-000000-cccc", True, "tiny", load_s=9.0)  # another machine
    _run(tmp_path, "20260104-000000-dddd", False, "", load_s=11.0)  # a real server
    (tmp_path / "runs" / "20260105-000000-eeee").mkdir()
    (tmp_path / "runs" / "20260105-000000-eeee" / "results.json").write_text("{broken")
    found = StoredRates(tmp_path, RunKind(True, "ryzen16-128gb", None))
    assert found.get(("m", 4096)) == Rates(
        7.0, 100.0, 10.0, "last run 20260102-000000-bbbb", prompt_tokens=1000
    )
    assert found.get(("m", 8192)) is None


def test_stored_runs_are_read_only_when_asked_and_only_as_far_as_needed(tmp_path: Path) -> None:
    for day in range(1, 6):
        _run(tmp_path, f"2026010{day}-000000-aaaa", True, "tiny", load_s=float(day))
    found = StoredRates(tmp_path, RunKind(True, "tiny", None))
    assert found.files_read == 0  # made at plugin start, read when an estimate asks
    assert found.get(("m", 4096)) == Rates(
        5.0, 100.0, 10.0, "last run 20260105-000000-aaaa", prompt_tokens=1000
    )
    assert found.files_read == 1  # the newest run had the key
    assert found.get(("m", 4096)) is not None
    assert found.files_read == 1
    assert found.get(("other", 4096)) is None
    assert found.files_read == 5  # a key no run measured: every run searched, once
    assert found.get(("other", 2048)) is None
    assert found.files_read == 5


def test_the_summary_says_the_total_the_sources_and_the_wall_time() -> None:
    estimate = Estimate(
        cells=[
            CellEstimate("a", "m-4k", 600.0, "predicted"),
            CellEstimate("b", "m-8k", 60.0, "last run r1"),
            CellEstimate("c", "x-4k", None, None, "x: the server does not describe it (oom)"),
        ],
        machine=CPU,
        time_scale=10.0,
        simulated=True,
    )
    lines = estimate.lines()
    assert lines[0] == (
        "harness: the 2 estimated of 3 selected cells should take about 11m 00s "
        "(simulated time; at --sim-speed 10, at least 1m 06s of wall time)"
    )
    assert "  1 cell(s): last run r1" in lines
    assert any(line.startswith("  1 cell(s): predicted from the model's size") for line in lines)
    assert "  1 cell(s) without an estimate: x: the server does not describe it (oom)" in lines
    assert "  longest: m-4k ~10m 00s" in lines


def test_a_progress_line_says_elapsed_share_and_source() -> None:
    progress = CellProgress(None, Estimate(), every_s=30)
    cell = CellEstimate("a", "m-4k", 600.0, "predicted")
    assert progress.line(cell, 90.0) == "  m-4k: running for 1m 30s, 15% of ~10m 00s (predicted)"
    assert progress.line(cell, 900.0) == (
        "  m-4k: running for 15m 00s, over its ~10m 00s (predicted)"
    )


MATRIX = """\
version: 1
name: box
sim_profile: tiny
defaults: {repeats: 3, num_predict: 16}
models:
  - name: qwen2.5:3b-instruct
    contexts: [2k]
"""

SUITE = """\
def test_cell(cell, measure):
    measure(cell)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    return demo_project(pytester, MATRIX, SUITE)


def test_the_run_says_its_estimate_first_and_progress_while_a_cell_runs(
    project: pytest.Pytester,
) -> None:
    """At --sim-speed 1 the cell takes over a second: a line every 0.2 s while it runs.

    In a subprocess: the run imports numpy, which an in-process pytester run unloads again
    afterwards, and numpy cannot be loaded twice in one process (later tests would fail).
    """
    reports = project.path / "reports"
    args = ("suites", "--engine", "sim", "--sim-speed", "1", "--reports-dir", str(reports))
    result = project.runpytest_subprocess(*args, "--progress-every", "0.2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "harness: the 1 estimated of 1 selected cells should take about * (simulated time)",
            "  1 cell(s): predicted from the model's size * the matrix's machine (tiny: *",
            "*test_demo.py*",
            "  qwen2.5:3b-instruct-2k: running for * simulated (* wall), *% of ~* (predicted)",
        ]
    )
    # The next run takes its rates from this one, and says so.
    again = project.runpytest_subprocess(*args, "--progress-every", "0")
    again.stdout.fnmatch_lines(["  1 cell(s): last run 2*"])
    assert "running for" not in again.stdout.str()


class NoShowEngine:
    """An OpenAI-compatible server: /v1/models lists names only, and there is no /api/show."""

    base_url = "http://openai"

    def tags(self) -> list[object]:
        from harness.engines.base import ModelTag

        return [ModelTag(name="m", size=0, digest="")]

    def show(self, model: str) -> dict[str, object]:
        return {}


def test_a_server_that_does_not_say_the_models_size_gets_no_estimate(tmp_path: Path) -> None:
    from harness.cases.estimate import estimate_cells
    from harness.matrix.cells import load_matrix

    path = tmp_path / "box.yaml"
    path.write_text(MATRIX)
    matrix = load_matrix(path)
    cells = [("n", c.id, c) for c in matrix.cells()]
    estimate = estimate_cells(
        cells, matrices=[matrix], engine=NoShowEngine(), stored={}, repeats=None, time_scale=1.0
    )
    assert estimate.cells == [
        CellEstimate("n", "qwen2.5:3b-instruct-2k", None, None,
                     "qwen2.5:3b-instruct: the server does not say the model's size")
    ]  # fmt: skip
    assert estimate.lines() == [
        "harness: no duration estimate for the 1 selected cells: qwen2.5:3b-instruct: the server "
        "does not say the model's size"
    ]


def test_stored_rates_hold_for_a_prompt_of_about_their_length_only(tmp_path: Path) -> None:
    """A run that filled 90% measured a prefill rate that a 2,300-token prompt never sees."""
    from harness.cases.estimate import estimate_cells
    from harness.matrix.cells import load_matrix

    path = tmp_path / "box.yaml"
    path.write_text(MATRIX)
    matrix = load_matrix(path)
    [cell] = matrix.cells()  # qwen2.5:3b-instruct at 2k: 2,048 x 0.9 - 16 = 1,827 tokens
    key = (cell.model, cell.num_ctx)
    for measured_at, used in ((1827, True), (1600, True), (1400, False), (None, False)):
        stored = {key: Rates(1.0, 100.0, 10.0, "last run r", prompt_tokens=measured_at)}
        estimate = estimate_cells(
            [("n", cell.id, cell)],
            matrices=[matrix],
            engine=NoShowEngine(),
            stored=stored,
            repeats=None,
            time_scale=1.0,
        )
        assert (estimate.cells[0].source == "last run r") is used


def test_the_estimate_is_computation_without_pytest() -> None:
    """The pytest side (printing, progress lines) is harness.cases.estimate_plugin's."""
    import subprocess
    import sys

    code = "import sys, harness.cases.estimate; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
