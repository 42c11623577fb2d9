from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.batch.matrix_section import ThroughputSection
from harness.errors import MatrixError
from harness.matrix.cells import load_matrix

BASE = "version: 1\nmodels:\n  - name: m\n    contexts: [2k]\n"


def test_defaults_and_values(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(BASE + "throughput:\n  sizes: [80, 20, 40]\n  concurrency: 2\n")
    section = load_matrix(path).sections["throughput"]
    assert isinstance(section, ThroughputSection)
    assert section.sizes == (20, 40, 80)
    assert section.strategies == ("independent", "conversation")
    assert section.extrapolate_to == 170_000
    assert section.concurrency == 2


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("throughput:\n  sizes: [100]\n", "sizes is [100]"),
        ("throughput:\n  strategies: [batched]\n", "unknown value 'batched'"),
        ("throughput:\n  sise: [1, 2]\n", "unknown key 'sise'"),
        ("throughput:\n  concurrency: 0\n", "concurrency is 0"),
    ],
)
def test_bad_values_name_the_line(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(BASE + yaml_text)
    with pytest.raises(MatrixError, match=re.escape(message)) as info:
        load_matrix(path)
    assert f"{path}:6:" in str(info.value)
