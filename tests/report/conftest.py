"""Fixtures for the report tests: a results.json factory that follows docs/results-schema.md,
and a headless Chromium (skipped with a reason when the machine has none). The helpers live in
payloads.py and chromium.py, which test modules import by name for their types."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.report.chromium import ChromiumRun, headless
from tests.report.payloads import Payloads, WriteRun, write_run


@pytest.fixture
def payloads() -> Payloads:
    return Payloads()


@pytest.fixture
def run_dir(tmp_path: Path) -> WriteRun:
    """Write a payload as tmp_path/<run_id>/results.json and return the folder."""

    def write(payload: dict[str, Any]) -> Path:
        return write_run(tmp_path / str(payload["run_id"]), payload)

    return write


@pytest.fixture
def chromium(tmp_path: Path) -> ChromiumRun:
    """Run headless Chromium with extra arguments in a fresh profile (60 s bound)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("headless Chromium not found: install it with `apt-get install -y chromium`")
    return headless(binary, tmp_path / "chromium-profile")
