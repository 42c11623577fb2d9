from __future__ import annotations

from harness.hardware.summary import (
    Mark,
    PhaseClock,
    Reading,
    build_series,
    number,
    summarize_metrics,
)

S = 1_000_000_000


def test_marks_in_any_order_split_time_into_phases() -> None:
    clock = PhaseClock([Mark(3 * S, "decode"), Mark(1 * S, "load"), Mark(2 * S, "prefill")])
    assert [clock.phase_at(t) for t in (0, S, 2 * S - 1, 2 * S, 9 * S)] == [
        "idle",
        "load",
        "load",
        "prefill",
        "decode",
    ]


def test_baseline_is_the_idle_median_and_every_phase_is_compared_to_it() -> None:
    readings = [
        Reading(0, "b", {"m_bytes": 100}),
        Reading(1, "b", {"m_bytes": 300}),
        Reading(2, "b", {"m_bytes": 110}),
        Reading(10, "b", {"m_bytes": 500}),
        Reading(20, "b", {"m_bytes": 700}),
        Reading(21, "b", {"m_bytes": 650}),
    ]
    phases, overall = summarize_metrics(readings, [Mark(10, "load"), Mark(20, "decode")])
    assert list(phases) == ["idle", "load", "decode"]
    assert phases["load"]["m_bytes"] == {"baseline": 110, "peak": 500, "mean": 500, "delta": 390}
    assert phases["decode"]["m_bytes"] == {"baseline": 110, "peak": 700, "mean": 675, "delta": 590}
    assert overall["m_bytes"]["peak"] == 700
    assert overall["m_bytes"]["delta"] == 590


def test_a_metric_never_read_while_idle_uses_its_first_reading() -> None:
    readings = [Reading(5, "ps", {"ps.size_bytes": 8}), Reading(6, "ps", {"ps.size_bytes": 9})]
    _, overall = summarize_metrics(readings, [Mark(1, "load")])
    assert overall["ps.size_bytes"]["baseline"] == 8
    assert overall["ps.size_bytes"]["delta"] == 1


def test_bytes_are_whole_numbers_and_the_rest_three_decimals() -> None:
    assert number("gpu0.mem_used_bytes", 1.6) == 2
    assert isinstance(number("gpu0.mem_used_bytes", 1.6), int)
    assert number("host.cpu_percent", 12.34567) == 12.346


def test_series_is_bounded_keeps_spikes_and_carries_sparse_metrics_forward() -> None:
    readings = [Reading(i * S // 100, "h", {"a_bytes": 1.0}) for i in range(1000)]
    readings[500] = Reading(5 * S, "h", {"a_bytes": 99.0})  # a 10 ms spike
    readings.append(Reading(3 * S, "ps", {"ps.size_bytes": 7, "x.mem_total_bytes": 9}))
    series = build_series(readings, 0, 50)
    assert len(series["t_s"]) == 50
    assert max(v for v in series["a_bytes"] if v is not None) == 99
    assert series["ps.size_bytes"][0] is None
    assert series["ps.size_bytes"][-1] == 7  # carried forward after its only reading
    assert "x.mem_total_bytes" not in series
    times = [t for t in series["t_s"] if t is not None]
    assert times == sorted(times)
    assert len(times) == len(series["t_s"])


def test_series_of_nothing_is_empty() -> None:
    assert build_series([], 0, 10) == {"t_s": []}
