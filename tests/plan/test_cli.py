"""`harness plan RUN`: text, JSON, another job size, exit codes, --write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from tests.plan.conftest import throughput_case


def _run_dir(tmp_path: Path, payload: dict[str, Any]) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(payload))
    return folder


def test_prints_the_plan_of_a_stored_run(
    tmp_path: Path, payload: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _run_dir(tmp_path, payload)
    assert main(["plan", str(folder / "results.json")]) == 0
    out = capsys.readouterr().out
    assert "JOB PLAN: 170,000 requests of gemma3:12b (measured on this server)" in out
    assert f"--plan {folder / 'job-plan.yaml'}" in out
    assert not (folder / "job-plan.yaml").exists()  # only --write writes


def test_another_job_size_as_json(
    tmp_path: Path, payload: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _run_dir(tmp_path, payload)
    assert main(["plan", str(folder), "--job-requests", "10000", "--json", "--write"]) == 0
    plan = json.loads(capsys.readouterr().out)["job_plan"]
    assert plan["requests"] == 10_000
    assert plan["time_s"]["value"] == pytest.approx(2.0 + 0.14 * 10_000)
    assert "requests: 10000" in (folder / "job-plan.yaml").read_text()


def test_a_plan_without_settings_exits_1(
    tmp_path: Path, payload: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    payload["cases"] = [throughput_case("conversation", 0.14, num_ctx=None)]
    assert main(["plan", str(_run_dir(tmp_path, payload))]) == 1
    assert "NO JOB SETTINGS" in capsys.readouterr().out


def test_a_missing_run_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(tmp_path / "nope"), "--reports-dir", str(tmp_path)]) == 2
    assert "run" in capsys.readouterr().err


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    out = capsys.readouterr().out
    for option in ("--job-requests N", "--json", "--write", "--reports-dir DIR"):
        assert option in out
