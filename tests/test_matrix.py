"""Matrix files: the schema, the cross product, and an error for every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import MatrixError
from harness.matrix import format_context, load_matrix, resolve_matrix_paths

GOOD = """\
version: 1
name: demo
description: two models
marks: [gpu]
defaults:
  repeats: 2
  num_predict: 8
  thresholds: {ttft_s: 30}
models:
  - name: gemma3:12b
    contexts: [4k, 32768]
    options: {num_batch: 256}
    thresholds: {decode_tok_s: 6}
    overrides:
      32k: {repeats: 5, thresholds: {ttft_s: 12}}
  - name: qwen2.5:3b-instruct
    marks: [small]
    contexts: [2048]
"""


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_cells_are_the_cross_product_with_overrides(tmp_path: Path) -> None:
    matrix = load_matrix(write(tmp_path, GOOD))
    cells = matrix.cells()
    assert [c.id for c in cells] == ["gemma3:12b-4k", "gemma3:12b-32k", "qwen2.5:3b-instruct-2k"]
    small, large = cells[0], cells[1]
    assert small.options == {"num_batch": 256, "num_ctx": 4096}
    assert small.settings.repeats == 2
    assert {t.kind.name: t.limit for t in small.settings.thresholds} == {
        "ttft_s": 30.0,
        "decode_tok_s": 6.0,
    }
    assert large.settings.repeats == 5
    assert {t.kind.name: t.limit for t in large.settings.thresholds}["ttft_s"] == 12.0
    assert cells[2].marks == ("gpu", "small")


def test_shipped_matrices_load() -> None:
    root = Path(__file__).resolve().parents[1] / "matrices"
    names = {load_matrix(p).name for p in resolve_matrix_paths([], root)}
    assert {"gpu", "cpu", "smoke"} <= names


def test_format_context() -> None:
    assert format_context(131072) == "128k"
    assert format_context(1000) == "1000"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("version: 1\nmodels: [\n", 3, "not valid YAML"),  # found at the end of the stream
        ("version: 2\nmodels: []\n", 1, "version is 2"),
        ("version: 1\nmodles: []\n", 2, "unknown key 'modles'"),
        ("version: 1\nmodels: []\n", 2, "models must be a non-empty list"),
        ("version: 1\nmodels:\n  - contexts: [4k]\n", 3, "the model has no name"),
        ("version: 1\nmodels:\n  - name: m\n    contexts: [0]\n", 4, "context 0 is not a positive"),
        ("version: 1\nmodels:\n  - name: m\n    contexts: [-4k]\n", 4, "is not a positive"),
        ("version: 1\nmodels:\n  - name: m\n    contexts: [big]\n", 4, "context 'big'"),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n"
            "    thresholds: {ttft_s: fast}\n",
            5,
            "threshold 'ttft_s' is 'fast'",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n    thresholds: {ttft: 1}\n",
            5,
            "unknown threshold 'ttft'",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n    repeats: two\n",
            5,
            "repeats is 'two'",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n    colour: red\n",
            5,
            "unknown key 'colour'",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n    overrides:\n      8k: {}\n",
            6,
            "override for context '8k' not in contexts",
        ),
        (
            "version: 1\ndefaults:\n  options: {num_ctx: 4096}\nmodels:\n  - name: m\n"
            "    contexts: [4k]\n",
            3,
            "num_ctx comes from contexts",
        ),
        ("version: 1\nmarks: [gpu-box]\nmodels:\n  - name: m\n    contexts: [4k]\n", 2, "marks is"),
    ],
)
def test_broken_matrix_names_file_line_and_fix(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    message = str(info.value)
    assert f"{path}:{line}" in message
    assert fragment in message
    assert "Fix" in message


def test_unknown_matrix_name_lists_known_ones(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "gpu.yaml")
    with pytest.raises(MatrixError, match=r"no such matrix file .*one of: gpu"):
        resolve_matrix_paths(["gpuu"], tmp_path)
