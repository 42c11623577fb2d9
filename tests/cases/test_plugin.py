"""The plugin as users meet it, through pytester: options, ids, marks, errors."""

from __future__ import annotations

import socket

import pytest

MATRIX = """\
version: 1
name: box
marks: [gpu]
models:
  - name: gemma3:12b
    contexts: [4k, 32k]
  - name: gemma3:27b
    marks: [large]
    contexts: [8k]
"""

CELL_TEST = """\
def test_cell(cell):
    assert cell.num_ctx > 0
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(MATRIX)
    pytester.makepyfile(test_cells=CELL_TEST)
    return pytester


def test_help_lists_every_option_in_the_harness_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*LLM server benchmark harness*"])
    for flag in (
        "--engine=*",
        "--server=URL",
        "--matrix=NAME|PATH",
        "--reports-dir=DIR",
        "--repeats=N",
        "--sim-profile=NAME",
        "--sim-speed=X",
        "--sim-faults=SPEC",
    ):
        result.stdout.fnmatch_lines([f"*{flag}*"])
    result.stdout.fnmatch_lines(["*harness_engine (string):*", "*ini twin of --engine*"])


def test_cells_get_readable_ids(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "test_cells.py::test_cell[[]gemma3:12b-4k[]]",
            "test_cells.py::test_cell[[]gemma3:12b-32k[]]",
            "test_cells.py::test_cell[[]gemma3:27b-8k[]]",
        ]
    )


def test_marks_select_cells_under_strict_markers(project: pytest.Pytester) -> None:
    result = project.runpytest("--strict-markers", "-m", "large", "-q")
    result.assert_outcomes(passed=1, deselected=2)
    result = project.runpytest("--strict-markers", "-m", "gpu and not large", "-q")
    result.assert_outcomes(passed=2, deselected=1)
    result = project.runpytest("-k", "27b", "-q")
    result.assert_outcomes(passed=1, deselected=2)


def test_markers_are_registered(project: pytest.Pytester) -> None:
    result = project.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gpu:*", "@pytest.mark.large:*"])


def test_matrix_option_selects_a_file(project: pytest.Pytester) -> None:
    (project.path / "matrices" / "other.yaml").write_text(
        "version: 1\nmodels:\n  - name: tiny\n    contexts: [1k]\n"
    )
    result = project.runpytest("--matrix", "other", "-q")
    result.assert_outcomes(passed=1)
    result = project.runpytest("-q")  # default: every matrix
    result.assert_outcomes(passed=4)


def test_ini_twin_is_read_and_the_command_line_wins(project: pytest.Pytester) -> None:
    (project.path / "matrices" / "other.yaml").write_text(
        "version: 1\nmodels:\n  - name: tiny\n    contexts: [1k]\n"
    )
    project.makeini("[pytest]\nharness_matrix = other\n")
    project.runpytest("-q").assert_outcomes(passed=1)
    project.runpytest("-q", "--matrix", "box").assert_outcomes(passed=3)


def test_bad_engine_lists_the_known_ones(project: pytest.Pytester) -> None:
    result = project.runpytest("--engine", "vllm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown engine 'vllm'; choose one of: ollama, openai, sim*"])


def test_bad_ini_value_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nharness_repeats = zero\n")
    result = project.runpytest("-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*harness_repeats*'zero' is not a positive integer*"])


def test_broken_matrix_stops_the_session_naming_file_and_line(project: pytest.Pytester) -> None:
    (project.path / "matrices" / "box.yaml").write_text(
        MATRIX.replace("contexts: [8k]", "contexts: [0]")
    )
    result = project.runpytest("-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*box.yaml:9: models[[]1[]].contexts[[]0[]]: context 0 is not a positive*Fix*"]
    )


def test_unknown_matrix_name_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--matrix", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--matrix 'nope': no such matrix file*one of: box*"])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_stops_the_run_with_one_clear_line(project: pytest.Pytester) -> None:
    project.makepyfile(test_cells="def test_cell(cell, engine):\n    pass\n")
    url = f"http://127.0.0.1:{_closed_port()}"
    result = project.runpytest_subprocess("--server", url, "-q")
    assert result.ret != 0
    result.stdout.fnmatch_lines([f"*no ollama server answers at {url}*ollama serve*--engine sim*"])
    result.assert_outcomes()  # nothing ran, nothing was skipped into a green run


def test_ollama_host_is_the_default_server(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_cells="def test_cell(cell, engine):\n    pass\n")
    port = _closed_port()
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    result = project.runpytest_subprocess("-q")
    result.stdout.fnmatch_lines([f"*no ollama server answers at http://127.0.0.1:{port}*"])


SECTION_TEST = """\
def test_limits(record_section):
    record_section("limits", {"model": "m", "max_context": 4096})
    record_section("extrapolation", {"target": 170000})
"""


def test_sections_reach_results_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sections=SECTION_TEST)
    result = pytester.runpytest_subprocess("--reports-dir", "out", "-q")
    result.assert_outcomes(passed=1)
    import json

    payload = json.loads((pytester.path / "out" / "latest" / "results.json").read_text())
    assert payload["limits"] == [{"model": "m", "max_context": 4096}]
    assert payload["extrapolation"] == {"target": 170000}
    assert payload["cases"] == []


MISSING_MODEL = """\
version: 1
name: box
sim_profile: tiny
models:
  - name: qwen2.5:3b-instruct
    contexts: [1k]
  - name: no-such-model:7b
    contexts: [1k]
"""


def test_a_model_that_is_not_pulled_skips_with_the_pull_command(pytester: pytest.Pytester) -> None:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(MISSING_MODEL)
    pytester.makepyfile(test_cells="def test_cell(cell, measure):\n    measure(cell)\n")
    result = pytester.runpytest_subprocess("--engine", "sim", "-rs", "--repeats", "1")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*model 'no-such-model:7b' is not pulled*`ollama pull no-such-model:7b`*"]
    )


HISTORY_MATRIX = """\
version: 1
name: box
sim_profile: tiny
defaults: {repeats: 2, num_predict: 8}
models:
  - name: qwen2.5:3b-instruct
    contexts: [1k]
"""


def test_history_over_nights_reaches_results_and_the_report(pytester: pytest.Pytester) -> None:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(HISTORY_MATRIX)
    pytester.makepyfile(test_cells="def test_cell(cell, measure):\n    measure(cell)\n")
    args = ("--engine", "sim", "--reports-dir", "out", "--append-history")
    pytester.runpytest_subprocess(*args, "--save-baseline", "nightly").assert_outcomes(passed=1)
    pytester.runpytest_subprocess(*args, "--baseline", "nightly").assert_outcomes(passed=1)
    import json

    latest = pytester.path / "out" / "latest"
    payload = json.loads((latest / "results.json").read_text())
    assert [h["run_id"] for h in payload["history"]][-1] == payload["run_id"]
    assert len(payload["history"]) == 2
    compared = payload["cases"][0]["baseline"]
    # Two runs a few seconds apart on a shared host: their loads may differ (noisy).
    assert compared["verdict"] in {"unchanged", "improved", "regressed", "noisy"}
    assert compared["host_load"]["baseline"]["cpu_count"] >= 1  # the load came through
    assert compared["host_load"]["current"] == payload["cases"][0]["host_load"]
    assert 'id="history"' in (latest / "report.html").read_text()
