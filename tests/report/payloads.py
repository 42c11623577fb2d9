"""results.json payloads that follow docs/results-schema.md, for the report tests: each
factory passes unless overridden, and `realistic_run` fills every section."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

GIB = 1024**3


def make_case(model: str = "gemma3:12b", num_ctx: int = 32768, **overrides: Any) -> dict[str, Any]:
    """One element of `cases`, passing unless overridden; scales a little with context."""
    k = num_ctx / 32768
    speed = 2.5 if "3b" in model else 1.0  # a small model is faster: charts get two lines
    ttft = 0.4 * k / speed
    decode = 42.0 * speed / (1 + 0.15 * k)
    case: dict[str, Any] = {
        "id": f"{model}-{num_ctx // 1024}k",
        "nodeid": f"suites/context_scaling/test_context_scaling.py::test_cell[{model}]",
        "suite": "context_scaling",
        "matrix": "gpu",
        "server": "http://127.0.0.1:11434",
        "model": model,
        "num_ctx": num_ctx,
        "options": {"num_ctx": num_ctx, "num_predict": 64},
        "outcome": "passed",
        "verdict": "pass",
        "reason": None,
        "thresholds": {
            "ttft_s": {"max": 8.0},
            "decode_tok_s": {"min": 6.0},
            "stability": {"min": 0.8},
        },
        "checks": [
            {
                "metric": "ttft_s",
                "stat": "p50",
                "op": "<=",
                "required": 8.0,
                "measured": ttft,
                "passed": True,
            },
            {
                "metric": "decode_tok_s",
                "stat": "p50",
                "op": ">=",
                "required": 6.0,
                "measured": decode,
                "passed": True,
            },
        ],
        "load": {"load_duration_s": 2.1, "wall_s": 2.2},
        "target_prompt_tokens": int(num_ctx * 0.9),
        "samples": [{"outcome": "ok", "error": None, "ttft_s": ttft, "decode_tok_s": decode}],
        "metrics": {
            "ttft_s": {
                "n": 5,
                "mean": ttft,
                "p50": ttft,
                "p90": ttft * 1.05,
                "min": ttft,
                "max": ttft * 1.1,
                "cv": 0.03,
            },
            "prompt_tok_s": {"n": 5, "p50": 1800.0 / (1 + 0.1 * k), "p90": 1850.0},
            "decode_tok_s": {"n": 5, "p50": decode, "p90": decode * 1.02},
            "client_decode_tok_s": {},
            "e2e_s": {},
        },
        "stability": {
            "score": 0.93,
            "components": {
                "success_rate": 1.0,
                "decode_consistency": 0.98,
                "ttft_consistency": 0.97,
                "headroom": 0.8,
            },
            "formula": "0.4*success_rate + 0.2*decode_consistency + 0.2*ttft_consistency"
            " + 0.2*headroom",
        },
        "memory": {
            "source": "sim",
            "baseline_bytes": 0,
            "peak_bytes": int(6 * GIB * k),
            "delta_bytes": int(1.5 * GIB * k),
        },
        "hardware": {},
        "baseline": None,
    }
    case.update(overrides)
    return case


def make_failed_case(
    model: str = "gemma3:12b", num_ctx: int = 262144, **overrides: Any
) -> dict[str, Any]:
    error = "llama runner process has terminated: cudaMalloc failed: out of memory"
    fields: dict[str, Any] = {
        "outcome": "failed",
        "verdict": "oom",
        "reason": f"every sample failed: {error}",
        "samples": [{"outcome": "oom", "error": error}],
        "metrics": {},
        "checks": [],
        "stability": {"score": 0.0, "components": {"success_rate": 0.0}},
    }
    fields.update(overrides)
    return make_case(model, num_ctx, **fields)


def make_run(
    cases: list[dict[str, Any]] | None = None, *, simulated: bool = True, **sections: Any
) -> dict[str, Any]:
    """A whole results.json payload; `sections` adds or replaces top-level keys."""
    payload: dict[str, Any] = {
        "schema": "harness.results/1",
        "run_id": "20261122-160240-3f9a",
        "started_at": "2026-11-22T16:02:40+00:00",
        "finished_at": "2026-11-22T16:03:10+00:00",
        "duration_s": 30.1,
        "simulated": simulated,
        "fingerprint": {
            "host": "box",
            "platform": "Linux-6.1-x86_64",
            "python": "3.11.7",
            "cpu": "AMD Ryzen 9 7950X",
            "cpu_count": 32,
            "ram_bytes": 136365211648,
            "gpus": [
                {"name": "NVIDIA GeForce RTX 4080", "memory_bytes": 17171480576, "driver": "550.54"}
            ],
            "engine": "ollama",
            "server_url": "http://127.0.0.1:11434",
            "server_version": "0.12.3",
            "sim": {"profile": "rtx4080-16gb", "speed": 50.0, "faults": None}
            if simulated
            else None,
            "matrices": ["gpu"],
            "harness_version": "0.1.0",
            "git_sha": "abc123def4567890",
            "env": {"OLLAMA_NUM_PARALLEL": "1"},
            "models": {},
        },
        "cases": [make_case()] if cases is None else cases,
        "limits": [],
        "throughput": [],
        "extrapolation": None,
        "concurrency": [],
        "capacity": None,
        "baseline": None,
    }
    payload.update(sections)
    return payload


def make_limit(model: str = "gemma3:12b") -> dict[str, Any]:
    base, per_token = 8.2 * GIB, 196_608.0
    probes = [
        {
            "num_ctx": n,
            "outcome": "ok" if n <= 40960 else "oom",
            "memory_bytes": int(base + per_token * n) if n <= 40960 else None,
        }
        for n in (4096, 8192, 16384, 32768, 40960, 49152, 65536)
    ]
    return {
        "model": model,
        "probes": probes,
        "max_context": 40960,
        "bytes_per_token": per_token,
        "base_bytes": base,
        "r2": 0.998,
        "recommendations": {
            "max_context_tokens": 36864,
            "trim_threshold": 33177,
            "settings_text": f"MAX_CONTEXT_TOKENS = 36864\nTRIM_THRESHOLD = 33177\n"
            f"# ollama: PARAMETER num_ctx 36864  ({model})",
        },
    }


def realistic_run() -> dict[str, Any]:
    """A run with every section: two models over five contexts, limits, batch, history."""
    cases = [
        make_case(m, n)
        for m in ("gemma3:12b", "qwen2.5:3b-instruct")
        for n in (8192, 16384, 32768, 65536, 131072)
    ]
    cases.append(make_failed_case())
    cases.append(
        make_case(
            "liquid-rag:latest",
            131072,
            outcome="skipped",
            verdict="skipped",
            reason="model not pulled: ollama pull liquid-rag:latest",
            metrics={},
            stability=None,
        )
    )
    # The shape harness.baseline.CaseComparison.to_json() writes (a positive change is worse).
    cases[2]["baseline"] = {
        "verdict": "regressed",
        "messages": ["decode_tok_s regressed 12.5% (40.0 -> 35.0 tok/s, p=0.004, 5 vs 5 samples)"],
        "metrics": [
            {"metric": "decode_tok_s", "change": 0.125, "verdict": "regressed"},
            {"metric": "ttft_s", "change": 0.02, "verdict": "unchanged"},
        ],
    }
    cases[3]["checks"][1]["passed"] = False
    cases[3]["verdict"], cases[3]["outcome"] = "fail", "failed"
    cases[3]["reason"] = "decode_tok_s p50 5.2 < 6.0"
    throughput = [
        {"strategy": s, "size": n, "total_s": n * f, "req_s": 1 / f, "trims": n // 50}
        for s, f in (("conversation", 0.42), ("single", 0.61))
        for n in (100, 1000, 10000)
    ]
    history = [
        {
            "run_id": f"2026111{d}-020000-aaaa",
            "started_at": f"2026-11-1{d}T02:00:00+00:00",
            "cases": {
                c["id"]: {
                    "decode_tok_s": c["metrics"]["decode_tok_s"]["p50"] * (1 + d / 100),
                    "ttft_s": c["metrics"]["ttft_s"]["p50"],
                }
                for c in cases[:5]
            },
        }
        for d in range(5)
    ]
    return make_run(
        cases,
        limits=[make_limit(), make_limit("qwen2.5:3b-instruct")],
        throughput=throughput,
        extrapolation={
            "target": 170000,
            "time_s": 71400.0,
            "time_s_low": 66000.0,
            "time_s_high": 78000.0,
            "strategy": "conversation",
        },
        history=history,
        baseline={
            "name": "box-nightly",
            "path": "reports/baselines/box-nightly.json",
            "verdicts": {"unchanged": 9, "regressed": 1},
        },
    )


class Payloads:
    """The factory as one object, handed to tests by the `payloads` fixture."""

    case = staticmethod(make_case)
    failed_case = staticmethod(make_failed_case)
    run = staticmethod(make_run)
    limit = staticmethod(make_limit)
    realistic = staticmethod(realistic_run)


# What the `run_dir` fixture hands a test: write a payload, get its run folder.
WriteRun = Callable[[dict[str, Any]], Path]


def write_run(run_dir: Path, payload: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").write_text(json.dumps(payload), encoding="utf-8")
    return run_dir
