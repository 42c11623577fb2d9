"""The typed results model against files written before it existed.

tests/fixtures/results_v1/ holds a `harness.results/1` run written by main 46540de (the
context_limits, throughput, concurrency and context_scaling suites on the simulator, with
`--save-baseline pre`): its results.json (each case's `hardware` time series emptied to keep
the file small; nothing reads it), the baseline that run saved, the matrix.md and
matrix.csv that run rendered, and terminal.txt: its limits block and capacity lines as the
renderers printed them from the JSON dicts, before they read the typed model. Old files
must keep loading, comparing and rendering the same.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from harness.baseline import BaselineStore, CompareConfig, compare_runs, load_comparable
from harness.concurrency.report import summary_notes, table_lines
from harness.errors import ResultsError
from harness.limits.report import format_recommendations
from harness.report import csvout, markdown
from harness.results.schema import (
    BASELINE_SCHEMA,
    SCHEMA,
    CapacityEntry,
    Case,
    CaseBaseline,
    Limit,
    RunResults,
    as_run,
    load_run,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results_v1"


@pytest.fixture(scope="module")
def run() -> RunResults:
    return load_run(FIXTURES)


def test_a_stored_results_file_loads_typed(run: RunResults) -> None:
    assert (run.schema, run.run_id, run.simulated) == (SCHEMA, "20261130-101843-58aa", True)
    assert run.fingerprint.sim is not None
    assert run.fingerprint.sim.profile == "rtx4080-16gb"
    assert [c.verdict for c in run.cases].count("pass") == 8
    scaling = next(c for c in run.cases if c.id == "gemma3:12b-4k")
    assert scaling.suite == "context_scaling"
    assert scaling.num_ctx == 4096
    assert len(scaling.samples) == 3
    assert all(s.outcome == "ok" and s.ttft_s and s.ttft_s > 0 for s in scaling.samples)
    assert scaling.p50("ttft_s") == pytest.approx(0.883, abs=0.001)
    assert scaling.stability is not None
    assert scaling.stability.score == pytest.approx(0.887, abs=0.001)
    assert run.limits[0].max_context == 106240
    assert run.limits[0].recommendations.max_context_tokens == 84992
    assert len(run.concurrency) == 9
    assert all(level.goodput_req_s is not None for level in run.concurrency[0].levels)
    assert len(run.capacity) == 3
    assert run.capacity[0].best is not None


def test_to_json_is_the_file_as_read(run: RunResults) -> None:
    on_disk = json.loads((FIXTURES / "results.json").read_text(encoding="utf-8"))
    assert run.to_json() == on_disk
    assert run.section("extrapolation") == on_disk["extrapolation"]


def test_an_old_file_renders_the_markdown_and_csv_it_rendered_then(run: RunResults) -> None:
    """What it rendered then is unchanged; the job-plan sections (issue 18) come after it:
    matrix.md's new sections follow the old text, matrix.csv's new columns follow the old
    ones on every old row, and its new rows follow the old rows."""
    then_md = (FIXTURES / "matrix.md").read_text(encoding="utf-8")
    now_md = markdown.render(run)
    assert now_md.startswith(then_md.rstrip("\n") + "\n")
    assert "## Extrapolation to 170,000 requests" in now_md[len(then_md) :]
    then_csv = list(csv.reader((FIXTURES / "matrix.csv").read_text(encoding="utf-8").splitlines()))
    now_csv = list(csv.reader(csvout.render(run).splitlines()))
    width = len(then_csv[0])
    assert [row[:width] for row in now_csv[: len(then_csv)]] == then_csv
    assert all(row[width:] == [""] * (len(row) - width) for row in now_csv[1 : len(then_csv)])


def test_an_old_file_prints_the_limits_and_capacity_it_printed_then(run: RunResults) -> None:
    then = (FIXTURES / "terminal.txt").read_text(encoding="utf-8")
    now = [format_recommendations(limit) for limit in run.limits]
    now += ["\n".join(summary_notes(run.capacity)), "\n".join(table_lines(run.capacity))]
    assert "\n".join(now) + "\n" == then


def test_a_stored_baseline_still_compares(run: RunResults, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "baseline.json", tmp_path / "pre.json")
    baseline = BaselineStore(tmp_path).load("pre")
    assert (baseline.name, len(baseline.cases)) == ("pre", 9)
    report = compare_runs(baseline, load_comparable(FIXTURES), CompareConfig())
    counts = report.counts
    # The run the baseline was saved from: every measured case unchanged; the suites with no
    # samples (limits, throughput) and the over-budget cell have nothing to compare.
    assert (counts["unchanged"], counts["incomparable"], counts["regressed"]) == (5, 4, 0)
    assert not report.fingerprint_mismatch
    assert load_run(tmp_path / "pre.json", (BASELINE_SCHEMA, SCHEMA)).name == "pre"


def test_saving_a_loaded_run_writes_the_same_baseline(run: RunResults, tmp_path: Path) -> None:
    saved = BaselineStore(tmp_path).save("pre", run)
    assert saved.read_bytes() == (FIXTURES / "baseline.json").read_bytes()


def test_a_baseline_is_not_a_results_file_unless_allowed() -> None:
    with pytest.raises(ResultsError, match=r"baseline\.json: schema is 'harness\.baseline/1'"):
        load_run(FIXTURES / "baseline.json")


def test_odd_values_read_as_missing_not_as_errors() -> None:
    case = Case.from_json(
        {"id": 7, "num_ctx": "big", "metrics": {"ttft_s": [1]}, "stability": "high",
         "memory": [1], "samples": ["x", {"outcome": "ok", "ttft_s": float("nan")}],
         "checks": "none", "baseline": "regressed", "suite": None}
    )  # fmt: skip
    assert (case.id, case.num_ctx, case.p50("ttft_s"), case.stability, case.memory) == (
        "7", None, None, None, None,
    )  # fmt: skip
    assert [s.ttft_s for s in case.samples] == [None]
    assert (case.checks, case.baseline, case.suite) == ((), "regressed", None)
    assert isinstance(Case.from_json({"baseline": {"verdict": "new"}}).baseline, CaseBaseline)


def test_odd_limit_and_capacity_values_read_as_missing() -> None:
    limit = Limit.from_json(
        {"hardware": 3, "device": None, "spill_context": "soon", "memory": "sim",
         "prediction": {"kv_bytes_per_token": "x", "full_window_caches": 1, "note": None},
         "search": {"probes": 2.0, "max_probes": "ten"}, "probes": [{"capacity_bytes": []}, 1]}
    )  # fmt: skip
    assert (limit.hardware, limit.device, limit.spill_context) == ("3", None, None)
    assert (limit.memory_source, limit.memory_reason) == ("", "")
    prediction = limit.prediction
    assert (prediction.kv_bytes_per_token, prediction.full_window_caches) == (None, True)
    assert (prediction.bytes_per_token_error, prediction.note) == (None, "")
    assert (limit.search_probes, limit.search_max_probes) == (2, None)
    assert [p.capacity_bytes for p in limit.probes] == [None]
    entry = CapacityEntry.from_json({"context": "4k", "max_parallel_fit": None, "best": {}})
    assert (entry.context, entry.max_parallel_fit, entry.best) == (None, "", None)


def test_as_run_takes_the_model_or_a_document(run: RunResults) -> None:
    assert as_run(run) is run
    assert as_run(dict(run.raw)).cases == run.cases


def test_a_throughput_case_reads_typed() -> None:
    """The sections the job plan reads: sizes, projection, settings and growth."""
    from tests.plan.conftest import throughput_case

    case = Case.from_json(throughput_case("conversation", 0.14))
    assert case.throughput is not None
    assert [(e.strategy, e.size) for e in case.throughput] == [
        ("conversation", 100),
        ("conversation", 1000),
    ]
    assert [e.total_s for e in case.throughput] == pytest.approx([14.0, 140.0])
    assert case.throughput[0].tokens_s == pytest.approx((350 + 3) * 100 / 14.0)
    ex = case.extrapolation
    assert ex is not None
    assert ex.time_s is not None
    assert (ex.target, ex.strategy, ex.fit_a, ex.fit_b) == (170_000, "conversation", 2.0, 0.14)
    assert ex.time_s.low == pytest.approx(ex.time_s.value * 0.9)
    assert ex.projections() == {"conversation": ex}  # an older run: no by_strategy
    assert case.batch_settings is not None
    assert (case.batch_settings.trim_threshold, case.batch_settings.concurrency) == (28_000, 1)
    assert case.growth is not None
    assert case.growth.tokens_per_request == 60
    # A case of another suite has none of them.
    other = Case.from_json({"id": "c"})
    assert (other.throughput, other.extrapolation, other.batch_settings, other.growth) == (
        None, None, None, None,
    )  # fmt: skip


def test_odd_throughput_values_read_as_missing() -> None:
    case = Case.from_json(
        {"throughput": [{"size": "many", "req_s": "fast", "errors": None}, 3],
         "extrapolation": {"target": "all", "time_s": [1], "by_strategy": {"a": 1, "b": {}}},
         "batch_settings": {"concurrency": "x"}, "trim_plan": {"growth": {"samples": 3}}}
    )  # fmt: skip
    assert case.throughput is not None
    [entry] = case.throughput
    assert (entry.size, entry.req_s, entry.errors, entry.tokens_s) == (0, None, 0, None)
    assert case.extrapolation is not None
    assert (case.extrapolation.target, case.extrapolation.time_s) == (None, None)
    assert case.extrapolation.by_strategy == {}
    assert case.batch_settings is not None
    assert (case.batch_settings.concurrency, case.batch_settings.trim_strategy) == (
        1, "sliding_window",
    )  # fmt: skip
    assert case.growth is None


def test_a_run_read_without_typing_its_cases_types_them_one_at_a_time(run: RunResults) -> None:
    light = RunResults.from_json(run.raw, type_cases=False)
    assert light.cases == ()
    assert tuple(light.iter_cases()) == run.cases
    assert light.fingerprint == run.fingerprint
