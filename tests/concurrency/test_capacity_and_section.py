"""Capacity math and the `concurrency:` section's errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.concurrency.capacity import MemoryModel, capacity_entry, job_hours
from harness.concurrency.report import summary_notes, table_lines
from harness.concurrency.section import ConcurrencySection
from harness.concurrency.servers import slot_plan
from harness.errors import ConfigError, MatrixError
from harness.matrix.cells import load_matrix
from harness.results.schema import CapacityEntry

GIB = 1024**3


def test_memory_model_from_lines_recovers_base_slot_and_token_costs() -> None:
    base, slot, per_token = 4 * GIB, 100e6, 20480.0
    lines = {p: (base + slot * p, per_token * p) for p in (1, 2, 4)}
    model = MemoryModel.from_lines(lines)
    assert model.base_bytes == pytest.approx(base)
    assert model.slot_bytes == pytest.approx(slot)
    assert model.bytes_per_token == pytest.approx(per_token)
    available = model.at(8192, 3) + 1
    assert model.max_parallel(8192, available) == 3
    assert model.max_parallel(8192, model.base_bytes) == 0


def _sweep(slots: int, req_s: float, spilled: bool = False) -> dict[str, Any]:
    best = {"mode": "concurrency", "concurrency": 2 * slots, "goodput_req_s": req_s}
    return {"slots": slots, "spilled": spilled, "best": best}


def test_capacity_never_picks_a_setting_that_does_not_fit() -> None:
    memory = MemoryModel(base_bytes=4e9, bytes_per_token=1e4)
    sweeps = [_sweep(1, 1.0), _sweep(2, 1.8), _sweep(4, 3.0), _sweep(8, 9.0, spilled=True)]
    # 4e9 + 1e4 x 10,000 x P <= 4.25e9 allows P = 2.
    entry = capacity_entry("m", 10_000, sweeps, memory, 4.25e9, job_requests=170_000)
    assert entry["max_parallel_fit"] == 2
    assert entry["best"]["slots"] == 2
    assert entry["job_hours_best"] == pytest.approx(170_000 / 1.8 / 3600)
    assert entry["job_hours_p1"] == pytest.approx(170_000 / 1.0 / 3600)
    assert "OLLAMA_NUM_PARALLEL=2" in entry["recommendation"]
    assert job_hours(10, 0.0) is None


def test_capacity_says_when_nothing_fits() -> None:
    entry = capacity_entry("m", 10_000, [_sweep(1, 1.0)], MemoryModel(5e9, 1e4), 4e9, 100)
    assert entry["max_parallel_fit"] == 0
    assert entry["best"] is None
    assert "does not fit" in entry["recommendation"]


def test_the_summary_and_table_read_the_typed_entries() -> None:
    memory = MemoryModel(base_bytes=4e9, bytes_per_token=1e4)
    raw = [
        capacity_entry("m", 4096, [_sweep(1, 1.0), _sweep(2, 1.8)], memory, 8e9, 1000),
        capacity_entry("m", 32768, [_sweep(1, 1.0)], MemoryModel(5e9, 1e4), 4e9, 1000),
        capacity_entry("m", 16384, [_sweep(1, 1.2)], memory, 8e9, 1000),
        capacity_entry("n", 8192, [_sweep(1, 1.0)], MemoryModel(5e9, 1e4), 4e9, 1000),
    ]
    entries = [CapacityEntry.from_json(e) for e in raw]
    # Per model: the largest context that has a best setting; else the last entry's words.
    assert summary_notes(entries) == [
        f"capacity: {raw[2]['recommendation']}",
        f"capacity: {raw[3]['recommendation']}",
    ]
    # Fit: (8e9 - 4e9) / (1e4 x 4096) = 97.7 -> 97 slots; hours: 1000 requests / 1.8 req/s.
    assert table_lines(entries) == [
        "model  context  max P fit  best P x clients  goodput req/s  h best  h P=1",
        "m      4,096    97         2 x 4             1.80           0.2     0.3",
        "m      32,768   0          -                 -              -       -",
        "m      16,384   24         1 x 2             1.20           0.2     0.2",
        "n      8,192    0          -                 -              -       -",
    ]


def test_running_server_takes_one_slot_value_from_matrix_or_env() -> None:
    section = ConcurrencySection(models=("m",), contexts=(4096,))
    assert slot_plan(section, simulated=False, environ={"OLLAMA_NUM_PARALLEL": "4"}).values == (4,)
    with pytest.raises(ConfigError, match="slots: \\[N\\]"):
        slot_plan(section, simulated=False, environ={})
    many = ConcurrencySection(models=("m",), contexts=(4096,), slots=(1, 2))
    with pytest.raises(ConfigError, match="launch"):
        slot_plan(many, simulated=False, environ={})
    assert slot_plan(many, simulated=True).values == (1, 2)
    assert slot_plan(section, simulated=True, sim_parallel=3).values == (3,)


BASE = "version: 1\nname: t\nmodels:\n  - {name: m, contexts: [4k]}\n"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("concurrency: {contexts: [4096]}", "no model"),
        ("concurrency: {model: m, contexts: [0]}", "contexts is"),
        ("concurrency: {model: m, contexts: [4096], levels: [1, 1]}", "repeats"),
        ("concurrency: {model: m, contexts: [4096], rates: [-1]}", "rates is"),
        ("concurrency: {model: m, contexts: [4096], slo: {ttft: 1}}", "unknown target"),
        ("concurrency: {model: m, contexts: [4096], slots: [true]}", "slots is"),
        ("concurrency: {model: m, contexts: [4096], launch: {template: serve}}", "num_parallel"),
        ("concurrency: {model: m, contexts: [4096], bogus: 1}", "unknown key 'bogus'"),
    ],
)
def test_section_errors_name_the_key(tmp_path: Path, block: str, message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(BASE + block + "\n")
    with pytest.raises(MatrixError, match=message):
        load_matrix(path)


def test_section_parses_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(BASE + "concurrency: {model: [a, b], contexts: [8192, 4096], rates: [2]}\n")
    section = load_matrix(path).sections["concurrency"]
    assert section.models == ("a", "b")
    assert section.contexts == (4096, 8192)
    assert section.levels == (1, 2, 4, 8, 16)
    assert section.job_requests == 170_000
    assert section.slo.ttft_s == 2.0
    assert section.rates == (2.0,)
