"""Trim settings from the growth a conversation measured (issue 18, item 4)."""

from __future__ import annotations

import itertools
import json
import shlex
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest

import harness.cli
from harness.batch.growth import Growth, estimated_growth, measured_growth, trim_settings
from harness.batch.jsonl import read_requests


def test_growth_is_the_median_step_up_and_the_system_prompt_counts_once() -> None:
    # 1,000-token system prompt, each request adds 60; a trim after the 4th drops to 1,120;
    # a failed request has no count (0).
    counts = [1060, 1120, 1180, 1240, 1120, 0, 1180, 1240]
    growth = measured_growth([counts])
    assert growth == Growth(tokens_per_request=60, system_tokens=1000, source="measured",
                            samples=5)  # fmt: skip
    assert measured_growth([[1060]]) is None


def test_trim_settings_follow_the_readme_formula() -> None:
    plan = trim_settings(68_761, Growth(60, 1000, "measured", 99))
    # KEEP = floor(0.5 x 68761 / 30) = 1146 messages; INTERVAL = floor((68761 - 1000 -
    # 1146 x 30) / 60) = 556 requests: not the 23 that 1,500 tokens a request gives.
    assert (plan.keep_messages, plan.trim_interval) == (1146, 556)
    words = shlex.split(plan.command("hybrid"))
    assert words[:3] == ["harness", "batch", "run"]
    assert words[words.index("--trim-interval") + 1] == "556"
    assert words[words.index("--keep-messages") + 1] == "1146"
    assert words[words.index("--trim-threshold") + 1] == "68761"


def test_the_printed_command_is_one_harness_batch_run_accepts() -> None:
    words = shlex.split(trim_settings(28_000, Growth(66, 300, "measured", 9)).command())
    parser = harness.cli.build_parser()
    args = parser.parse_args(words[1:])
    assert (args.trim_interval, args.keep_messages, args.trim_threshold) == (207, 424, 28000)


def test_estimated_from_the_batch_input() -> None:
    line = {
        "custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
        "body": {"max_tokens": 3, "messages": [
            {"role": "system", "content": "s" * 1200}, {"role": "user", "content": "u" * 200},
        ]},
    }  # fmt: skip
    lines = [json.dumps({**line, "custom_id": f"r{i}"}) for i in range(3)]
    growth = estimated_growth(read_requests(lines))
    assert growth is not None
    # 4 characters a token + 4 per message: user 54, reply 3 + 4; system 304 once.
    assert (growth.tokens_per_request, growth.system_tokens, growth.samples) == (61, 304, 3)
    assert growth.source == "estimated"


def test_analyze_measures_growth_from_a_conversation_run(
    write_batch: Callable[[int], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    code = harness.cli.main([
        "batch", "run", str(write_batch(30)), "--model", "qwen2.5:3b-instruct", "--out", str(out),
        "--engine", "sim", "--sim-speed", "200", "--strategy", "conversation",
        "--trim-interval", "10", "--keep-messages", "6",
    ])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    assert harness.cli.main(["batch", "analyze", str(out), "--trim-threshold", "20000"]) == 0
    shown = capsys.readouterr().out
    assert "conversation growth (measured, " in shown
    assert "trim settings for a 20,000-token threshold" in shown
    assert "harness batch run batch.jsonl --out results.jsonl --strategy conversation" in shown
    assert harness.cli.main(["batch", "analyze", str(out), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["trim_plan"]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    by_turn = sorted((r["harness"]["turn"], r["response"]["body"]["usage"]["prompt_tokens"])
                     for r in records)  # fmt: skip
    steps = [b[1] - a[1] for a, b in itertools.pairwise(by_turn) if b[1] > a[1]]
    assert plan["growth"]["tokens_per_request"] == round(statistics.median(steps))
    assert plan["growth"]["samples"] == len(steps)
