"""job-plan.yaml: written from a plan, read by `harness batch run --plan`, bad files refused."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from harness.batch.cli import register
from harness.errors import ConfigError
from harness.plan.job import plan_job
from harness.plan.preset import PLAN_FILE, apply_plan, load_plan, write_presets
from tests.plan.conftest import throughput_case


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="harness")
    register(parser.add_subparsers(dest="command"))
    return apply_plan(parser.parse_args(["batch", "run", "in.jsonl", "--out", "o.jsonl", *argv]))


def _written(tmp_path: Path, payload: dict[str, Any]) -> Path:
    write_presets(tmp_path, plan_job(payload), [], "r1")
    return tmp_path / PLAN_FILE


def test_the_written_plan_sets_the_batch_options(tmp_path: Path, payload: dict[str, Any]) -> None:
    path = _written(tmp_path, payload)
    plan = plan_job(payload)
    assert plan.trim is not None
    args = _parse("--plan", str(path))
    assert (args.strategy, args.num_ctx, args.concurrency, args.model) == (
        "conversation", 32768, 1, "gemma3:12b",
    )  # fmt: skip
    assert (args.trim_threshold, args.trim_interval, args.keep_messages) == (
        plan.trim.trim_threshold, plan.trim.trim_interval, plan.trim.keep_messages,
    )  # fmt: skip
    assert args.trim_strategy == "hybrid"


def test_the_command_line_wins_even_at_the_default(tmp_path: Path, payload: dict[str, Any]) -> None:
    path = _written(tmp_path, payload)
    args = _parse("--plan", str(path), "--strategy", "independent", "--trim-interval", "50")
    assert args.strategy == "independent"
    assert args.trim_interval == 50  # the option's default, given explicitly: it wins
    assert args.num_ctx == 32768  # not given: the plan's


def test_without_a_plan_the_defaults_stay() -> None:
    args = _parse()
    assert (args.strategy, args.trim_interval, args.keep_messages, args.num_ctx) == (
        "independent", 50, 40, None,
    )  # fmt: skip


def test_a_plan_without_settings_is_refused_with_what_is_missing(
    tmp_path: Path, payload: dict[str, Any]
) -> None:
    payload["cases"] = [throughput_case("conversation", 0.14, num_ctx=None)]
    path = _written(tmp_path, payload)
    with pytest.raises(ConfigError, match=r"job-plan.yaml:\d+: ready: the plan has no settings: "
                       r"num_ctx: .*suites/context_limits"):  # fmt: skip
        load_plan(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: other\n", r"bad.yaml:1: kind: not a job plan \(kind 'other'"),
        ("- a\n", r"not a job plan \(kind 'list'"),
        (
            "kind: harness.job-plan/1\nready: true\nbatch:\n  trim_intervals: 3\n",
            r"bad.yaml:4: batch.trim_intervals: unknown key 'trim_intervals'. Fix: use some of:",
        ),
        (
            "kind: harness.job-plan/1\nready: true\nbatch:\n  num_ctx: 0\n",
            r"bad.yaml:4: batch.num_ctx: num_ctx is 0. Fix: use a positive integer",
        ),
        (
            "kind: harness.job-plan/1\nready: true\nbatch:\n  strategy: fast\n",
            r"unknown strategy 'fast'. Fix: use one of: independent, conversation",
        ),
        ("kind: harness.job-plan/1\nready: true\nbatch: 3\n", r"batch is 3, not a mapping"),
    ],
)
def test_bad_plan_files_name_file_line_key_and_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_plan(path)


def test_a_missing_file_says_where_plans_are(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file. Fix: pass the job-plan.yaml"):
        load_plan(tmp_path / "nope.yaml")
