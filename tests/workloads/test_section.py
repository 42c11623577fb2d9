"""The `sustained:` matrix section: strict parsing with file:line errors, and the env override."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, MatrixError
from harness.matrix.cells import load_matrix
from harness.workloads.section import DURATION_ENV, SustainedSection, duration_s

HEAD = "version: 1\nmodels:\n  - {name: m, contexts: [2k]}\n"


def _load(tmp_path: Path, section: str) -> SustainedSection:
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + section)
    found = load_matrix(path).sections["sustained"]
    assert isinstance(found, SustainedSection)
    return found


def test_a_full_section_parses_with_defaults(tmp_path: Path) -> None:
    section = _load(
        tmp_path,
        "sustained:\n  workloads:\n"
        "    - {model: a, kind: chat, num_ctx: 4096, tok_s_min: 3.5}\n"
        "    - {model: a, kind: rag, num_ctx: 8192}\n",
    )
    assert section.duration_s == 600
    chat, rag = section.workloads
    assert chat.id == "sustained:a:chat"
    assert chat.tok_s_min == 3.5
    assert chat.success_min == 0.95
    assert rag.tok_s_min is None
    assert rag.memory_growth_max_bytes is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("sustained: 5\n", "must be a mapping"),
        ("sustained: {duration_s: 0, workloads: []}\n", "duration_s is 0"),
        ("sustained: {workloads: []}\n", "non-empty list"),
        ("sustained: {workloads: [{model: a, kind: poem, num_ctx: 1}]}\n", "kind is 'poem'"),
        ("sustained: {workloads: [{model: a, kind: chat}]}\n", "no num_ctx"),
        ("sustained: {workloads: [{model: a, kind: chat, num_ctx: 1, fill: 2}]}\n", "fill is 2"),
        ("sustained: {workloads: [{model: a, kind: chat, num_ctx: 1, tok_s: 1}]}\n", "'tok_s'"),
        (
            "sustained:\n  workloads:\n    - {model: a, kind: chat, num_ctx: 1}\n"
            "    - {model: a, kind: chat, num_ctx: 2}\n",
            "a second chat workload",
        ),
    ],
)
def test_bad_sections_name_the_problem_and_the_line(
    tmp_path: Path, body: str, problem: str
) -> None:
    with pytest.raises(MatrixError) as caught:
        _load(tmp_path, body)
    message = str(caught.value)
    assert problem in message
    assert "m.yaml:" in message
    assert "Fix:" in message


def test_the_environment_overrides_the_duration() -> None:
    section = SustainedSection(duration_s=600)
    assert duration_s(section, {}) == 600
    assert duration_s(section, {DURATION_ENV: "2.5"}) == 2.5
    with pytest.raises(ConfigError, match="positive number"):
        duration_s(section, {DURATION_ENV: "soon"})


def test_the_shipped_matrices_declare_sustained_workloads() -> None:
    root = Path(__file__).resolve().parents[2] / "matrices"
    for name, seconds in (("smoke", 20), ("cpu", 600), ("gpu", 600)):
        section = load_matrix(root / f"{name}.yaml").sections["sustained"]
        assert section.duration_s == seconds
        assert {w.kind for w in section.workloads} <= {"coding", "rag", "chat"}
