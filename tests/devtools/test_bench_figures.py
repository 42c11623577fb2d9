"""The benchmark table: figures from stats and extra_info, comparison, saving, rendering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.devtools import benchfigures as bf

QUIET = {"cpu": "Test CPU", "nproc": 2, "python": "3.11.7", "platform": "Linux"}


def entry(figures: dict[str, float], load: float = 0.5, **machine: object) -> bf.Entry:
    return bf.Entry(figures, {**QUIET, **machine}, [load, 1.0, 1.0], [load, 1.0, 1.0], "2026-11-30")


def test_figures_take_mean_median_and_numeric_extra_info() -> None:
    figures = bf.benchmark_figures(
        {"mean": 0.5, "median": 0.25, "stddev": 1.0},
        {"rate": 10, "nested": {"p50_ms": 0.4}, "note": "text", "flag": True},
    )
    assert figures == {"mean_s": 0.5, "median_s": 0.25, "rate": 10.0, "nested.p50_ms": 0.4}


def test_disabled_benchmark_has_only_extra_info() -> None:
    assert bf.benchmark_figures(None, {"n": 3}) == {"n": 3.0}


def test_machine_names_the_cpu_and_cores() -> None:
    info = bf.machine()
    assert info["nproc"] >= 1
    assert info["cpu"]
    assert len(bf.load_average()) in (0, 3)


@pytest.mark.parametrize(
    ("before", "after", "others", "expected"),
    [
        (1.9, 2.0, None, False),
        (2.1, 0.5, None, True),
        # After a benchmark the load counts its own processes: not judged.
        (0.5, 2.1, None, False),
        (0.5, 2.1, 0.1, False),
        (0.5, 0.5, 0.3, True),  # other processes took 30% of the cores meanwhile
        (None, None, None, False),
    ],
)
def test_busy_when_the_load_before_or_other_work_meanwhile_exceeds_the_cores(
    before: float | None, after: float | None, others: float | None, expected: bool
) -> None:
    loads = [[] if x is None else [x, 0.0, 0.0] for x in (before, after)]
    e = bf.Entry({}, QUIET, loads[0], loads[1], "2026-11-30", others)
    assert e.busy is expected
    assert bf.Entry.from_json(e.to_json()) == e


def test_other_work_is_the_machines_busy_time_less_this_process_trees() -> None:
    wall, busy, own = iter([0.0, 2.0]), iter([10.0, 13.0]), iter([5.0, 6.0])
    meter = bf.OtherWork(wall.__next__, busy.__next__, own.__next__, cpus=2)
    assert meter.share() == 0.5  # 3 s busy, 1 s of it ours: 2 s of 2 cores x 2 s


def test_the_tree_counts_a_child_that_has_finished() -> None:
    """Ground truth in CPU seconds, not wall time: a child that spun for 0.3 s of CPU and
    exited is this tree's work however busy the machine was meanwhile."""
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    before = bf._tree_cpu_s()
    subprocess.run([sys.executable, "-c", spin], check=True)
    assert bf._tree_cpu_s() - before >= 0.3


def test_compare_lists_changes_over_20_percent_between_comparable_runs() -> None:
    previous = {"t": entry({"a": 100.0, "b": 100.0, "c": 100.0, "gone": 1.0}),
                "busy_now": entry({"a": 1.0}), "other_cpu": entry({"a": 1.0})}  # fmt: skip
    current = {"t": entry({"a": 121.0, "b": 79.0, "c": 119.0, "new": 5.0}),
               "busy_now": entry({"a": 9.0}, load=4.0),
               "other_cpu": entry({"a": 9.0}, cpu="Another CPU")}  # fmt: skip
    changes, skipped = bf.compare(previous, current)
    assert {c.figure: round(c.ratio, 2) for c in changes} == {"t a": 0.21, "t b": -0.21}
    assert skipped == ["busy_now", "other_cpu"]


def test_change_from_zero() -> None:
    assert bf.Change("x", 0.0, 0.0).ratio == 0.0
    assert bf.Change("x", 0.0, 1.0).ratio == float("inf")


def test_save_then_load_round_trips_and_carries_unmeasured(tmp_path: Path) -> None:
    path = tmp_path / "bench" / "latest.json"
    bf.save(path, {"t1": entry({"a": 1.0}), "t2": entry({"b": 2.0}, load=3.0)}, QUIET)
    bf.save(path, {"t1": entry({"a": 3.0})}, QUIET, previous=bf.load_entries(path))
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["schema"] == bf.SCHEMA
    assert payload["carried"] == ["t2"]
    assert payload["benchmarks"]["t2"]["busy"] is True  # the flag travels with the figures
    assert payload["benchmarks"]["t2"]["machine"]["cpu"] == "Test CPU"
    loaded = bf.load_entries(path)
    assert loaded["t1"].figures == {"a": 3.0}
    assert loaded["t2"] == entry({"b": 2.0}, load=3.0)


