"""Seed 000's PASS/FAIL rules."""

from __future__ import annotations

from harness.limits.fit import fit_line
from harness.limits.probe import ContextProbe
from harness.limits.verdict import bound_of, judge

LINE = fit_line([(x, 1e9 + 1000 * x) for x in (8192, 16384, 32768)])
GIB = 1024**3


def test_pass_needs_a_maximum_a_straight_line_and_a_margin() -> None:
    verdict = judge(40000, LINE, 31744, [])
    assert verdict.verdict == "pass"
    assert "40,000" in verdict.reason


def test_unpredictable_growth_fails() -> None:
    bent = fit_line([(8192, 1.0), (16384, 9.0), (32768, 3.0)])
    verdict = judge(40000, bent, 31744, [])
    assert verdict.verdict == "fail"
    assert "unpredictable" in verdict.reason


def test_too_few_points_nothing_found_and_a_greedy_safety_fail() -> None:
    assert "fewer than 3" in judge(40000, fit_line([(1, 1.0), (2, 2.0)]), 31744, []).reason
    assert "cannot find safe limits" in judge(None, None, None, []).reason
    assert "above 80%" in judge(40000, LINE, 36864, []).reason


def test_oom_below_expected_names_both_numbers() -> None:
    oom = ContextProbe(
        num_ctx=20000, outcome="oom", predicted_bytes=6 * GIB, capacity_bytes=15 * GIB
    )
    near = ContextProbe(
        num_ctx=90000, outcome="oom", predicted_bytes=14 * GIB, capacity_bytes=15 * GIB
    )
    verdict = judge(19000, LINE, 15360, [oom, near])
    assert verdict.verdict == "fail"
    assert verdict.findings == (
        "OOM below expected: oom at 20,000 tokens, where the prediction is 6.00 GiB of "
        "15.00 GiB available",
    )


def test_a_truncated_fill_or_a_cut_search_fails() -> None:
    cut = judge(40000, LINE, 31744, [], stopped="the server did not come back")
    assert "search cut short" in cut.reason
    verify = {"num_ctx": 31744, "truncated": True, "error": None}
    assert "was truncated" in judge(40000, LINE, 31744, [], verify=verify).reason


def test_what_bounded_the_maximum() -> None:
    def probe(ctx: int, outcome: str) -> ContextProbe:
        return ContextProbe(ctx, outcome, 0)

    assert bound_of([probe(131072, "fits")], 131072, None) == "trained_context"
    assert bound_of([probe(65536, "fits"), probe(98304, "oom")], 65536, 98304) == "memory"
    assert bound_of([probe(65536, "fits"), probe(98304, "spilled")], 65536, 98304) == "memory"
    assert bound_of([probe(32768, "fits"), probe(65536, "capped")], 32768, 65536) == "server_cap"
    assert bound_of([probe(1024, "oom")], None, 1024) is None


def test_the_80_percent_rule_is_for_a_memory_bound_only() -> None:
    assert "above 80%" in judge(131072, LINE, 131072, [], bound="memory").reason
    trained = judge(131072, LINE, 131072, [], bound="trained_context")
    assert trained.verdict == "pass"
    assert "131,072 tokens, the trained context" in trained.reason
