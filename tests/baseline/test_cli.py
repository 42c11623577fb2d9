"""`harness compare BASELINE RUN` through harness.cli.main: table and exit status."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import BaselineStore
from harness.cli import main

Factory = Callable[..., dict[str, Any]]
Writer = Callable[[dict[str, Any]], Path]


@pytest.fixture
def base_path(store: BaselineStore, make_payload: Factory) -> Path:
    return store.save("nightly", make_payload(0))


def test_regression_exits_1_and_prints_the_table(
    base_path: Path, make_payload: Factory, write_run: Writer, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(make_payload(1, slowdown=1.2))
    assert main(["compare", str(base_path), str(run)]) == 1
    out = capsys.readouterr().out
    assert "baseline nightly" in out
    assert "regressed" in out
    assert "ttft_s regressed" in out
    assert "summary: 6 regressed, 0 improved" in out


def test_same_distribution_exits_0(
    base_path: Path, make_payload: Factory, write_run: Writer, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(make_payload(1))
    assert main(["compare", str(base_path), str(run.parent)]) == 0
    assert "6 unchanged" in capsys.readouterr().out


def test_improvement_exits_0(
    base_path: Path, make_payload: Factory, write_run: Writer, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(make_payload(1, slowdown=0.8))
    assert main(["compare", str(base_path), str(run)]) == 0
    assert "6 improved" in capsys.readouterr().out


def test_baseline_by_name_with_reports_dir_and_options(
    store: BaselineStore,
    base_path: Path,
    make_payload: Factory,
    write_run: Writer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = write_run(make_payload(1, slowdown=1.2))
    reports = str(store.root.parent)
    argv = ["compare", "nightly", str(run), "--reports-dir", reports, "--tolerance", "0.5"]
    assert main(argv) == 0  # 20% is inside a 50% tolerance
    capsys.readouterr()
    assert main([*argv, "--metric-tolerance", "ttft_s=0.05", "--alpha", "0.02", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["config"]["alpha"] == 0.02
    assert data["summary"]["config"]["per_metric_tolerance"] == {"ttft_s": 0.05}
    assert data["cases"][0]["verdict"] == "regressed"


def test_fingerprint_mismatch_warns_and_force_compares(
    store: BaselineStore,
    make_payload: Factory,
    write_run: Writer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = store.save("other-gpu", make_payload(0, gpu="NVIDIA GeForce RTX 3090"))
    run = write_run(make_payload(1, slowdown=1.2))
    assert main(["compare", str(base), str(run)]) == 0
    out = capsys.readouterr().out
    assert "6 incomparable" in out
    assert "warning: baseline is from a different setup" in out
    assert main(["compare", str(base), str(run), "--force"]) == 1


def test_bad_input_exits_2_with_the_reason(
    base_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "results.json"
    broken.write_text('{"schema": "harness.results/1",\n "cases": 3}', encoding="utf-8")
    assert main(["compare", str(base_path), str(broken)]) == 2
    assert "cases is int, expected a list" in capsys.readouterr().err
    assert main(["compare", str(base_path), str(tmp_path / "nope.json")]) == 2
    assert "nope.json does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra", [["--tolerance", "ten"], ["--alpha", "2"], ["--metric-tolerance", "speed=0.1"]]
)
def test_bad_options_exit_2(
    base_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["compare", str(base_path), "run.json", *extra])
    assert excinfo.value.code == 2
    assert "harness compare: error" in capsys.readouterr().err
