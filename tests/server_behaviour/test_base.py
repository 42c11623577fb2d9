"""The probes the checks share: reading /api/ps's expiry, and polling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.behaviour_checks.base import expires_in_s, wait_for
from harness.engines.base import LoadedModel


def _entry(expires_at: str | None) -> LoadedModel:
    return LoadedModel("m", 1, 1, 2048, expires_at=expires_at)


@pytest.mark.parametrize("fraction", ["", ".5", ".123456789"])
def test_go_timestamps_with_any_fraction_parse(fraction: str) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S")
    left = expires_in_s(_entry(f"{soon}{fraction}Z"))
    assert left is not None
    assert 55 < left <= 61


def test_forever_is_centuries_away_and_nonsense_is_none() -> None:
    forever = expires_in_s(_entry("2318-01-01T00:00:00Z"))
    assert forever is not None
    assert forever > 100 * 365 * 86400
    assert expires_in_s(_entry(None)) is None
    assert expires_in_s(_entry("tomorrow")) is None


def test_wait_for_returns_the_last_answer() -> None:
    assert wait_for(lambda: True, 0.0)
    assert not wait_for(lambda: False, 0.05, poll_s=0.01)
