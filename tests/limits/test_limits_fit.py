"""The least-squares line, its R^2 and residuals, and which probes it is fitted over."""

from __future__ import annotations

import pytest

from harness.limits.fit import extra_contexts, fit_line, fit_points, linear_from
from harness.limits.probe import ContextProbe


def probe(ctx: int, memory: int | None, outcome: str = "fits") -> ContextProbe:
    return ContextProbe(num_ctx=ctx, outcome=outcome, predicted_bytes=0, memory_bytes=memory)


def test_an_exact_line_is_recovered() -> None:
    fit = fit_line([(x, 8e9 + 65536 * x) for x in (4096, 32768, 65536, 100000)])
    assert fit is not None
    assert fit.slope == pytest.approx(65536)
    assert fit.base == pytest.approx(8e9)
    assert fit.r2 == pytest.approx(1.0)
    assert max(abs(r) for r in fit.residuals) < 1e-3


def test_a_bend_lowers_r2_and_shows_in_the_residuals() -> None:
    points = [
        (x, 1e9 + 1000 * x + (5e8 if x > 60000 else 0)) for x in (10000, 30000, 50000, 70000, 90000)
    ]
    fit = fit_line(points)
    assert fit is not None
    assert fit.r2 < 0.98
    assert len(fit.residuals) == 5


def test_fewer_than_two_contexts_give_no_line() -> None:
    assert fit_line([(4096, 1.0), (4096, 2.0)]) is None
    assert fit_line([]) is None


def test_only_good_probes_in_the_linear_regime_are_fitted() -> None:
    probes = [probe(1024, 10), probe(8192, 20), probe(9216, 99, "spilled"), probe(16384, None)]
    assert fit_points(probes, linear_from(1024, 1024)) == [(8192, 20.0)]
    assert linear_from(None, 1024) == 1024


def test_extra_contexts_spread_the_points_and_respect_the_room() -> None:
    probes = [probe(100_000, 1)]
    assert extra_contexts(probes, 100_000, 4096, 1024, room=9) == [24576, 49152, 74752]
    assert extra_contexts(probes, 100_000, 4096, 1024, room=1) == [24576]
    assert extra_contexts(probes, 8000, 4096, 1024, room=9) == [5120]  # the rest < start
