from __future__ import annotations

from typing import Any

import pytest

from harness.batch.extrapolate import SizeRun
from harness.batch.matrix_section import ThroughputSection
from harness.batch.throughput import SizeResult, judge
from tests.suiterun import run_suite

MATRIX = """\
version: 1
name: tput
sim_profile: tiny
models:
  - name: qwen2.5:3b-instruct
    contexts: [4k]
throughput:
  sizes: [10, 20]
  system_prompt_tokens: 600
  user_tokens: 30
  num_predict: 8
  trim_interval: 5
  keep_messages: 6
  max_spread: 0.6
"""


def test_suite_runs_every_size_and_strategy_and_records_sections(
    pytester: pytest.Pytester,
) -> None:
    matrix = pytester.path / "tput.yaml"
    matrix.write_text(MATRIX)
    run = run_suite(pytester, "throughput", "--matrix", str(matrix), "-q", "-p", "no:randomly",
                    timeout=120).check()  # fmt: skip
    run.result.assert_outcomes(passed=2)
    payload = run.payload
    entries = payload["throughput"]
    assert [(e["strategy"], e["size"]) for e in entries] == [
        ("independent", 10), ("independent", 20), ("conversation", 10), ("conversation", 20)
    ]  # fmt: skip
    for e in entries:
        assert e["errors"] == 0
        assert e["simulated"] is True
        assert 0 < e["tokens_evaluated"] <= e["tokens_sent"]
        assert 0 <= e["token_savings"] < 1
    assert entries[-1]["trims"] >= 3
    projection = payload["extrapolation"]
    assert projection["target"] == 170_000
    assert set(projection["by_strategy"]) == {"independent", "conversation"}
    assert projection["time_s_low"] <= projection["time_s"] <= projection["time_s_high"]
    assert [c["verdict"] for c in payload["cases"]] == ["pass", "pass"]
    # Conversation batching: trim settings from the growth it measured, printed to paste.
    independent, conversation = payload["cases"]
    assert independent["trim_plan"] is None
    plan = conversation["trim_plan"]
    assert plan["growth"]["source"] == "measured"
    assert 30 < plan["growth"]["tokens_per_request"] < 100  # 30 user + 8 reply + template
    assert plan["trim_threshold"] == 28_000
    assert plan["command"] in run.stdout


def _result(size: int, req_s: float, errors: int = 0, memory: float | None = 0.5) -> SizeResult:
    entry: dict[str, Any] = {"size": size, "req_s": req_s, "errors": errors,
                             "errors_by_code": {"busy": errors} if errors else {}}  # fmt: skip
    return SizeResult(entry, SizeRun(size, size / req_s, (), (), ()), memory)


def test_judge_names_the_size_that_degraded() -> None:
    section = ThroughputSection()
    assert judge([_result(100, 4.0), _result(1000, 3.7)], section) == []
    (failure,) = judge([_result(100, 4.01), _result(1000, 3.52)], section)
    assert failure.startswith("size 1000 degraded: 3.52 req/s vs 4.01 at size 100 (12% lower")


def test_judge_fails_on_errors_and_memory() -> None:
    failures = judge([_result(100, 4.0, errors=2), _result(1000, 4.0, memory=0.97)],
                     ThroughputSection())  # fmt: skip
    assert failures[0] == "size 100: 2 errors {'busy': 2}"
    assert "size 1000: peak memory 97.0%" in failures[1]
