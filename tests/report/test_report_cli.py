from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from tests.report.payloads import Payloads, WriteRun

NAMES = ["report.html", "matrix.md", "matrix.csv"]


def _printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [Path(line).name for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("form", ["folder", "file", "run-id", "latest"])
def test_report_rerenders_a_run(
    form: str, run_dir: WriteRun, payloads: Payloads, capsys: pytest.CaptureFixture[str]
) -> None:
    older = run_dir(payloads.run(run_id="20261121-020000-aaaa"))
    folder = run_dir(payloads.run())  # run_id 20261122-...: the latest
    spec = {
        "folder": str(folder),
        "file": str(folder / "results.json"),
        "run-id": folder.name,
        "latest": "latest",
    }[form]
    assert main(["report", spec, "--reports-dir", str(folder.parent)]) == 0
    assert _printed(capsys) == NAMES
    assert all((folder / name).is_file() for name in NAMES)
    assert not (older / "report.html").exists()


def test_unknown_run_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "nope", "--reports-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "run 'nope' not found" in err
    assert "'latest'" in err


def test_latest_without_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "latest", "--reports-dir", str(tmp_path)]) == 2
    assert "no run with a results.json" in capsys.readouterr().err


def test_folder_without_results_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "results.json does not exist" in err
    assert str(tmp_path) in err


def test_help_mentions_the_forms(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "--reports-dir" in out
    assert "latest" in out
