"""Collection of a matrix: the garbage collector held off while it runs, on again after."""

from __future__ import annotations

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
  - name: gemma3:1b
    marks: [tiny]
    contexts: [2k]
"""

CONFTEST = """\
import gc

def pytest_collection_modifyitems(items):
    print(f"collector during collection: {gc.isenabled()}")

def pytest_sessionfinish(session):
    print(f"collector after collection: {gc.isenabled()}")
"""


def test_collection_runs_with_the_collector_off(pytester: pytest.Pytester) -> None:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(MATRIX)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_cells="def test_cell(cell):\n    assert cell.num_ctx > 0\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-s", "--engine", "sim")
    result.stdout.fnmatch_lines([
        "collector during collection: False", "collector after collection: True",
    ])  # fmt: skip


def test_marks_shared_between_cells_still_select_each(pytester: pytest.Pytester) -> None:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(MATRIX)
    pytester.makepyfile(test_cells="def test_cell(cell):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--collect-only", "-q", "--strict-markers", "-m", "gpu and not large", "--engine", "sim"
    )
    result.stdout.fnmatch_lines(["*3/4 tests collected (1 deselected)*"])
    tiny = pytester.runpytest_subprocess("--collect-only", "-q", "-m", "tiny", "--engine", "sim")
    tiny.stdout.fnmatch_lines(["*test_cell?gemma3:1b-2k*", "*1/4 tests collected*"])
