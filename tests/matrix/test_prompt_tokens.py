"""`prompt_tokens`: a fixed prompt length instead of a fill, and the CPU matrix's workload."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import MatrixError
from harness.matrix.cells import load_matrix
from harness.measure.prompts import target_prompt_tokens

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
version: 1
defaults: {num_predict: 64, prompt_tokens: 2000}
models:
  - name: m
    contexts: [4k, 64k]
    overrides:
      4k: {fill: 0.5}
"""


def _load(tmp_path: Path, text: str) -> list[tuple[int, int]]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return [
        (
            c.num_ctx,
            target_prompt_tokens(
                c.num_ctx, c.settings.fill, c.settings.num_predict, c.settings.prompt_tokens
            ),
        )
        for c in load_matrix(path).cells()
    ]


def test_a_fixed_prompt_holds_at_every_context_and_a_fill_override_replaces_it(
    tmp_path: Path,
) -> None:
    assert _load(tmp_path, BASE) == [(4096, 2048 - 64), (65536, 2000)]


def test_fill_and_prompt_tokens_together_are_refused(tmp_path: Path) -> None:
    text = BASE.replace("prompt_tokens: 2000}", "prompt_tokens: 2000, fill: 0.5}")
    with pytest.raises(MatrixError, match=r"m\.yaml:2: defaults\.prompt_tokens: fill and"):
        _load(tmp_path, text)


def test_a_prompt_longer_than_its_context_names_the_context(tmp_path: Path) -> None:
    text = BASE.replace("4k: {fill: 0.5}", "4k: {repeats: 1}").replace("2000", "4040")
    with pytest.raises(MatrixError, match=r"m\.yaml:5: models\[0\]\.contexts\[0\]: prompt_tokens"):
        _load(tmp_path, text)


@pytest.mark.parametrize("value", ["0", "15", "2.5", "true"])
def test_a_prompt_length_that_is_no_count_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(MatrixError, match="prompt_tokens is"):
        _load(tmp_path, BASE.replace("prompt_tokens: 2000", f"prompt_tokens: {value}"))


def test_the_cpu_matrix_sends_the_seeds_request_not_a_filled_window() -> None:
    """Seed 001's cells are context-locked: every cell sends the same ~2,300-token request
    (the size behind its 10.5 s reference TTFT), whatever its window."""
    cells = load_matrix(ROOT / "matrices" / "cpu.yaml").cells()
    targets = {
        target_prompt_tokens(
            c.num_ctx, c.settings.fill, c.settings.num_predict, c.settings.prompt_tokens
        )
        for c in cells
    }
    assert targets == {2300}
    assert min(c.num_ctx for c in cells) == 32768
