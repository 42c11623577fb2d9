"""`harness batch run --limits RESULTS` and `harness batch from-csv`'s important rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import harness.cli
from harness.batch.context import ContextSettings
from harness.batch.executor import BatchEngine, BatchSettings
from harness.batch.fixture import MemorySink
from harness.batch.jsonl import iter_lines, read_requests
from harness.batch.limits import read_limits
from harness.errors import ConfigError
from tests.batch.fakes import FakeEngine


def main(argv: list[str]) -> int:
    return harness.cli.main(argv)


def limits_entry(model: str, passed: bool = True) -> dict[str, Any]:
    """One model's entry of results.json's `limits` (harness/limits/discover.py `_entry`)."""
    recommendations = {
        "max_context_tokens": 30_720,
        "trim_threshold": 26_112,
        "trim_interval": 44,
        "keep_messages": 26,
        "model_vram_gb": 3.1,
        "kv_cache_per_token_mb": 0.06,
        "settings_text": "MAX_CONTEXT_TOKENS = 30720\n...",
    }
    return {
        "model": model,
        "hardware": "tiny",
        "device": "gpu",
        "max_context": 38_400,
        "bound": "memory",
        "recommendations": recommendations if passed else None,
        "verdict": "pass" if passed else "fail",
        "reason": None if passed else "memory did not grow linearly (R^2 0.41 < 0.98)",
    }


def write_run(folder: Path, entries: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    payload = {"schema": "harness.results/1", "run_id": folder.name, "cases": [], "limits": entries}
    (folder / "results.json").write_text(json.dumps(payload))
    return folder


def test_a_run_folder_or_its_results_json_gives_the_threshold_and_context(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [limits_entry("gemma3:4b")])
    for given in (run, run / "results.json"):
        choice = read_limits(given, None)
        assert (choice.model, choice.trim_threshold, choice.max_context_tokens) == (
            "gemma3:4b",
            26_112,
            30_720,
        )
    assert choice.text() == (
        f"limits from {run / 'results.json'} (gemma3:4b, bounded by memory): trim threshold "
        "26,112 tokens, context 30,720"
    )


STORED = Path(__file__).parent / "data" / "limits-run"


def test_a_stored_limits_run_of_the_simulator_is_read_as_it_was_written() -> None:
    """`pytest suites/context_limits --matrix smoke --engine sim`'s own results.json: one
    model bounded by memory, one by its trained context."""
    gemma = read_limits(STORED, "gemma3:4b")
    assert (gemma.trim_threshold, gemma.max_context_tokens, gemma.bound) == (
        40_038,
        47_104,
        "memory",
    )
    qwen = read_limits(STORED / "results.json", "qwen2.5:3b-instruct")
    assert (qwen.trim_threshold, qwen.max_context_tokens, qwen.bound) == (
        27_852,
        32_768,
        "trained_context",
    )


def test_with_several_models_the_batch_model_chooses(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [limits_entry("gemma3:4b"), limits_entry("qwen2.5:3b")])
    with pytest.raises(ConfigError, match=r"limits for 2 models \(gemma3:4b, qwen2.5:3b\); say"):
        read_limits(run, None)
    assert read_limits(run, "qwen2.5:3b").model == "qwen2.5:3b"
    with pytest.raises(ConfigError, match=r"no limits for --model 'llama3'; the run has: gemma3"):
        read_limits(run, "llama3")


def test_a_run_without_limits_or_with_a_failed_search_is_a_clear_error(tmp_path: Path) -> None:
    none = write_run(tmp_path / "none", [])
    with pytest.raises(ConfigError, match="has no context_limits result; run `pytest suites/"):
        read_limits(none, None)
    failed = write_run(tmp_path / "failed", [limits_entry("gemma3:4b", passed=False)])
    with pytest.raises(
        ConfigError,
        match=r"gemma3:4b did not pass \(fail: memory did not grow linearly .*\), so it "
        "recommends no trim threshold",
    ):
        read_limits(failed, None)
    with pytest.raises(ConfigError, match=r"no results\.json in that folder"):
        read_limits(tmp_path, None)
    with pytest.raises(ConfigError, match="no such file or folder"):
        read_limits(tmp_path / "nowhere", None)


def test_batch_run_takes_the_threshold_and_context_from_the_limits_run(
    write_batch: Callable[[int], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    args = ["batch", "run", str(write_batch(3)), "--out", str(out), "--engine", "sim",
            "--sim-speed", "1000", "--model", "gemma3:4b",
            "--strategy", "conversation"]  # fmt: skip
    assert main([*args, "--limits", str(STORED)]) == 0
    err = capsys.readouterr().err
    assert "(gemma3:4b, bounded by memory): trim threshold 40,038 tokens, context 47,104" in err
    assert main([*args, "--limits", str(STORED), "--trim-threshold", "9000"]) == 2
    assert "--limits sets the trim threshold: leave out --trim-threshold" in capsys.readouterr().err
    failed = write_run(tmp_path / "failed", [limits_entry("gemma3:4b", passed=False)])
    assert main([*args, "--limits", str(failed)]) == 2
    assert "did not pass" in capsys.readouterr().err


CSV = "id,name,flag\nc1,Ann,yes\nc2,Bob,\nc3,Cy,0\nc4,Di,X\n"


def from_csv(tmp_path: Path, csv_text: str, *extra: str) -> tuple[int, Path]:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(csv_text)
    system = tmp_path / "system.txt"
    system.write_text("Score the candidate.")
    out = tmp_path / "batch.jsonl"
    code = main(["batch", "from-csv", str(csv_path), "--system-prompt", str(system),
                 "--template", "Candidate {name}", "--out", str(out), *extra])  # fmt: skip
    return code, out


def marked(out: Path) -> dict[str, bool]:
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    return {
        line["custom_id"]: line["body"]["messages"][-1].get("important") is True for line in lines
    }


def test_from_csv_marks_rows_from_a_column_and_from_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = from_csv(tmp_path, CSV, "--important-column", "flag", "--important-ids", "c2")
    assert code == 0
    assert marked(out) == {"c1": True, "c2": True, "c3": False, "c4": True}
    assert "3 marked important" in capsys.readouterr().out
    code, out = from_csv(tmp_path, CSV)
    assert marked(out) == dict.fromkeys(("c1", "c2", "c3", "c4"), False)


@pytest.mark.parametrize(
    ("csv_text", "extra", "message"),
    [
        (CSV.replace("c3,Cy,0", "c3,Cy,maybe"), ["--important-column", "flag"],
         "in.csv:4: column 'flag' is 'maybe'; write 1, true"),
        (CSV, ["--important-column", "vip"], "--important-column 'vip' is not in in.csv; its "
         "header is: id, name, flag"),
        (CSV, ["--important-ids", "c2,c9"], "--important-ids: no row of in.csv has custom_id "
         "'c9'"),
    ],
)  # fmt: skip
def test_from_csv_refuses_marks_it_cannot_place(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    csv_text: str,
    extra: list[str],
    message: str,
) -> None:
    code, out = from_csv(tmp_path, csv_text, *extra)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_marked_row_survives_importance_trims_of_the_conversation(tmp_path: Path) -> None:
    rows = "".join(f"c{i},Person {i},{'yes' if i == 1 else ''}\n" for i in range(30))
    code, batch = from_csv(tmp_path, "id,name,flag\n" + rows, "--important-column", "flag")
    assert code == 0
    fake = FakeEngine()
    context = ContextSettings(strategy="importance", trim_interval=5, keep_messages=4)
    settings = BatchSettings(model="m", strategy="conversation", context=context)
    engine = BatchEngine(fake, settings)  # type: ignore[arg-type]
    sink = MemorySink()
    engine.run(read_requests(iter_lines(batch)), sink)
    assert len(sink.trims) >= 5
    # Every request after the marked one still carries it and its answer, trims or not;
    # the mark itself never reaches the server.
    for sent in fake.calls[2:]:
        contents = [m["content"] for m in sent]
        assert "Candidate Person 1" in contents
        assert contents[contents.index("Candidate Person 1") + 1] == "7"
        assert not any("important" in m for m in sent)
    # ... while the trims dropped the unmarked rows of its time.
    assert "Candidate Person 2" not in [m["content"] for m in fake.calls[-1]]


def _run_args(*extra: str) -> Any:
    import argparse

    from harness.batch.cli import register
    from harness.plan.preset import apply_plan

    parser = argparse.ArgumentParser(prog="harness")
    register(parser.add_subparsers(dest="command"))
    # As `cmd_run` does first: options neither given nor in a --plan get their defaults.
    return apply_plan(parser.parse_args(["batch", "run", "in.jsonl", "--out", "o.jsonl", *extra]))


def test_limits_set_the_context_unless_num_ctx_is_given_and_adaptive_flags_apply() -> None:
    from harness.batch.cli import limits_and_adaptive, settings_from_args

    args = _run_args("--limits", str(STORED), "--model", "gemma3:4b")
    settings = limits_and_adaptive(args, settings_from_args(args))
    assert settings.context.trim_threshold == 40_038
    assert settings.options == {"num_ctx": 47_104}
    assert settings.context.adaptive
    assert settings.context.adapt_level == pytest.approx(0.825)
    args = _run_args("--limits", str(STORED), "--model", "gemma3:4b", "--num-ctx", "8192",
                     "--no-adaptive", "--adapt-at", "0.7")  # fmt: skip
    settings = limits_and_adaptive(args, settings_from_args(args))
    assert settings.options == {"num_ctx": 8192}
    assert not settings.context.adaptive
    assert settings.context.adapt_level == 0.7
