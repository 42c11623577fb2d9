"""How long the reports of a 10,000-case run take (goal: under 1 s; reported, not asserted).

`make bench` runs it with timing; under the default `--benchmark-disable` it runs once and
checks the outputs, so it also guards the large-run path in `make test`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.report import render_run

pytestmark = pytest.mark.benchmark_suite

MODELS = [f"model-{i:03d}:q4" for i in range(100)]
CONTEXTS = [2048 * (i + 1) for i in range(100)]


def _case(index: int) -> dict[str, Any]:
    model, ctx = MODELS[index // 100], CONTEXTS[index % 100]
    ttft, decode = 0.05 + ctx / 80_000, 60.0 - ctx / 10_000
    failed = index % 37 == 0
    return {
        "id": f"{model}-{ctx // 1024}k", "model": model, "num_ctx": ctx, "matrix": "bench",
        "server": "http://127.0.0.1:11434", "outcome": "failed" if failed else "passed",
        "verdict": "oom" if failed else "pass",
        "reason": "cudaMalloc failed: out of memory" if failed else None,
        "thresholds": {"ttft_s": {"max": 8.0}, "decode_tok_s": {"min": 6.0}},
        "checks": [
            {"metric": "ttft_s", "stat": "p50", "op": "<=", "required": 8.0,
             "measured": ttft, "passed": True},
            {"metric": "decode_tok_s", "stat": "p50", "op": ">=", "required": 6.0,
             "measured": decode, "passed": True},
        ],
        "samples": [{"outcome": "oom" if failed else "ok", "error": None}],
        "metrics": {
            "ttft_s": {"n": 5, "p50": ttft, "p90": ttft * 1.1},
            "prompt_tok_s": {"n": 5, "p50": 1500.0},
            "decode_tok_s": {"n": 5, "p50": decode, "p90": decode * 1.05},
        },
        "stability": {"score": 0.9, "components": {"success_rate": 1.0, "headroom": 0.8},
                      "formula": "0.5*success_rate + 0.5*headroom"},
        "memory": {"source": "sim", "delta_bytes": ctx * 131_072},
        "baseline": {"verdict": "unchanged", "metrics": {"decode_tok_s": {"change": 0.01}}},
    }  # fmt: skip


def _payload(n: int) -> dict[str, Any]:
    return {
        "schema": "harness.results/1", "run_id": "20261122-020000-bench",
        "started_at": "2026-11-22T02:00:00+00:00", "duration_s": 5400.0, "simulated": True,
        "fingerprint": {"host": "bench", "engine": "ollama", "server_version": "0.12.3"},
        "cases": [_case(i) for i in range(n)],
    }  # fmt: skip


def test_render_10k_cases(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(_payload(10_000)), encoding="utf-8")
    paths = benchmark(render_run, tmp_path)
    # CPU time of one more render: on a busy box wall time mostly measures the other work.
    cpu = time.process_time()
    render_run(tmp_path)
    benchmark.extra_info["render_cpu_s"] = round(time.process_time() - cpu, 3)
    html = paths[0].read_text(encoding="utf-8")
    assert html.count('<tr class="') >= 10_000
    assert len(paths[2].read_text(encoding="utf-8").splitlines()) == 10_001
