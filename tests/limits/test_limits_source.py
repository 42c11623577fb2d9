"""Which memory a search measures, and the RAM budget given as a size."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from harness.cases.options import ram_budget
from harness.hardware import Budget
from harness.limits.probe import capacity
from harness.limits.source import PS, choose_source


def _summary(**peaks: float) -> dict[str, Any]:
    return {"overall": {metric: {"peak": peak, "baseline": 0} for metric, peak in peaks.items()}}


def test_a_server_with_its_own_accounting_is_measured_by_it_not_by_rss() -> None:
    found = choose_source(_summary(**{"server.rss_bytes": 6e8}), True, launched=False)
    assert found is not None
    assert found.name == PS
    assert "/api/ps" in found.reason


def test_a_launched_server_is_measured_by_its_fresh_process_tree() -> None:
    found = choose_source(_summary(**{"server.rss_bytes": 6e8}), True, launched=True)
    assert found is not None
    assert found.name == PS
    assert "launched" in found.reason


def test_the_simulator_and_the_gpu_come_first() -> None:
    sim = choose_source(_summary(**{"sim.gpu_used_bytes": 1e9}), True, launched=False)
    gpu = choose_source(_summary(**{"gpu.mem_used_bytes": 1e9}), True, launched=False)
    assert (sim and sim.name, gpu and gpu.name) == ("sim_gpu", "nvml")


def test_rss_growth_only_where_the_server_reports_nothing() -> None:
    found = choose_source(_summary(**{"server.rss_bytes": 6e8}), False, launched=False)
    assert found is not None
    assert found.name == "server_rss"
    assert choose_source(_summary(), False, launched=False) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.8", 0.8),
        ("1", 1.0),
        ("600MB", 600_000_000),
        ("2GiB", 2 * 1024**3),
        ("629145600", 629145600),
    ],
)
def test_ram_budget_is_a_fraction_or_a_size(text: str, value: float) -> None:
    assert ram_budget(text) == value


@pytest.mark.parametrize("text", ["abc", "0", "-1", "1.5", "12xb"])
def test_ram_budget_refuses_what_is_neither(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="fraction"):
        ram_budget(text)


def test_a_size_budget_is_the_models_capacity_without_a_gpu() -> None:
    summary = _summary(**{"host.ram_total_bytes": 24e9, "host.ram_used_bytes": 8e9})
    assert capacity(summary, Budget(ram_max_bytes=520_000_000)).available_bytes == 520_000_000
    fraction = capacity(summary, Budget(ram_max_fraction=0.5)).available_bytes
    assert fraction == int(24e9 * 0.5)  # idle baseline 0 in this summary
