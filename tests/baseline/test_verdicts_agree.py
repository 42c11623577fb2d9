"""A case that regressed against its baseline is failed everywhere pytest says FAILED.

Through pytester: store a baseline on the simulator, then run again with the simulator
slowed by half; every output (results.json, matrix.csv, matrix.md, the report and its header
counts, the terminal summary) must show the case as failed, as pytest's outcome does.
"""

from __future__ import annotations

import csv
import json

import pytest

MATRIX = """\
version: 1
name: box
sim_profile: tiny
defaults: {repeats: 5, num_predict: 16}
models:
  - name: qwen2.5:3b-instruct
    contexts: [1k]
"""

# What suites/context_scaling does with a measured cell.
CELL_TEST = """\
import pytest


def test_cell(cell, measure):
    outcome = measure(cell)
    if not outcome.passed:
        pytest.fail("; ".join(outcome.failures), pytrace=False)
"""


def test_a_regressed_case_fails_in_every_output(pytester: pytest.Pytester) -> None:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(MATRIX)
    pytester.makepyfile(test_cells=CELL_TEST)
    args = ("--engine", "sim", "--reports-dir", "out", "-p", "no:randomly")
    pytester.runpytest_subprocess(*args, "--save-baseline", "nightly").assert_outcomes(passed=1)

    result = pytester.runpytest_subprocess(
        *args, "--baseline", "nightly", "--sim-faults", "slowdown=1.5"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*decode_tok_s regressed*"])
    result.stdout.re_match_lines([r"qwen2\.5:3b-instruct-1k +fail "])  # the terminal summary

    latest = pytester.path / "out" / "latest"
    (case,) = json.loads((latest / "results.json").read_text())["cases"]
    assert case["outcome"] == "failed"
    assert case["verdict"] == "fail"
    assert case["baseline"]["verdict"] == "regressed"
    assert "against baseline 'nightly'" in case["reason"]
    (row,) = csv.DictReader((latest / "matrix.csv").read_text().splitlines())
    assert row["verdict"] == "fail"
    assert row["baseline_verdict"] == "regressed"
    # No use_case: matrix.md's "Use-case fit" column shows the verdict.
    assert any(
        line.startswith("| qwen2.5:3b-instruct | 1K |") and line.endswith("| fail |")
        for line in (latest / "matrix.md").read_text().splitlines()
    )
    assert "1 case: 1 fail" in (latest / "report.html").read_text()


RECORDS_THEN_FAILS = """\
def test_case(record_case):
    record_case({"id": "c1", "model": "m", "num_ctx": 1024, "verdict": "pass", "reason": None})
    assert 1 + 1 == 3, "checked after the case was recorded"
"""


def test_any_failed_test_fails_its_recorded_case(pytester: pytest.Pytester) -> None:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(MATRIX)
    pytester.makepyfile(test_case=RECORDS_THEN_FAILS)
    pytester.runpytest("--reports-dir", "out", "-p", "no:randomly").assert_outcomes(failed=1)
    (case,) = json.loads((pytester.path / "out" / "latest" / "results.json").read_text())["cases"]
    assert case["verdict"] == "fail"
    assert "checked after the case was recorded" in case["reason"]
