"""The batch_api suite declares itself: its options (`--batch-api` and its batch's size and model).

The suite has no matrix section of its own (suites/batch_api runs against the first matrix's
model) and records no run-level section; suites/throughput also reads `--batch-api`, to
measure through a batch server. Loaded as a pytest plugin through the `llm_harness.suites`
entry point (docs/extending.md).
"""

from __future__ import annotations

import pytest

from harness.cases.options import OptionSpec, option, positive_int
from harness.matrix.registry import Suite

DEFAULT_REQUESTS = 10_000

SUITE = Suite(
    name="batch_api",
    options=(
        OptionSpec(
            "--batch-api",
            "batch_api",
            "send batches to this OpenAI-compatible batch server (/v1/files, /v1/batches): "
            "suites/batch_api tests it, suites/throughput measures through it "
            "(default: batch_api starts `harness serve-batch` in-process)",
            str,
            None,
            metavar="URL",
        ),
        OptionSpec(
            "--batch-api-requests",
            "batch_api_requests",
            "requests in the batch_api suite's large batch (default: 10000)",
            positive_int,
            None,
            metavar="N",
        ),
        OptionSpec(
            "--batch-api-model",
            "batch_api_model",
            "model named in the batch_api suite's requests (default: the first matrix's first "
            "model)",
            str,
            None,
            metavar="NAME",
        ),
    ),
)


@pytest.hookimpl(optionalhook=True)
def pytest_harness_suites() -> list[Suite]:
    return [SUITE]


def batch_api_option(config: pytest.Config, dest: str) -> str | None:
    """`--batch-api`, `--batch-api-requests` or `--batch-api-model`: command line, else ini."""
    value = option(config, dest)
    return None if value is None else str(value)
