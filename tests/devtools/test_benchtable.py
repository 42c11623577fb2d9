"""`harness bench-table`: the README's figures come from latest.json, with their machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.devtools import benchfigures as bf
from harness.devtools import benchtable

QUIET = {"cpu": "Test CPU @ 2GHz", "nproc": 2, "python": "3.11.7", "platform": "Linux"}


def save(path: Path, load: float = 0.5) -> Path:
    entries = {
        "test_render_10k_cases": bf.Entry(
            {"median_s": 0.8123, "render_cpu_s": 0.62}, QUIET, [load, 1, 1], [0.4, 1, 1],
            "2026-11-30T07:00:00+0000",
        ),
        "test_timing_error[1]": bf.Entry(
            {"ttft_error_p50_ms": 0.3, "ttft_error_p99_ms": 1.9}, QUIET, [0.2], [0.3],
            "2026-11-30T07:05:00+0000",
        ),
    }  # fmt: skip
    bf.save(path, entries, QUIET)
    return path


def test_prints_the_table_with_the_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = save(tmp_path / "latest.json")
    assert main(["bench-table", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "Taken 2026-11-30 on 2 x Test CPU @ 2GHz, Python 3.11.7" in out
    row = "| rendering a 10,000-case report (HTML, Markdown, CSV): wall median / CPU |"
    assert f"{row} 0.81 / 0.62 s | < 1 s |" in out
    assert "| 0.30 / 1.90 ms | p50 < 0.5, p99 < 2 ms |" in out
    assert "| sampler CPU at 10 Hz, % of one core | - | < 0.5% |" in out  # not measured
    assert "busy" not in out


def test_busy_figures_are_marked_and_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = save(tmp_path / "latest.json", load=7.5)
    assert main(["bench-table", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "**1 of 2 benchmarks ran on a busy machine**" in out
    assert "| 0.81 / 0.62 s (busy) | < 1 s |" in out
    assert "load average around the benchmarks: 0.30 to 7.50" in out


def test_writes_between_the_readme_markers_only(tmp_path: Path) -> None:
    results = save(tmp_path / "latest.json")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Intro\n{benchtable.BEGIN}\nold typed table\n{benchtable.END}\nrest\n")
    assert main(["bench-table", "--results", str(results), "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"# Intro\n{benchtable.BEGIN}\nGenerated from")
    assert text.endswith(f"{benchtable.END}\nrest\n")
    assert "old typed table" not in text
    assert "| 0.81 / 0.62 s |" in text


def test_readme_without_markers_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = save(tmp_path / "latest.json")
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    assert main(["bench-table", "--results", str(results), "--readme", str(readme)]) == 2
    assert "has no '<!-- bench-table:begin" in capsys.readouterr().err
    assert readme.read_text() == "# no markers\n"


def test_missing_results_say_to_run_make_bench(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench-table", "--results", str(tmp_path / "none.json")]) == 2
    assert "run `make bench` first" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [(0.4321, 2, "0.43"), (-0.0042, 2, "-0.0042"), (0.0, 2, "0.00"), (68473.0, 0, "68,473")],
)
def test_a_figure_too_small_for_its_rows_precision_keeps_three_digits(
    value: float, digits: int, shown: str
) -> None:
    assert benchtable._number(value, digits) == shown