def test_save_drops_the_entries_of_benchmarks_that_no_longer_exist(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    bf.save(path, {"t1": entry({"a": 1.0}), "gone": entry({"b": 2.0}), "t3": entry({})}, QUIET)
    previous = bf.load_entries(path)
    dropped = bf.save(path, {"t1": entry({"a": 3.0})}, QUIET, previous, frozenset({"t1", "t3"}))
    assert dropped == ["gone"]
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(payload["benchmarks"]) == ["t1", "t3"]
    assert payload["carried"] == ["t3"]  # skipped by this run, still a benchmark
    # Not knowing which benchmarks exist (one file run alone), it keeps them all.
    assert bf.save(path, {}, QUIET, previous) == []
    assert sorted(bf.load_entries(path)) == ["gone", "t1", "t3"]


def test_which_benchmarks_exist_needs_every_file_collected(tmp_path: Path) -> None:
    for name in ("test_a.py", "test_b.py", "helpers.py"):
        (tmp_path / name).touch()
    a, b, other = tmp_path / "test_a.py", tmp_path / "test_b.py", tmp_path / "x" / "test_c.py"
    items = [(a, "test_one"), (a, "test_two[1]"), (b, "test_three"), (other, "test_elsewhere")]
    expected = frozenset({"test_one", "test_two[1]", "test_three"})
    assert bf.existing_benchmarks(items, tmp_path) == expected
    assert bf.existing_benchmarks(items[:2], tmp_path) is None  # test_b.py not collected
    assert bf.existing_benchmarks([], tmp_path / "x") is None


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[1, 2]", '{"figures": 3}', '{"schema": "harness.bench/1", "figures": {}}'],
)
def test_unreadable_or_older_previous_is_empty(tmp_path: Path, text: str) -> None:
    path = tmp_path / "latest.json"
    path.write_text(text, encoding="utf-8")
    assert bf.load_entries(path) == {}
    assert bf.load_entries(tmp_path / "missing.json") == {}


def test_render_flags_large_changes_and_busy_figures() -> None:
    current = {"t": entry({"a": 1.5, "b": 50_000.0, "c": 0.000123}),
               "u": entry({"x": 2.0}, load=5.0)}  # fmt: skip
    previous = {"t": entry({"a": 1.0, "b": 49_000.0}), "u": entry({"x": 1.0})}
    lines = bf.render(current, previous)
    assert lines[0].split() == ["figure", "value", "previous", "change", "note"]
    assert lines[1].split() == ["t", "a", "1.5", "1", "+50%", "!"]
    assert lines[2].split() == ["t", "b", "50000", "49000", "+2%"]
    assert lines[3].split() == ["t", "c", "0.000123", "-"]
    assert lines[4].split() == ["u", "x", "2", "1", "busy:", "not", "comparable"]


def test_timing_figures_use_the_harness_percentile() -> None:
    # Linear interpolation like every other percentile (nearest rank would say 2.0 and 4.0).
    errors = bf.TimingErrors(ttft=[1_000_000, 2_000_000, 3_000_000, 4_000_000], send=[0] * 4,
                             itl=[], unmatched=0)  # fmt: skip
    summary = errors.summary()
    assert summary["ttft_error_p50_ms"] == 2.5
    assert summary["ttft_error_p99_ms"] == 3.97


def test_timing_errors_match_chunks_by_index() -> None:
    record = {"received_ns": 110, "first_content_ns": 200, "chunk_ns": [200, 300]}
    errors = bf.timing_errors([
        (100, 205, (205, 310), record),
        (100, 205, (205,), record),  # a chunk count that differs cannot be matched
        (100, None, (), record),
    ])  # fmt: skip
    assert errors.ttft == [5]
    assert errors.send == [10]
    assert errors.itl == [5, 10]
    assert errors.unmatched == 2
    summary = errors.summary()
    assert summary["ttft_error_p50_ms"] == 0.0
    assert summary["samples"] == 1
    assert summary["unmatched"] == 2


def test_timing_errors_of_several_runs_join_into_one() -> None:
    a = bf.TimingErrors(ttft=[1, 2], send=[3, 4], itl=[5], unmatched=1)
    b = bf.TimingErrors(ttft=[6], send=[7], itl=[8, 9], unmatched=2)
    joined = bf.TimingErrors.join([a, b])
    assert joined == bf.TimingErrors(ttft=[1, 2, 6], send=[3, 4, 7], itl=[5, 8, 9], unmatched=3)
    assert joined.summary(prefix="one_process_")["one_process_samples"] == 3
