"""`--launch`: the harness starts the server per context and measures through it.

The launched server is the simulator itself, started as a separate process by the command
template and spoken to over its OpenAI-compatible API, so this runs without llama.cpp; the
same path against llama.cpp is in tests/real_engine.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.suiterun import SuiteRun, run_suite

SIM = "{python} -m harness.cli sim --host {host} --port {port} --profile tiny --speed 1"


def run(pytester: pytest.Pytester, template: str) -> tuple[SuiteRun, Any]:
    done = run_suite(
        pytester, "context_scaling", "--matrix", "smoke", "-k", "qwen", "--launch", template,
        "-q", engine="openai",
    )  # fmt: skip
    return done, done.payload


def test_each_context_is_measured_on_a_server_started_for_it(pytester: pytest.Pytester) -> None:
    done, payload = run(pytester, SIM)
    # 1: a cell missed a threshold of the smoke matrix (stability of 11 ms streams under load):
    # this checks the launch wiring and that every cell was measured, not the verdicts.
    done.check(0, 1)
    cases = {c["id"]: c for c in payload["cases"]}
    assert set(cases) == {"qwen2.5:3b-instruct-2k", "qwen2.5:3b-instruct-4k"}
    # One address for the launched server, restarted at each context (as Ollama reloads).
    assert len({c["server"] for c in cases.values()}) == 1
    for case in cases.values():
        assert case["verdict"] in ("pass", "fail"), case["reason"]
        assert all(sample["outcome"] == "ok" for sample in case["samples"])
        assert case["loaded"]["context_length"] == case["num_ctx"]
        # The launched process tree's RSS, read by port or through the launcher.
        assert case["memory"]["source"] in {"server_rss", "ps"}
        assert case["memory"]["peak_bytes"] > 0


def test_a_server_that_fails_to_start_is_a_crash_with_its_last_lines(
    pytester: pytest.Pytester,
) -> None:
    broken = "{python} -c \"import sys; print('no such model file'); sys.exit(3)\""
    done, payload = run(pytester, broken)
    assert done.ret == 1
    for case in payload["cases"]:
        assert case["verdict"] == "crash"
        assert "no such model file" in case["reason"]
