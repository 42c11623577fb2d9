"""Optional top-level matrix sections, registered in `harness.matrix.SECTIONS`.

Each feature that extends the matrix schema adds its parser here (or in its own module,
imported here), so `load_matrix` knows every key before it judges one unknown.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from harness.matrix import SECTIONS
from harness.yamlsource import KeyPath, YamlSource, finite_number

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


SECTIONS.setdefault("tolerances", parse_tolerances)

# Sections of other features: each registers itself in SECTIONS on import.
from harness.batch import matrix_section as _throughput  # noqa: E402, F401
from harness.concurrency import section as _concurrency  # noqa: E402, F401
from harness.limits import section as _limits  # noqa: E402, F401
from harness.workloads import section as _sustained  # noqa: E402, F401
