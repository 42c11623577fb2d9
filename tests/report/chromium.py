"""Headless Chromium for the report tests: a throwaway profile each, background traffic off."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

ChromiumRun = Callable[..., subprocess.CompletedProcess[str]]


def headless(binary: str, profile: Path) -> ChromiumRun:
    """Run `binary` headless with extra arguments in `profile` (60 s bound)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
