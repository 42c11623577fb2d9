"""plan_job: known inputs, known plan."""

from __future__ import annotations

from typing import Any

import pytest

from harness.batch.growth import Growth, trim_settings
from harness.plan.job import plan_job
from harness.plan.model import JobPlan
from harness.plan.text import plan_lines
from tests.plan.conftest import limit_entry, throughput_case


def test_fastest_passing_strategy_with_its_projection(payload: dict[str, Any]) -> None:
    plan = plan_job(payload)
    assert plan.ready
    assert plan.strategy == "conversation"  # 0.14 s a request against 0.15
    assert plan.time_s is not None
    assert plan.time_s.value == pytest.approx(2.0 + 0.14 * 170_000)
    assert (plan.time_s.low, plan.time_s.high) == pytest.approx(
        (plan.time_s.value * 0.9, plan.time_s.value * 1.2)
    )
    assert [p.strategy for p in plan.projections] == ["independent", "conversation"]
    # Savings: the largest size's, the range over the sizes.
    assert plan.token_savings is not None
    assert (plan.token_savings.value, plan.token_savings.low, plan.token_savings.high) == (
        0.6, 0.5, 0.6,
    )  # fmt: skip


def test_without_limits_num_ctx_is_the_throughput_runs_and_trims_follow_growth(
    payload: dict[str, Any],
) -> None:
    plan = plan_job(payload)
    assert plan.num_ctx == 32768
    assert plan.num_ctx_source.startswith("throughput")
    threshold = min(28_000, int(32768 * 0.85))
    expected = trim_settings(threshold, Growth(60, 300, "measured", 99))
    assert plan.trim is not None
    assert (plan.trim.trim_threshold, plan.trim.trim_interval, plan.trim.keep_messages) == (
        expected.trim_threshold, expected.trim_interval, expected.keep_messages,
    )  # fmt: skip
    assert plan.trim.trim_strategy == "hybrid"
    assert plan.num_parallel == plan.concurrency == 1
    # Peak memory: the run's, against the section's budget (15 GiB).
    assert plan.memory is not None
    assert plan.memory.basis == "measured"
    assert plan.memory.budget_bytes == 15 * 2**30
    assert not plan.memory.over_budget
    assert {m.what for m in plan.missing} == {"context limits", "capacity"}
    assert not any(m.blocking for m in plan.missing)


def test_limits_give_num_ctx_threshold_and_predicted_memory(payload: dict[str, Any]) -> None:
    payload["limits"] = [limit_entry()]
    plan = plan_job(payload)
    assert plan.num_ctx == 84_992
    assert plan.trim is not None
    assert plan.trim.trim_threshold == 72_243
    assert plan.memory is not None
    assert plan.memory.basis == "predicted"
    assert plan.memory.peak_bytes.value == 8 * 2**30 + 66_560 * 84_992
    assert "context_limits" in plan.measured
    assert "context limits" not in {m.what for m in plan.missing}


def test_a_failed_limit_search_is_not_used(payload: dict[str, Any]) -> None:
    payload["limits"] = [limit_entry(verdict="fail")]
    plan = plan_job(payload)
    assert plan.num_ctx == 32768  # the throughput run's, not the failed search's 84,992
    assert plan.memory is not None
    assert plan.memory.basis == "measured"  # the run's peak, not the failed search's line
    assert any("failed" in m.why for m in plan.missing)


def test_no_safe_num_ctx_means_no_settings(payload: dict[str, Any]) -> None:
    payload["cases"] = [throughput_case("conversation", 0.14, num_ctx=None)]
    plan = plan_job(payload)
    assert not plan.ready
    (blocking,) = [m for m in plan.missing if m.blocking]
    assert blocking.what == "num_ctx"
    assert "pytest suites/context_limits --matrix gpu" in blocking.fix
    text = "\n".join(plan_lines(plan))
    assert "NO JOB SETTINGS" in text
    assert "--trim-interval" not in text
    assert "apply:" not in text


