"""How long pytest takes to collect a 10,000-cell matrix (100 models x 100 contexts; goal < 3 s).

Timed in a fresh `pytest --collect-only` subprocess, so plugin loading, YAML validation and
parametrizing are all counted, as a user running `pytest suites/... --matrix big.yaml` sees
them; loading the matrix alone is timed in-process beside it. Reported, never asserted.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.matrix.cells import load_matrix

pytestmark = pytest.mark.benchmark_suite


def write_matrix(path: Path, models: int, contexts: int) -> Path:
    lines = ["version: 1", "name: bench10k", "marks: [bench]", "sim_profile: tiny",
             "defaults: {repeats: 1, num_predict: 4}", "models:"]  # fmt: skip
    ctx = ", ".join(str(1024 * (i + 1)) for i in range(contexts))
    for m in range(models):
        lines += [f"  - name: model-{m:03d}:q4", f"    contexts: [{ctx}]",
                  "    thresholds: {ttft_s: 8, decode_tok_s: 6}"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def collect(root: Path, matrix: Path, reports: Path) -> tuple[float, float, str]:
    cmd = [sys.executable, "-m", "pytest", "suites/context_scaling", "--collect-only", "-q",
           "--matrix", str(matrix), "--reports-dir", str(reports), "--engine", "sim"]  # fmt: skip
    start, cpu = time.perf_counter(), _children_cpu_s()
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600, check=False)
    # The child's CPU time (user + system): on a busy box its wall time measures the others.
    return time.perf_counter() - start, _children_cpu_s() - cpu, done.stdout + done.stderr


def test_collect_10k_cells(
    benchmark: BenchmarkFixture, tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    models, contexts = (10, 10) if benchmark.disabled else (100, 100)
    matrix = write_matrix(tmp_path / "big.yaml", models, contexts)
    start = time.perf_counter()
    cells = load_matrix(matrix).cells()
    load_s = time.perf_counter() - start
    seconds, cpu_s, output = benchmark.pedantic(
        collect, args=(pytestconfig.rootpath, matrix, tmp_path / "reports"), rounds=1
    )
    assert f"{models * contexts} tests collected" in output, output[-2000:]
    benchmark.extra_info.update({
        "cells": len(cells), "collect_subprocess_s": round(seconds, 3),
        "collect_subprocess_cpu_s": round(cpu_s, 3),
        "load_matrix_s": round(load_s, 3),
    })  # fmt: skip
