"""The benchmark table: figures from stats and extra_info, comparison, saving, rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import benchfigures as bf


def test_figures_take_mean_median_and_numeric_extra_info() -> None:
    figures = bf.benchmark_figures(
        "test_x[1]",
        {"mean": 0.5, "median": 0.25, "stddev": 1.0},
        {"rate": 10, "nested": {"p50_ms": 0.4}, "note": "text", "flag": True},
    )
    assert figures == {
        "test_x[1] mean_s": 0.5,
        "test_x[1] median_s": 0.25,
        "test_x[1] rate": 10.0,
        "test_x[1] nested.p50_ms": 0.4,
    }


def test_disabled_benchmark_has_only_extra_info() -> None:
    assert bf.benchmark_figures("t", None, {"n": 3}) == {"t n": 3.0}


def test_compare_lists_changes_over_20_percent_either_way() -> None:
    previous = {"a": 100.0, "b": 100.0, "c": 100.0, "gone": 1.0, "t loadavg_1m": 1.0}
    current = {"a": 121.0, "b": 79.0, "c": 119.0, "new": 5.0, "t loadavg_1m": 4.0}
    changes = {c.figure: round(c.ratio, 2) for c in bf.compare(previous, current)}
    assert changes == {"a": 0.21, "b": -0.21}


def test_change_from_zero() -> None:
    assert bf.Change("x", 0.0, 0.0).ratio == 0.0
    assert bf.Change("x", 0.0, 1.0).ratio == float("inf")


def test_save_then_load_round_trips_and_carries_unmeasured(tmp_path: Path) -> None:
    path = tmp_path / "bench" / "latest.json"
    bf.save(path, {"a": 1.0, "b": 2.0}, {"nproc": 2})
    bf.save(path, {"a": 3.0}, {"nproc": 2}, previous=bf.load_previous(path))
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["schema"] == bf.SCHEMA
    assert payload["figures"] == {"a": 3.0}
    assert payload["carried"] == {"b": 2.0}
    assert bf.load_previous(path) == {"a": 3.0, "b": 2.0}


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"figures": 3}'])
def test_unreadable_previous_is_empty(tmp_path: Path, text: str) -> None:
    path = tmp_path / "latest.json"
    path.write_text(text, encoding="utf-8")
    assert bf.load_previous(path) == {}
    assert bf.load_previous(tmp_path / "missing.json") == {}


def test_render_flags_large_changes() -> None:
    lines = bf.render({"a": 1.5, "b": 50_000.0, "c": 0.000123}, {"a": 1.0, "b": 49_000.0})
    assert lines[0].split() == ["figure", "value", "previous", "change"]
    assert lines[1].split() == ["a", "1.5", "1", "+50%", "!"]
    assert lines[2].split() == ["b", "50000", "49000", "+2%"]
    assert lines[3].split() == ["c", "0.000123", "-"]


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
