"""The job plan in every output of a real run on the simulator, and `--plan` accepting it.

One run of `pytest suites/throughput --matrix smoke --engine sim` (about 10 s), then:
the terminal, report.html, matrix.md, matrix.csv, results.json and job-plan.yaml carry the
same plan; `harness plan RUN` prints the terminal's block; `harness batch run --plan` runs
a batch with the plan's settings on the simulator.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HARNESS = [sys.executable, "-m", "harness.cli"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    reports = tmp_path_factory.mktemp("reports")
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "throughput"), "--matrix", "smoke",
        "--engine", "sim", "--reports-dir", str(reports), "-q", "-p", "no:randomly",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    (run_dir,) = (reports / "runs").iterdir()
    return run_dir, proc.stdout


def _block(text: str, first: str) -> list[str]:
    """The lines of the block that starts with `first`, up to the next unindented line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), None)
    return lines[start:end]


def test_the_terminal_shows_seed_000s_table_extrapolation_and_the_plan(
    run: tuple[Path, str],
) -> None:
    run_dir, out = run
    for strategy in ("independent", "conversation"):
        table = _block(out, f"batch throughput, qwen2.5:3b-instruct, {strategy} (SIMULATED)")
        assert table[1].split() == ["Size", "Time", "Req/s", "Tokens/s", "Savings"]
        assert [row.split()[0] for row in table[3:6]] == ["20", "40", "80"]
        block = _block(
            out, f"EXTRAPOLATION TO 170,000 REQUESTS, {strategy} (projected from SIMULATED"
        )
        for what in ("time", "throughput", "tokens", "token savings", "trims", "peak memory"):
            assert any(line.startswith(f"  Estimated {what}: ") for line in block), what
    plan = _block(out, "JOB PLAN: 170,000 requests of qwen2.5:3b-instruct (SIMULATED")
    assert any(line.startswith("  num_ctx: 8,192 ") for line in plan)
    assert any(f"--plan {run_dir / 'job-plan.yaml'}" in line for line in plan)
    # `harness plan RUN` prints the same block from the stored run.
    again = subprocess.run([*HARNESS, "plan", str(run_dir)], capture_output=True, text=True,
                           cwd=ROOT, timeout=60)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert _block(again.stdout, "JOB PLAN:") == plan


def test_every_file_carries_the_same_plan(run: tuple[Path, str]) -> None:
    run_dir, _ = run
    payload = json.loads((run_dir / "results.json").read_text())
    plan = payload["job_plan"]
    assert plan["ready"] is True
    assert plan["simulated"] is True
    trim = plan["trim"]
    preset = yaml.safe_load((run_dir / "job-plan.yaml").read_text())
    assert preset["batch"] == {
        "model": "qwen2.5:3b-instruct", "strategy": plan["strategy"], "num_ctx": 8192,
        "concurrency": 1, "trim_strategy": trim["trim_strategy"],
        "trim_threshold": trim["trim_threshold"], "trim_interval": trim["trim_interval"],
        "keep_messages": trim["keep_messages"],
    }  # fmt: skip
    md = (run_dir / "matrix.md").read_text()
    for heading in ("## Batch throughput", "## Extrapolation to 170,000 requests", "## Job plan"):
        assert heading in md
    assert f"every {trim['trim_interval']} requests" in md
    html = (run_dir / "report.html").read_text()
    assert "Job plan" in html
    assert "Extrapolation to 170,000 requests (projected from SIMULATED sizes)" in html
    assert "prompt_tok_s" not in html  # the old snake_case columns are gone
    for strategy in ("independent", "conversation"):  # both projections in the chart
        assert f"{strategy} extrapolated to 170,000" in html
    rows = list(csv.DictReader((run_dir / "matrix.csv").read_text().splitlines()))
    (plan_row,) = [r for r in rows if r["section"] == "job_plan"]
    assert plan_row["trim_interval"] == str(trim["trim_interval"])
    assert plan_row["time_s"] == repr(plan["time_s"]["value"])
    assert {r["strategy"] for r in rows if r["section"] == "projection"} == {
        "independent", "conversation",
    }  # fmt: skip


def test_batch_run_takes_its_settings_from_the_plan(run: tuple[Path, str], tmp_path: Path) -> None:
    run_dir, _ = run
    batch = tmp_path / "batch.jsonl"
    body = {"model": "qwen2.5:3b-instruct", "max_tokens": 3}
    with batch.open("w") as f:
        for i in range(4):
            messages = [{"role": "system", "content": "Score 1-5."},
                        {"role": "user", "content": f"candidate {i}"}]  # fmt: skip
            f.write(json.dumps({"custom_id": f"r{i}", "method": "POST",
                                "url": "/v1/chat/completions",
                                "body": {**body, "messages": messages}}) + "\n")  # fmt: skip
    out = tmp_path / "out.jsonl"
    cmd = [*HARNESS, "batch", "run", str(batch), "--out", str(out), "--engine", "sim",
           "--plan", str(run_dir / "job-plan.yaml")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 4
    assert {r["harness"]["strategy"] for r in records} == {"conversation"}
