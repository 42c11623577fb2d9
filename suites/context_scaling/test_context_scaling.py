"""Context scaling: TTFT, prompt and decode speed, and stability of every matrix cell.

Each cell loads its model at the cell's `num_ctx`, sends a prompt of the cell's length (its
`prompt_tokens`, else the context filled to `fill`, default 90% minus `num_predict`) with a
fresh nonce per request, repeats, and is judged against the thresholds in its matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.matrix.cells import Cell
from harness.measure.procedure import CellOutcome


def test_context_scaling(cell: Cell, measure: Callable[[Cell], CellOutcome]) -> None:
    outcome = measure(cell)
    if not outcome.passed:
        pytest.fail(
            f"{cell.id}: {outcome.case['verdict']}: " + "; ".join(outcome.failures), pytrace=False
        )
