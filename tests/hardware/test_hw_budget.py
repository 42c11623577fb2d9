from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.hardware import Budget, SamplerConfig
from harness.hardware.budget import BudgetWatch

GIB = 1024**3


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.01, 5, float("nan"), "0.8"])
@pytest.mark.parametrize("field", ["ram_max_fraction", "gpu_max_fraction"])
def test_fractions_outside_zero_one_are_rejected(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=rf"Budget\.{field}=.*0 < f <= 1"):
        Budget(**{field: bad})  # type: ignore[arg-type]


def test_negative_swap_growth_is_rejected() -> None:
    with pytest.raises(ConfigError, match="swap_growth_bytes=-1"):
        Budget(swap_growth_bytes=-1)


@pytest.mark.parametrize(
    "kwargs", [{"hz": 0}, {"ps_hz": -1.0}, {"hz": float("inf")}, {"series_points": 1}]
)
def test_sampler_config_rejects_unusable_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="SamplerConfig"):
        SamplerConfig(**kwargs)  # type: ignore[arg-type]


def test_gpu_over_its_fraction_names_metric_value_and_limit() -> None:
    watch = BudgetWatch(Budget(gpu_max_fraction=0.95))
    at_limit = {"gpu0.mem_used_bytes": 0.95 * 16 * GIB, "gpu0.mem_total_bytes": 16 * GIB}
    assert watch.check(at_limit) is None
    over = {"gpu0.mem_used_bytes": 15.5 * GIB, "gpu0.mem_total_bytes": 16 * GIB}
    found = watch.check(over)
    assert found is not None
    assert found.metric == "gpu0.mem_used_bytes"
    assert found.limit == pytest.approx(0.95 * 16 * GIB)
    assert "15.50 GiB" in found.reason
    assert "96.9%" in found.reason
    assert "gpu_max_fraction=0.95" in found.reason


@pytest.mark.parametrize(
    ("values", "metric"),
    [
        (
            {"host.ram_used_bytes": 13 * GIB, "host.ram_total_bytes": 16 * GIB},
            "host.ram_used_bytes",
        ),
        (
            {"sim.host_used_bytes": 60 * GIB, "sim.host_total_bytes": 64 * GIB},
            "sim.host_used_bytes",
        ),
        (
            {"sim.gpu1.mem_used_bytes": 16 * GIB, "sim.gpu1.mem_total_bytes": 16 * GIB},
            "sim.gpu1.mem_used_bytes",
        ),
    ],
)
def test_host_and_simulated_memory_are_budgeted(values: dict[str, float], metric: str) -> None:
    found = BudgetWatch(Budget()).check(values)
    assert found is not None
    assert found.metric == metric


def test_the_harness_machine_of_a_simulated_run_is_not_budgeted() -> None:
    values = {"harness_host.ram_used_bytes": 16 * GIB, "harness_host.ram_total_bytes": 16 * GIB}
    assert BudgetWatch(Budget(ram_max_fraction=0.01)).check(values) is None


def test_a_metric_without_its_total_is_not_judged() -> None:
    assert BudgetWatch(Budget()).check({"gpu0.mem_used_bytes": 99 * GIB}) is None


def test_swap_may_not_grow_beyond_its_baseline_and_slack() -> None:
    watch = BudgetWatch(Budget(swap_growth_bytes=0, swap_slack_bytes=10))
    assert watch.check({"host.swap_used_bytes": 1000}) is None  # the baseline
    assert watch.check({"host.swap_used_bytes": 1010}) is None  # within the slack
    found = watch.check({"host.swap_used_bytes": 1011})
    assert found is not None
    assert found.limit == 1010
    assert "swapping" in found.reason


def test_allowed_swap_growth_raises_the_limit() -> None:
    watch = BudgetWatch(Budget(swap_growth_bytes=GIB, swap_slack_bytes=0))
    watch.check({"host.swap_used_bytes": 0})
    assert watch.check({"host.swap_used_bytes": GIB}) is None
    assert watch.check({"host.swap_used_bytes": GIB + 1}) is not None
