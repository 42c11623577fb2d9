"""The batch-API suites' option values; the options are declared in harness/cases/options.py."""

from __future__ import annotations

import pytest

from harness.cases.options import option

DEFAULT_REQUESTS = 10_000


def batch_api_option(config: pytest.Config, dest: str) -> str | None:
    """`--batch-api`, `--batch-api-requests` or `--batch-api-model`: command line, else ini."""
    value = option(config, dest)
    return None if value is None else str(value)
