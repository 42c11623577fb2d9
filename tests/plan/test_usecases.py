"""Use-case recommendations and their presets, from cells with known verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.plan.model import Recommendation
from harness.plan.preset import write_presets
from harness.plan.render import csv_rows, markdown_lines, throughput_view
from harness.plan.text import recommendation_lines
from harness.plan.usecases import recommendations
from tests.plan.conftest import cell

BIG = "orieg/gemma3-tools:27b-it-qat"


def _payload(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": "r2", "simulated": True, "cases": list(cells)}


def test_largest_passing_context_wins_and_the_next_is_runner_up() -> None:
    payload = _payload(
        cell(BIG, 65536, "Large coding", "pass", 6.5),
        cell(BIG, 131072, "Large coding", "pass", 4.2),
        cell(BIG, 262144, "Large coding", "fail", 2.1),  # failed its criteria: never picked
        cell("qwen2.5:3b-instruct", 65536, "Chat", "pass", 20.0),
        cell("gemma3:latest", 65536, "Chat", "pass", 25.0),
    )
    coding, chat = recommendations(payload)
    assert coding.use_case == "Large coding"
    assert coding.best is not None
    assert coding.best.num_ctx == 131072
    assert coding.runner_up is not None
    assert coding.runner_up.num_ctx == 65536
    assert (coding.passed, coding.candidates) == (2, 3)
    # Same context: the faster decode wins.
    assert chat.best is not None
    assert chat.best.model == "gemma3:latest"
    assert chat.runner_up is not None
    assert chat.runner_up.model == "qwen2.5:3b-instruct"
    assert coding.preset == "presets/cpu-large-coding.yaml"
    assert Recommendation.from_json(coding.to_json()) == coding


def test_no_passing_cell_gives_no_pick_and_no_preset(tmp_path: Path) -> None:
    payload = _payload(cell(BIG, 262144, "Maximum analysis", "fail", 2.1))
    (rec,) = recommendations(payload)
    assert rec.best is None
    assert rec.preset is None
    assert "no cell met its criteria" in rec.reason
    assert "ttft_s p50 13 > 12" in rec.reason
    assert write_presets(tmp_path, None, [rec], "r2") == []
    assert "none: no cell met" in recommendation_lines([rec])[1]


def test_presets_and_every_output_carry_the_recommendation(tmp_path: Path) -> None:
    payload = _payload(cell(BIG, 131072, "Large coding", "pass", 4.2))
    recs = recommendations(payload)
    (path,) = write_presets(tmp_path, None, recs, "r2")
    preset = yaml.safe_load(path.read_text())
    assert preset["model"] == BIG
    assert preset["options"] == {"num_ctx": 131072, "num_thread": 16}
    assert preset["simulated"] is True
    assert "PARAMETER num_ctx 131072" in preset["modelfile"]
    assert "SIMULATED" in recommendation_lines(recs)[0]
    md = "\n".join(markdown_lines(payload))
    assert "## Use-case recommendations" in md
    assert f"{BIG} at 128K" in md
    view = throughput_view(payload)
    assert view is not None
    assert view.recommendations is not None
    assert view.recommendations.rows[0][2].startswith(f"{BIG} at 128K")
    (row,) = [r for r in csv_rows(payload) if r["section"] == "recommendation"]
    assert (row["model"], row["num_ctx"], row["use_case"]) == (BIG, "131072", "Large coding")


def test_the_report_has_a_use_case_section_and_no_empty_throughput_one() -> None:
    from harness.report.render import render_html

    html = render_html(_payload(cell(BIG, 131072, "Large coding", "pass", 4.2)))
    section = html.split('<section id="use-cases">')[1].split("</section>")[0]
    assert f"{BIG} at 128K" in section
    assert "presets/cpu-large-coding.yaml" in section
    assert 'id="throughput"' not in html  # nothing measured for a job plan
