from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from harness.report import fmt
from harness.report.svg import Axis, Band, Marker, Series, line_chart, nice_step

SVG = "{http://www.w3.org/2000/svg}"


def _chart(**kwargs: object) -> str:
    series = [
        Series("a<b>", [(1024, 10.0), (2048, 20.0), (4096, 15.0)]),
        Series("c", [(1024, 5.0), (4096, 7.5)], dashed=True),
    ]
    return line_chart(
        "t & <title>",
        Axis("ctx", "log2", fmt.ctx),
        Axis("tok/s"),
        series,
        **kwargs,  # type: ignore[arg-type]
    )


def test_chart_is_well_formed_svg_with_axes_series_and_tooltips() -> None:
    root = ET.fromstring(_chart())
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f".//{SVG}polyline[@class='line']")) == 2
    assert len(root.findall(f".//{SVG}circle")) == 5
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"1K", "2K", "4K"} <= set(texts)  # log2 ticks labelled as contexts
    assert "a<b>" in texts  # legend, escaped in the markup and parsed back
    tips = [t.text for t in root.iter(f"{SVG}title")]
    assert "a<b>: 2K, 20" in tips


def test_text_from_callers_is_escaped() -> None:
    out = _chart()
    assert "<b>" not in out
    assert "a&lt;b&gt;" in out
    assert "t &amp; &lt;title&gt;" in out


def test_markers_and_bands_are_drawn() -> None:
    out = _chart(
        markers=[Marker(3000, "max found"), Marker(12.0, "limit", axis="y")],
        bands=[Band("interval", [(1024, 4.0, 6.0), (4096, 6.0, 9.0)])],
    )
    root = ET.fromstring(out)
    assert len(root.findall(f".//{SVG}g[@class='marker']")) == 2
    assert len(root.findall(f".//{SVG}polygon[@class='band']")) == 1
    assert "max found" in out


def test_nothing_to_plot_gives_empty_string() -> None:
    assert line_chart("t", Axis("x"), Axis("y"), [Series("s", [])]) == ""
    # log axes drop values they cannot place
    assert line_chart("t", Axis("x", "log10"), Axis("y"), [Series("s", [(0.0, 1.0)])]) == ""


@pytest.mark.parametrize(
    ("span", "target", "binary", "expected"),
    [(100.0, 5, False, 20.0), (7.0, 5, False, 2.0), (131072.0, 5, True, 32768.0)],
)
def test_nice_step(span: float, target: int, binary: bool, expected: float) -> None:
    assert nice_step(span, target, binary=binary) == expected


def test_explicit_ticks_on_a_log_axis() -> None:
    ticks = fmt.time_ticks(40.0, 80000.0)
    assert [label for _, label in ticks] == ["10 s", "1 min", "10 min", "1 h", "6 h", "1 d"]
    out = line_chart(
        "t",
        Axis("n", "log10", fmt.compact),
        Axis("time", "log10", fmt.seconds, ticks=ticks),
        [Series("s", [(100, 42.0), (10000, 4200.0)])],
    )
    assert "10 min" in out
    assert ">10k<" in out
