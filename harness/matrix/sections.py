"""The core's own declarations: the `tolerances:` matrix section and the `baseline` results.

The other sections belong to their suites (`harness/<feature>/suite.py`), each declared
through the `pytest_harness_suites` hook; this module is the `core` entry of the
`llm_harness.suites` entry-point group (harness/matrix/registry.py).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from harness.matrix.registry import MatrixSection, ResultSection, Suite
from harness.matrix.yamlsource import KeyPath, YamlSource, finite_number

_TOLERANCE_METRICS = (
    "default",
    "ttft_s",
    "e2e_s",
    "prompt_tok_s",
    "decode_tok_s",
    "stability.score",
    "memory.peak_bytes",
)


def parse_tolerances(src: YamlSource, at: KeyPath, raw: Any) -> MappingProxyType[str, float]:
    """`tolerances: {default: 0.10, ttft_s: 0.15}`: regression tolerances for this matrix."""
    if not isinstance(raw, dict):
        raise src.error(at, "tolerances must be a mapping", "e.g. {default: 0.1, ttft_s: 0.15}")
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key not in _TOLERANCE_METRICS:
            raise src.error(
                (*at, key),
                f"unknown metric {key!r}",
                f"use one of: {', '.join(_TOLERANCE_METRICS)}",
            )
        # 0 is meaningful (any significant change counts), as with --tolerance 0.
        tolerance = finite_number(value)
        if tolerance is None or not 0 <= tolerance < 10:
            raise src.error(
                (*at, key),
                f"tolerance {value!r} is not a fraction in [0, 10)",
                "use a relative change such as 0.10 for 10%",
            )
        out[key] = tolerance
    return MappingProxyType(out)


CORE = Suite(
    name="core",
    matrix_sections=(MatrixSection("tolerances", parse_tolerances),),
    # Written by the baseline gate at the end of the run (baseline/regression.py).
    results=(ResultSection("baseline", "object"),),
)


@pytest.hookimpl(optionalhook=True)
def pytest_harness_suites() -> list[Suite]:
    return [CORE]
