from __future__ import annotations

import pytest

from harness.report import fmt
from harness.report.rows import baseline_cell
from harness.results.schema import CaseBaseline


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.412, "412 ms"), (5.1, "5.10 s"), (725.0, "12m 05s"), (18720.0, "5h 12m"), (None, "")],
)
def test_seconds(value: float | None, expected: str) -> None:
    assert fmt.seconds(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(17171480576, "15.99 GiB"), (402653184, "384.0 MiB"), (196608, "192.0 KiB"), (12, "12 B")],
)
def test_size(value: float, expected: str) -> None:
    assert fmt.size(value) == expected


def test_signed_size_and_context_and_rate() -> None:
    assert fmt.size(1.5 * fmt.GIB, signed=True) == "+1.50 GiB"
    assert fmt.ctx(32768) == "32K"
    assert fmt.ctx(33177) == "33,177"
    assert fmt.rate(41.25) == "41.2"
    assert fmt.percent(-0.125) == "-12.5%"


def test_a_noisy_baseline_verdict_is_shown_neutral_with_its_evidence() -> None:
    noisy = {
        "verdict": "noisy",
        "messages": ["noisy: the host was markedly busier than for the baseline (x)"],
        "metrics": [{"metric": "ttft_s", "change": 0.31, "verdict": "regressed"}],
    }
    shown, hover, cls = baseline_cell(CaseBaseline.from_json(noisy))
    assert shown == "noisy (ttft_s worse by 31.0%)"
    assert hover.startswith("noisy: the host was markedly busier")
    assert cls == "skip"  # neither a pass nor a failure
