"""The `limits:` matrix section: what it accepts and how it reports mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import MatrixError
from harness.limits.section import LimitsSection
from harness.matrix.cells import load_matrix

HEAD = "version: 1\nmodels:\n  - {name: m, contexts: [4k]}\n"


def matrix(tmp_path: Path, limits: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + "limits:\n" + limits, encoding="utf-8")
    return path


def test_defaults_and_overrides(tmp_path: Path) -> None:
    path = matrix(
        tmp_path,
        "  tokens_per_request: 1500\n  resolution: 512\n  models:\n    - gemma3:12b\n"
        "    - {name: qwen2.5:3b-instruct, tokens_per_request: 800, options: {num_batch: 256}}\n",
    )
    section = load_matrix(path).sections["limits"]
    assert isinstance(section, LimitsSection)
    assert section.resolution == 512
    first, second = section.models
    assert (first.name, first.policy.tokens_per_request, first.policy.safety) == (
        "gemma3:12b",
        1500,
        0.8,
    )
    assert second.policy.tokens_per_request == 800
    assert dict(second.options) == {"num_batch": 256}


def test_max_context_is_per_model_with_a_section_default(tmp_path: Path) -> None:
    path = matrix(
        tmp_path, "  max_context: 32768\n  models:\n    - a\n    - {name: b, max_context: 8192}\n"
    )
    section = load_matrix(path).sections["limits"]
    assert [m.max_context for m in section.models] == [32768, 8192]


@pytest.mark.parametrize(
    ("limits", "line", "message"),
    [
        ("  models: []\n", 5, "models must be a non-empty list"),
        ("  safty: 0.8\n  models: [a]\n", 5, "unknown key 'safty'"),
        ("  safety: 1.5\n  models: [a]\n", 5, "safety is 1.5"),
        ("  tokens_per_request: 0\n  models: [a]\n", 5, "tokens_per_request is 0"),
        ("  resolution: 1.5\n  models: [a]\n", 5, "resolution is 1.5"),
        ("  models:\n    - a\n    - {name: b, option: {}}\n", 7, "unknown key 'option'"),
        ("  models:\n    - {name: b, options: {num_ctx: 4}}\n", 6, "without num_ctx"),
        ("  models: [a, a]\n", 5, "listed twice"),
        ("  models:\n    - 3\n", 6, "model entry 3"),
        ("  [1, 2]\n", 4, "limits must be a mapping"),
        ("  max_context: 100\n  models: [a]\n", 5, "max_context is 100"),
        ("  models:\n    - {name: b, max_context: big}\n", 6, "max_context is 'big'"),
    ],
)
def test_errors_name_the_line_and_the_fix(
    tmp_path: Path, limits: str, line: int, message: str
) -> None:
    path = matrix(tmp_path, limits)
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    text = str(info.value)
    assert f"{path}:{line}:" in text
    assert message in text
    assert "Fix:" in text


def test_the_shipped_matrices_have_limits() -> None:
    root = Path(__file__).resolve().parents[2] / "matrices"
    gpu = load_matrix(root / "gpu.yaml").sections["limits"]
    assert [m.name for m in gpu.models] == ["gemma3:12b"]
    cpu = load_matrix(root / "cpu.yaml").sections["limits"]
    assert len(cpu.models) == 5
