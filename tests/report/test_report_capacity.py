"""The report's concurrency and capacity section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.report import render_run

SWEEP = {
    "model": "gemma3:4b", "context": 4096, "slots": 4, "spilled": False, "saturated_at": 8,
    "levels": [{"concurrency": c, "goodput": {"req_s": r}} for c, r in ((1, 40.0), (8, 150.0))],
}  # fmt: skip
ENTRY = {
    "model": "gemma3:4b", "context": 4096, "max_parallel_fit": 4,
    "best": {"slots": 4, "concurrency": 8, "goodput_req_s": 151.0},
    "job_hours_best": 0.31, "job_hours_p1": 1.0,
    "recommendation": "OLLAMA_NUM_PARALLEL=4 with 8 concurrent requests <fast>",
}  # fmt: skip


def render(tmp_path: Path, **sections: Any) -> str:
    payload = {"schema": "harness.results/1", "run_id": "r1", "simulated": True,
               "fingerprint": {}, "cases": [], **sections}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(payload))
    render_run(tmp_path)
    return (tmp_path / "report.html").read_text()


def test_capacity_table_and_goodput_chart(tmp_path: Path) -> None:
    spilled = {**SWEEP, "slots": 8, "spilled": True}
    html = render(tmp_path, concurrency=[SWEEP, spilled], capacity={"entries": [ENTRY]})
    assert "Concurrency and capacity" in html
    assert "P=4, 8 clients" in html
    assert "0.3 h" in html
    assert "&lt;fast&gt;" in html  # escaped like everything else
    assert "Goodput by concurrency: gemma3:4b at 4K" in html
    assert "P=8 (spilled)" in html


def test_no_concurrency_data_no_section(tmp_path: Path) -> None:
    assert "Concurrency and capacity" not in render(tmp_path)
