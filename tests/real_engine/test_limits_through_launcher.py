"""The context-limit suite through `--launch`, against a real llama.cpp.

llama.cpp's server fixes its context at start, so every probe of the search is a fresh
start of the server at that context. Its memory must grow by the analytic KV size of the
synthesized shape: 2 x layers x KV heads x head size x 2 bytes (f16) per token.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.devtools.synth_model import SynthShape

from .conftest import LLAMA_TEMPLATE, require_llama_cpp

ROOT = Path(__file__).resolve().parents[2]
TOP = 32768  # the synthetic model's trained context, read from its GGUF through model_path

MATRIX = """\
version: 1
name: synth
models:
  - name: synth
    contexts: [2k]
limits:
  max_context: 16384   # only for a server that says nothing: the GGUF's own 32768 wins
  models: [synth]
"""


def test_limit_search_through_the_launcher_fits_the_kv_cache(
    tmp_path: Path, synth_model: tuple[Path, SynthShape]
) -> None:
    require_llama_cpp()
    model_path, shape = synth_model
    (tmp_path / "synth.yaml").write_text(MATRIX)
    command = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "context_limits"),
        "--engine", "openai", "--matrix", str(tmp_path / "synth.yaml"),
        "--reports-dir", str(tmp_path / "reports"), "-q",
        "--launch", LLAMA_TEMPLATE, "--launch-var", f"model_path={model_path}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    payload = json.loads((tmp_path / "reports" / "latest" / "results.json").read_text())
    limit = payload["limits"][0]
    assert limit["verdict"] == "pass", limit["reason"]
    # Everything fits a 24 GB machine: the search climbs to within one step of the top.
    assert TOP - limit["search"]["resolution"] <= limit["max_context"] <= TOP
    analytic = shape.kv_bytes_per_token()
    assert abs(limit["bytes_per_token"] / analytic - 1) <= 0.10, (
        limit["bytes_per_token"],
        analytic,
    )
    assert all(p["memory_source"] in {"server_rss", "ps"} for p in limit["probes"])
    assert limit["search"]["probes"] <= limit["search"]["max_probes"]
