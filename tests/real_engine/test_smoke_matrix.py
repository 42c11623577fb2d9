"""The smoke matrix through pytest against llama.cpp, started per context by `--launch`.

Real prefill, real decode: every cell must be measured (TTFT, prompt and decode rates) with
prompts of the length the harness meant to send. The verdicts are the matrix's own and may
go either way on a busy 2-core box; the measurements are what this checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.devtools.synth_model import SynthShape

from .conftest import LLAMA_TEMPLATE, require_llama_cpp

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_matrix_on_llamacpp(tmp_path: Path, synth_model: tuple[Path, SynthShape]) -> None:
    require_llama_cpp()
    command = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "context_scaling"),
        "--engine", "openai", "--matrix", "smoke", "--reports-dir", str(tmp_path), "-q",
        "--launch", LLAMA_TEMPLATE, "--launch-var", f"model_path={synth_model[0]}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stdout[-3000:]  # 1: a threshold missed, measured
    cases = json.loads((tmp_path / "latest" / "results.json").read_text())["cases"]
    assert len(cases) == 4
    for case in cases:
        assert case["verdict"] in ("pass", "fail"), (case["id"], case["reason"])
        assert case["loaded"]["context_length"] == case["num_ctx"]
        for sample in case["samples"]:
            assert sample["outcome"] == "ok", sample
            assert 0 < sample["ttft_s"] < 60
            assert sample["decode_tok_s"] > 1
            assert sample["prompt_tok_s"] > 10
            assert abs(sample["prompt_length_error"]) <= 0.01  # the server counted what we sent
