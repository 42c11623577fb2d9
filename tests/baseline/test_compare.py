"""Verdicts of runs against a baseline, on seeded synthetic payloads."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import (
    METRICS,
    Baseline,
    CompareConfig,
    compare_case,
    compare_runs,
    fingerprint_mismatch,
)
from harness.errors import ConfigError
from harness.results.schema import Case

Factory = Callable[..., dict[str, Any]]
TIMINGS = ("ttft_s", "e2e_s", "prompt_tok_s", "decode_tok_s")
MESSAGE = re.compile(
    r"^(?P<metric>\w+) regressed (?P<pct>\d+\.\d)% "
    r"\((?P<base>[\d.]+) -> (?P<cur>[\d.]+) (s|tok/s), p=0\.\d{3}, 5 vs 5 samples\)$"
)


def as_baseline(payload: dict[str, Any]) -> Baseline:
    return Baseline.from_payload("nightly", Path("nightly.json"), payload)


@pytest.fixture
def baseline(make_payload: Factory) -> Baseline:
    return as_baseline(make_payload(0))


@pytest.mark.parametrize(("repeats", "test"), [(5, "mann-whitney"), (3, "bootstrap")])
def test_twenty_runs_from_the_same_distribution_raise_no_false_alarm(
    make_payload: Factory, repeats: int, test: str
) -> None:
    cfg = CompareConfig()
    baseline = as_baseline(make_payload(0, repeats=repeats))
    for seed in range(1, 21):
        report = compare_runs(baseline, make_payload(seed, repeats=repeats), cfg)
        flagged = [
            (case.key, metric.metric, metric.verdict)
            for case in report.cases
            for metric in case.metrics
            if metric.verdict != "unchanged"
        ]
        assert flagged == [], f"seed {seed}"
        assert report.counts["unchanged"] == 6
        assert not report.regressed
        tests = {m.test for case in report.cases for m in case.metrics}
        assert tests == {test, "tolerance"}


def test_twenty_percent_slower_regresses_every_case(
    baseline: Baseline, make_payload: Factory
) -> None:
    report = compare_runs(baseline, make_payload(99, slowdown=1.2), CompareConfig())
    assert report.regressed
    assert report.counts["regressed"] == 6
    for case in report.cases:
        assert case.verdict == "regressed"
        by_metric = {m.metric: m for m in case.metrics}
        for name in ("ttft_s", "e2e_s"):  # durations: +20% on a 5% CV
            assert by_metric[name].verdict == "regressed"
            assert by_metric[name].test == "mann-whitney"
            p_value = by_metric[name].p_value
            assert p_value is not None
            assert p_value < 0.01
            change = by_metric[name].change
            assert change is not None
            assert 0.10 < change < 0.35
        assert by_metric["stability.score"].verdict == "unchanged"  # untouched by slowdown
        for message in case.messages:
            match = MESSAGE.match(message)
            assert match, message
            metric = by_metric[match["metric"]]
            assert metric.change is not None
            assert float(match["pct"]) == pytest.approx(abs(metric.change) * 100, abs=0.051)
    assert report.to_json()["verdicts"]["regressed"] == 6


def test_rates_report_the_drop_as_a_positive_change(
    baseline: Baseline, make_payload: Factory
) -> None:
    report = compare_runs(baseline, make_payload(5, slowdown=1.5), CompareConfig())
    decode = next(m for m in report.cases[0].metrics if m.metric == "decode_tok_s")
    assert decode.direction == "higher"
    assert decode.verdict == "regressed"
    assert decode.ratio is not None
    assert decode.ratio < 1
    assert decode.change == pytest.approx(1 - decode.ratio)
    assert any(m.startswith("decode_tok_s regressed 3") for m in report.cases[0].messages)


def test_improvements_are_not_failures(baseline: Baseline, make_payload: Factory) -> None:
    report = compare_runs(baseline, make_payload(3, slowdown=0.8), CompareConfig())
    assert report.counts["improved"] == 6
    assert not report.regressed
    assert all("improved" in message for case in report.cases for message in case.messages)


def test_tolerance_keeps_a_significant_small_drift_quiet(
    baseline: Baseline, make_payload: Factory
) -> None:
    # 6% slower on a 1% CV is highly significant but inside the 10% tolerance.
    quiet = as_baseline(make_payload(0, cv=0.01))
    report = compare_runs(quiet, make_payload(1, cv=0.01, slowdown=1.06), CompareConfig())
    assert report.counts["unchanged"] == 6
    strict = CompareConfig(tolerance=0.03)
    assert compare_runs(quiet, make_payload(1, cv=0.01, slowdown=1.06), strict).regressed


def test_per_metric_tolerance(make_payload: Factory) -> None:
    quiet = as_baseline(make_payload(0, cv=0.01))
    run = make_payload(1, cv=0.01, slowdown=1.12)
    cfg = CompareConfig(per_metric_tolerance=dict.fromkeys(TIMINGS, 0.15))
    assert not compare_runs(quiet, run, cfg).regressed
    assert compare_runs(quiet, run, CompareConfig()).regressed


def test_few_repeats_fall_back_to_the_bootstrap(make_payload: Factory) -> None:
    base = as_baseline(make_payload(0, repeats=3))
    report = compare_runs(base, make_payload(1, repeats=3, slowdown=1.3), CompareConfig())
    assert report.regressed
    ttft = next(m for m in report.cases[0].metrics if m.metric == "ttft_s")
    assert ttft.test == "bootstrap"
    assert ttft.ci is not None
    assert ttft.ci[0] > 1.0
    assert any("bootstrap p" in m and "3 vs 3 samples" in m for m in report.cases[0].messages)
    same = compare_runs(base, make_payload(0, repeats=3), CompareConfig())
    assert same.counts["unchanged"] == 6


def test_single_values_are_reported_but_never_a_regression(
    baseline: Baseline, make_payload: Factory
) -> None:
    # A regression needs significance, which one value per run cannot have: a 50% jump in
    # peak memory is reported beside the verdict, and does not fail the case by itself.
    run = make_payload(1)
    for case in run["cases"]:
        case["memory"]["peak_bytes"] *= 1.5
    report = compare_runs(baseline, run, CompareConfig())
    memory = next(m for m in report.cases[0].metrics if m.metric == "memory.peak_bytes")
    assert memory.test == "tolerance"
    assert memory.p_value is None
    assert memory.note is not None
    assert "no repeats" in memory.note
    assert memory.verdict == "changed"
    assert report.cases[0].verdict == "unchanged"
    assert not report.regressed
    messages = report.cases[0].messages
    assert any(
        m.startswith("memory.peak_bytes") and "% worse" in m and "single value, not testable" in m
        for m in messages
    ), messages


def test_other_gpu_is_incomparable_unless_forced(make_payload: Factory) -> None:
    base = as_baseline(make_payload(0, gpu="NVIDIA GeForce RTX 3090"))
    run = make_payload(1, slowdown=1.2)
    report = compare_runs(base, run, CompareConfig())
    assert report.counts["incomparable"] == 6
    assert not report.regressed
    assert any("RTX 3090" in w and "RTX 4080" in w for w in report.warnings)
    assert "GPUs" in report.cases[0].messages[0]
    forced = compare_runs(base, run, CompareConfig(force=True))
    assert forced.counts["regressed"] == 6
    assert forced.to_json()["forced"] is True
    assert "--force" in forced.warnings[0]


def test_other_sim_profile_or_speed_is_incomparable(make_payload: Factory) -> None:
    base = as_baseline(make_payload(0, gpu=None, sim_profile="rtx4080-16gb"))
    other_profile = make_payload(1, gpu=None, sim_profile="cpu-16c-128gb")
    report = compare_runs(base, other_profile, CompareConfig())
    assert report.counts["incomparable"] == 6
    assert "sim profile" in report.warnings[0]
    other_speed = make_payload(1, gpu=None, sim_profile="rtx4080-16gb", sim_speed=10.0)
    assert compare_runs(base, other_speed, CompareConfig()).counts["incomparable"] == 6
    same = make_payload(1, gpu=None, sim_profile="rtx4080-16gb")
    assert compare_runs(base, same, CompareConfig()).counts["unchanged"] == 6


def test_fingerprint_rules(make_payload: Factory) -> None:
    fp = make_payload(0)["fingerprint"]
    assert fingerprint_mismatch(fp, copy.deepcopy(fp)) == []
    other = copy.deepcopy(fp)
    other.update(host="another-box", server_version="0.13.0", git_sha="def")
    assert fingerprint_mismatch(fp, other) == []  # upgrades are what we want to measure
    other["models"]["gemma3:12b"]["digest"] = "sha256:bbbb"
    other["engine"] = "openai"
    diff = fingerprint_mismatch(fp, other)
    assert len(diff) == 2
    assert any("gemma3:12b digest" in d and "sha256:bbbb" in d for d in diff)
    assert any(d.startswith("engine") for d in diff)
    simulated = make_payload(0, sim_profile="rtx4080-16gb")["fingerprint"]
    assert any(d.startswith("simulated") for d in fingerprint_mismatch(fp, simulated))
    cpu_only = make_payload(0, gpu=None)["fingerprint"]
    other_cpu = {**cpu_only, "cpu": "Intel Xeon"}
    assert any(d.startswith("CPU") for d in fingerprint_mismatch(cpu_only, other_cpu))


def test_new_and_missing_cases(baseline: Baseline, make_payload: Factory) -> None:
    ids = [c.id for c in baseline.cases]
    run = make_payload(1, case_ids=[*ids[1:], "qwen2.5:3b-8k"])
    report = compare_runs(baseline, run, CompareConfig())
    verdicts = {case.case_id: case.verdict for case in report.cases}
    assert verdicts["qwen2.5:3b-8k"] == "new"
    assert verdicts[ids[0]] == "missing"
    assert report.cases[-1].verdict == "missing"  # missing ones come after the run's cases
    assert not report.regressed
    summary = report.to_json()
    assert [m["id"] for m in summary["missing"]] == [ids[0]]


def test_case_identity_includes_the_suite(baseline: Baseline, make_payload: Factory) -> None:
    run = make_payload(1)
    for case in run["cases"]:
        case["suite"] = "throughput"
    counts = compare_runs(baseline, run, CompareConfig()).counts
    assert (counts["new"], counts["missing"]) == (6, 6)


def test_failed_repeats_and_failed_baselines(baseline: Baseline, make_payload: Factory) -> None:
    run = make_payload(1)
    for sample in run["cases"][0]["samples"]:
        sample.update(outcome="oom", ttft_s=None, e2e_s=None)
    cmp = compare_case(baseline.cases[0], Case.from_json(run["cases"][0]), CompareConfig())
    assert cmp.verdict == "regressed"
    assert "oom x5" in cmp.messages[0]
    broken = copy.deepcopy(dict(baseline.cases[1].raw))
    for sample in broken["samples"]:
        sample["outcome"] = "crash"
    cmp = compare_case(Case.from_json(broken), Case.from_json(run["cases"][1]), CompareConfig())
    assert cmp.verdict == "incomparable"
    assert "no ok samples" in cmp.messages[0]
    skipped = Case.from_json({**run["cases"][2], "outcome": "skipped", "samples": []})
    assert compare_case(baseline.cases[2], skipped, CompareConfig()).verdict == "incomparable"


def test_partial_failures_use_only_ok_samples(baseline: Baseline, make_payload: Factory) -> None:
    run = make_payload(1)
    run["cases"][0]["samples"][0].update(outcome="timeout", ttft_s=999.0)
    cmp = compare_case(baseline.cases[0], Case.from_json(run["cases"][0]), CompareConfig())
    ttft = next(m for m in cmp.metrics if m.metric == "ttft_s")
    assert ttft.n_current == 4
    assert ttft.test == "bootstrap"  # 5 vs 4 is below min_samples
    assert cmp.verdict == "unchanged"


def test_case_json_shape(baseline: Baseline, make_payload: Factory) -> None:
    cmp = compare_case(
        baseline.cases[0],
        Case.from_json(make_payload(1, slowdown=1.2)["cases"][0]),
        CompareConfig(),
    )
    data = cmp.to_json()
    assert set(data) == {
        "id", "suite", "verdict", "metrics", "messages", "fingerprint_mismatch", "host_load",
    }  # fmt: skip
    assert [m["metric"] for m in data["metrics"]] == [m.name for m in METRICS]
    assert set(data["metrics"][0]) == {
        "metric", "direction", "unit", "baseline_p50", "current_p50", "ratio", "change",
        "tolerance", "p_value", "test", "ci", "n_baseline", "n_current", "verdict", "note",
    }  # fmt: skip


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tolerance": -0.1},
        {"alpha": 0.0},
        {"alpha": 1.5},
        {"min_samples": 1},
        {"per_metric_tolerance": {"ttft": 0.2}},
        {"bootstrap_resamples": 10},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        CompareConfig(**kwargs)


def test_table_lists_every_case_and_a_summary(baseline: Baseline, make_payload: Factory) -> None:
    report = compare_runs(baseline, make_payload(2, slowdown=1.2), CompareConfig())
    table = report.table()
    assert "CASE" in table
    assert "mann-whitney" in table
    for case in report.cases:
        assert case.key in table
    assert table.rstrip().endswith(
        "summary: 6 regressed, 0 improved, 0 noisy, 0 unchanged, 0 new, 0 missing, 0 incomparable"
    )
