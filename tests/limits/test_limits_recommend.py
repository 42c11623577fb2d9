"""Recommendations, the settings text, the trim formula and the terminal block."""

from __future__ import annotations

import json
from pathlib import Path

from harness.limits.recommend import Policy, recommend, settings_text, trim_plan
from harness.limits.report import format_recommendations, write_context_limit_results
from harness.results.schema import Limit


def test_the_seed_rules_for_a_maximum_of_101182() -> None:
    rec = recommend(101182, 9.0 * 1024**3, 65536, Policy())
    assert rec.max_context_tokens == 80896  # 0.8 x 101182 = 80945.6, down to 1024s
    assert rec.trim_threshold == 68761  # 85%
    assert rec.max_context_tokens % 1024 == 0
    assert rec.kv_cache_per_token_mb == 0.0625
    assert rec.model_vram_gb == 9.0


def test_trim_plan_follows_the_formula() -> None:
    # 750 tokens a message; keep half of 68761 -> 45 messages -> 44 (whole requests);
    # (68761 - 44 x 750) / 1500 = 23.8 -> 23 requests until the threshold again.
    assert trim_plan(68761, Policy(tokens_per_request=1500)) == (44, 23)
    assert trim_plan(68761, Policy(tokens_per_request=1500, system_tokens=2000)) == (44, 22)
    # A threshold smaller than one request still keeps one request and trims every time.
    assert trim_plan(1000, Policy(tokens_per_request=1500)) == (2, 1)


def test_settings_text_can_be_pasted() -> None:
    rec = recommend(40000, 8.2 * 1024**3, 0.42 * 1024**2, Policy())
    text = settings_text(rec, 40000, "gemma3:12b on RTX 4080, GPU budget", Policy())
    lines = text.splitlines()
    assert "MAX_CONTEXT_TOKENS = 31744  # 80% of the largest good context (40,000)" in lines
    assert any(line.startswith("CONTEXT_TRIM_THRESHOLD = 26982") for line in lines)
    assert any(line.startswith("MODEL_VRAM_GB = 8.2") for line in lines)
    assert any(line.startswith("KV_CACHE_PER_TOKEN_MB = 0.42") for line in lines)
    assert "PARAMETER num_ctx 31744" in lines
    assert "OLLAMA_CONTEXT_LENGTH=31744" in lines
    namespace: dict[str, object] = {}
    exec(text.split("\n\n")[0], namespace)  # the constants block is valid Python
    assert namespace["TRIM_INTERVAL"] == rec.trim_interval


def test_format_recommendations_and_the_results_file(tmp_path: Path) -> None:
    rec = recommend(101182, 9e9, 65536, Policy())
    limit = {
        "model": "gemma3:12b",
        "hardware": "rtx4080-16gb (SIMULATED)",
        "device": "gpu",
        "max_context": 101182,
        "bytes_per_token": 65536.0,
        "base_bytes": 9e9,
        "r2": 1.0,
        "prediction": {"bytes_per_token_error": 0.0},
        "search": {"probes": 3, "max_probes": 10},
        "probes": [{}] * 6,
        "recommendations": rec.as_dict(settings_text(rec, 101182, "x", Policy())),
        "verdict": "pass",
        "reason": "ok",
    }
    shown = format_recommendations(Limit.from_json(limit))
    assert shown.splitlines()[0] == "gemma3:12b on rtx4080-16gb (SIMULATED): PASS"
    assert "    MAX_CONTEXT_TOKENS = 80896  # 80% of the largest good context (101,182)" in shown
    assert "3 search (bound 10), 6 in all" in shown
    path = write_context_limit_results(tmp_path, {"limits": [limit]})
    assert path == tmp_path / "context_limit_results.json"
    assert json.loads(path.read_text())[0]["max_context"] == 101182
    failed = format_recommendations(
        Limit.from_json({**limit, "verdict": "fail", "reason": "R^2 low"})
    )
    assert "reason: R^2 low" in failed


def test_no_memory_margin_when_the_trained_context_or_the_server_bounds_it() -> None:
    # The 27B on the 128 GB box: nothing was bad up to its trained 131,072 (28 GiB of RAM).
    for bound in ("trained_context", "server_cap"):
        rec = recommend(131072, 18e9, 81920, Policy(), bound)
        assert rec.max_context_tokens == 131072
        assert rec.trim_threshold == 111411  # the trim fraction still applies
    assert (
        recommend(131072, 18e9, 81920, Policy(), "memory").max_context_tokens
        == 104857 // 1024 * 1024
    )


def test_the_terminal_block_says_what_bounded_the_maximum() -> None:
    policy = Policy()
    trained = recommend(131072, 18e9, 81920, policy, "trained_context")
    at_max = {"num_ctx": 131072, "memory_bytes": 28 * 1024**3, "capacity_bytes": 98 * 1024**3}
    limit = {
        "model": "orieg/gemma3-tools:27b-it-qat",
        "hardware": "ryzen16-128gb",
        "device": "ram",
        "max_context": 131072,
        "bound": "trained_context",
        "probes": [at_max],
        "recommendations": trained.as_dict(settings_text(trained, 131072, "x, RAM budget", policy)),
        "verdict": "pass",
    }
    shown = format_recommendations(Limit.from_json(limit))
    assert "that fits" not in shown
    assert "80% of the maximum" not in shown
    assert (
        "  largest context: 131,072, the model's trained context "
        "(memory did not bound it: 28.0 GiB used, 98.0 GiB available)"
    ) in shown
    assert "MAX_CONTEXT_TOKENS = 131072  # the model's trained context (131,072)" in shown
    capped = format_recommendations(
        Limit.from_json({**limit, "bound": "server_cap", "max_context": 32768})
    )
    assert "largest context: 32,768, the server's cap" in capped
    memory = format_recommendations(Limit.from_json({**limit, "bound": "memory"}))
    assert "largest context that fits (RAM budget): 131,072" in memory
    assert "recommended settings (80% of the maximum):" in memory
