"""Fixtures for the baseline tests: a seeded factory of synthetic results.json payloads.

The payloads follow docs/results-schema.md closely enough for baseline.py, which reads
only the fingerprint and each case's id, suite, outcome, samples, stability and memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.baseline import BaselineStore

GPU = "NVIDIA GeForce RTX 4080"


def _case(
    rng: np.random.Generator, index: int, case_id: str, repeats: int, cv: float, slowdown: float
) -> dict[str, Any]:
    # True values depend on the case only, so every seed draws from the same distribution.
    ttft, decode, prompt = 0.2 * (index + 1), 40.0 - 2 * index, 1800.0 / (index + 1)
    generation = 64 / decode

    def draw(value: float) -> float:
        return float(value * max(0.5, rng.normal(1.0, cv)))

    samples = []
    for _ in range(repeats):
        t, d, p = draw(ttft * slowdown), draw(decode / slowdown), draw(prompt / slowdown)
        samples.append(
            {
                "outcome": "ok",
                "error": None,
                "ttft_s": t,
                "e2e_s": t + draw(generation * slowdown),
                "prompt_tok_s": p,
                "decode_tok_s": d,
                "eval_count": 64,
            }
        )
    return {
        "id": case_id,
        "nodeid": f"suites/context_scaling/test_context_scaling.py::test_cell[{case_id}]",
        "suite": "context_scaling",
        "matrix": "gpu",
        "model": "gemma3:12b",
        "num_ctx": 4096 * (index + 1),
        "outcome": "passed",
        "verdict": "pass",
        "samples": samples,
        "metrics": {},
        "stability": {"score": float(np.clip(rng.normal(0.93, 0.005), 0, 1))},
        "memory": {"source": "sim", "peak_bytes": int(8.1e9 * rng.normal(1.0, 0.002))},
        "hardware": {"series": list(range(50))},
        "baseline": None,
    }


def build_payload(
    seed: int,
    *,
    n_cases: int = 6,
    repeats: int = 5,
    cv: float = 0.05,
    slowdown: float = 1.0,
    gpu: str | None = GPU,
    sim_profile: str | None = None,
    sim_speed: float = 50.0,
    host: str = "box",
    digest: str = "sha256:aaaa",
    case_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A results.json payload; `slowdown` multiplies durations and divides rates."""
    rng = np.random.default_rng(seed)
    ids = (
        list(case_ids)
        if case_ids is not None
        else [f"gemma3:12b-{4 * (i + 1)}k" for i in range(n_cases)]
    )
    return {
        "schema": "harness.results/1",
        "run_id": f"20261122-160240-{seed:04x}",
        "started_at": "2026-11-22T16:02:40+00:00",
        "simulated": sim_profile is not None,
        "fingerprint": {
            "host": host,
            "cpu": "AMD Ryzen 9 7950X",
            "gpus": [{"name": gpu, "memory_bytes": 17171480576, "driver": "550.54"}] if gpu else [],
            "engine": "ollama",
            "server_version": "0.12.3",
            "sim": {"profile": sim_profile, "speed": sim_speed, "faults": None}
            if sim_profile
            else None,
            "models": {"gemma3:12b": {"digest": digest, "quantization": "Q4_K_M"}},
        },
        "cases": [_case(rng, i, cid, repeats, cv, slowdown) for i, cid in enumerate(ids)],
        "baseline": None,
    }


@pytest.fixture
def make_payload() -> Callable[..., dict[str, Any]]:
    """The payload factory, as a fixture so tests need not import conftest."""
    return build_payload


@pytest.fixture
def store(tmp_path: Path) -> BaselineStore:
    return BaselineStore(tmp_path / "reports" / "baselines")


@pytest.fixture
def write_run(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Write a payload as reports/runs/<run_id>/results.json and return the file's path."""

    def write(payload: dict[str, Any]) -> Path:
        path = tmp_path / "reports" / "runs" / str(payload["run_id"]) / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload), encoding="utf-8")
        return path

    return write
