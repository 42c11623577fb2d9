"""Saving, loading, validating baselines and their run history."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import BaselineStore, load_comparable
from harness.errors import ConfigError, ResultsError

Factory = Callable[..., dict[str, Any]]


def test_save_writes_stable_diff_friendly_json(store: BaselineStore, make_payload: Factory) -> None:
    payload = make_payload(0)
    path = store.save("nightly", payload)
    assert path == store.root / "nightly.json"
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=1) + "\n"
    assert data["schema"] == "harness.baseline/1"
    assert data["fingerprint"] == payload["fingerprint"]
    assert data["cases"][0]["samples"] == payload["cases"][0]["samples"]
    assert "hardware" not in data["cases"][0]  # bulky sampler series stay out
    assert [p.name for p in store.root.iterdir()] == ["nightly.json"]  # no temp file left
    store.save("nightly", payload)
    assert path.read_text(encoding="utf-8") == text  # same input, same bytes


def test_load_by_name_and_by_path(store: BaselineStore, make_payload: Factory) -> None:
    payload = make_payload(0)
    path = store.save("nightly", payload)
    by_name = store.load("nightly")
    assert by_name.name == "nightly"
    assert by_name.run_id == payload["run_id"]
    assert len(by_name.cases) == 6
    assert by_name.fingerprint.gpu_names == ["NVIDIA GeForce RTX 4080"]
    assert store.load(str(path)).cases == by_name.cases
    assert store.names() == ["nightly"]


def test_a_results_file_serves_as_a_baseline(
    store: BaselineStore, make_payload: Factory, write_run: Callable[[dict[str, Any]], Path]
) -> None:
    results = write_run(make_payload(0))
    assert len(store.load(str(results)).cases) == 6
    assert len(store.load(str(results.parent)).cases) == 6  # a run folder
    assert load_comparable(results.parent).run_id == make_payload(0)["run_id"]


def test_missing_baseline_names_the_path_and_the_fix(store: BaselineStore) -> None:
    with pytest.raises(ResultsError, match=r"nightly\.json does not exist.*--save-baseline"):
        store.load("nightly")


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_corrupt_json_reports_line_and_column(store: BaselineStore) -> None:
    path = write(store.root / "bad.json", '{\n "schema": "harness.baseline/1",\n "cases": [,]\n}')
    with pytest.raises(ResultsError, match=r"bad\.json:3:12: not valid JSON"):
        store.load("bad")
    assert path.endswith("bad.json")


def valid_document(make_payload: Factory) -> dict[str, Any]:
    return {**make_payload(0), "schema": "harness.baseline/1"}


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d.update(schema="harness.results/0"), r"schema is 'harness\.results/0'"),
        (lambda d: d.update(cases={"a": 1}), r"cases is dict, expected a list"),
        (lambda d: d["cases"][2].pop("id"), r"cases\[2\] has id None"),
        (
            lambda d: d["cases"][1]["samples"][3].update(ttft_s="0.4"),
            r"cases\[1\]\.samples\[3\]\.ttft_s is '0\.4', expected a number",
        ),
        (lambda d: d["cases"][0].update(samples="many"), r"cases\[0\]\.samples is not a list"),
        (
            lambda d: d["cases"][0]["stability"].update(score=True),
            r"cases\[0\]\.stability\.score is True",
        ),
        (lambda d: d["cases"].append(d["cases"][0]), r"cases\[6\] repeats case"),
        (lambda d: d.update(fingerprint=[]), r"fingerprint is not an object"),
    ],
)
def test_hand_edited_files_are_rejected_with_file_and_problem(
    store: BaselineStore,
    make_payload: Factory,
    edit: Callable[[dict[str, Any]], object],
    problem: str,
) -> None:
    document = valid_document(make_payload)
    edit(document)
    write(store.root / "edited.json", json.dumps(document))
    with pytest.raises(ResultsError, match=r"edited\.json: " + problem):
        store.load("edited")


def test_save_rejects_bad_names_and_payloads(store: BaselineStore, make_payload: Factory) -> None:
    with pytest.raises(ConfigError, match="not usable as a file name"):
        store.save("../escape", make_payload(0))
    with pytest.raises(ResultsError, match="schema"):
        store.save("nightly", {**make_payload(0), "schema": "other"})
    assert not store.root.exists()


def test_history_appends_one_line_per_run(store: BaselineStore, make_payload: Factory) -> None:
    assert store.history("nightly") == []
    runs = [make_payload(seed) for seed in (1, 2, 3)]
    for run in runs:
        path = store.append_history("nightly", run)
    assert path.name == "nightly.history.jsonl"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    history = store.history("nightly")
    assert [h["run_id"] for h in history] == [r["run_id"] for r in runs]
    first = history[0]["cases"]["context_scaling::gemma3:12b-4k"]
    samples = runs[0]["cases"][0]["samples"]
    assert first["ttft_s"] == pytest.approx(sorted(s["ttft_s"] for s in samples)[2])
    assert first["stability.score"] == runs[0]["cases"][0]["stability"]["score"]
    assert set(first) == {
        "ttft_s", "e2e_s", "prompt_tok_s", "decode_tok_s", "stability.score", "memory.peak_bytes"
    }  # fmt: skip


def test_history_survives_a_torn_last_line_but_not_a_corrupt_one(
    store: BaselineStore, make_payload: Factory
) -> None:
    path = store.append_history("nightly", make_payload(1))
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"run_id": "killed mid-wri')
    assert len(store.history("nightly")) == 1
    path.write_text('{"run_id": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(ResultsError, match=r"nightly\.history\.jsonl:2:1"):
        store.history("nightly")