def test_every_strategy_failed_means_no_settings(payload: dict[str, Any]) -> None:
    strategies = ("independent", "conversation")
    payload["cases"] = [throughput_case(s, 0.14, verdict="fail") for s in strategies]
    plan = plan_job(payload)
    assert not plan.ready
    assert plan.strategy is None
    assert "size 1000 degraded" in plan.missing[0].why


def test_no_throughput_says_so() -> None:
    plan = plan_job({"simulated": True, "cases": [], "limits": [limit_entry()]})
    assert not plan.ready
    assert plan.measured == ("context_limits",)
    assert plan.missing[0].what == "throughput"
    assert plan.missing[0].blocking


def test_another_job_size_follows_the_fitted_line(payload: dict[str, Any]) -> None:
    plan = plan_job(payload, 10_000)
    assert plan.requests == 10_000
    assert plan.time_s is not None
    assert plan.time_s.value == pytest.approx(2.0 + 0.14 * 10_000)
    assert plan.time_s.high == pytest.approx(plan.time_s.value * 1.2)
    chosen = plan.chosen
    assert chosen is not None
    assert chosen.trims is not None
    assert chosen.trims.value == pytest.approx(1700 * 10_000 / 170_000)


def test_over_budget_blocks(payload: dict[str, Any]) -> None:
    for case in payload["cases"]:
        case["batch_settings"]["memory_budget_bytes"] = 10 * 2**30  # the high bound is 11 GiB
    plan = plan_job(payload)
    assert not plan.ready
    assert any(m.what == "memory headroom" and m.blocking for m in plan.missing)


def test_simulated_plans_say_so(payload: dict[str, Any]) -> None:
    payload["simulated"] = True
    plan = plan_job(payload)
    assert plan.memory is not None
    assert plan.memory.basis == "simulated"
    assert "SIMULATED" in plan_lines(plan)[0]


def test_round_trip(payload: dict[str, Any]) -> None:
    payload["limits"] = [limit_entry()]
    plan = plan_job(payload)
    again = JobPlan.from_json(plan.to_json())
    assert again == plan
    assert again.to_json()["ready"] is True


def test_one_model_per_plan(payload: dict[str, Any]) -> None:
    other = throughput_case("conversation", 0.05)
    other.update(id="qwen-conversation", model="qwen2.5:3b-instruct")
    payload["cases"].append(other)
    plan = plan_job(payload)
    assert plan.model == "gemma3:12b"  # the first measured, never the faster other model
    assert plan.time_s is not None
    assert plan.time_s.value == pytest.approx(2.0 + 0.14 * 170_000)
    assert any("qwen2.5:3b-instruct" in m.why for m in plan.missing if m.what == "one model")
    qwen = plan_job(payload, model="qwen2.5:3b-instruct")
    assert qwen.model == "qwen2.5:3b-instruct"
    assert [p.strategy for p in qwen.projections] == ["conversation"]


def test_the_extrapolation_block_reads_like_seed_000(payload: dict[str, Any]) -> None:
    from harness.plan.text import projection_lines

    plan = plan_job(payload)
    lines = projection_lines(plan.projections[1], simulated=False)
    assert lines[0] == (
        "EXTRAPOLATION TO 170,000 REQUESTS, conversation "
        "(projected from measured sizes 100 / 1,000)"
    )
    assert lines[1] == "  Estimated time: 23,802 s (6.6 h), 95% interval 5h 57m to 7h 56m"
    assert lines[2] == "  Estimated throughput: 7.14 req/s (5.95 to 7.94)"
    assert "  Estimated token savings: 60.0% (largest size; 50.0% to 60.0% over the sizes)" in lines
    assert "  Estimated trims: 1,700 (1,500 to 1,900)" in lines
    assert "  Estimated peak memory: 10.00 GiB (10.00 GiB to 11.00 GiB)" in lines
