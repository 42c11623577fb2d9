"""Several servers under pytest-xdist: one worker per server, every case exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from harness.sim.server import SimServer

MATRIX = """\
version: 1
name: fleet
marks: [fleet]
defaults: {repeats: 2, num_predict: 8}
models:
  - name: qwen2.5:3b-instruct
    contexts: [1k, 2k]
  - name: gemma3:4b
    contexts: [1k, 2k, 3k]
  - name: liquid-rag:latest
    contexts: [1k]
"""

CELL_TEST = """\
def test_cell(cell, measure):
    outcome = measure(cell)
    assert outcome.passed, outcome.failures
"""

MODEL_ENDPOINTS = ("/api/chat", "/api/generate")


@pytest.fixture
def servers() -> Iterator[list[SimServer]]:
    sims = [SimServer(profile="tiny", speed=20.0), SimServer(profile="tiny", speed=20.0)]
    for sim in sims:
        sim.start()
    try:
        yield sims
    finally:
        for sim in sims:
            sim.stop()


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "fleet.yaml").write_text(MATRIX)
    pytester.makepyfile(test_fleet=CELL_TEST)
    return pytester


def run(project: pytest.Pytester, sims: list[SimServer], out: str, *extra: str) -> dict[str, Any]:
    args = [f"--server={sim.url}" for sim in sims]
    result = project.runpytest_subprocess(*args, "--reports-dir", out, "-p", "xdist", *extra)
    result.assert_outcomes(passed=6)
    return {
        "stdout": result.stdout.str(),
        "payload": json.loads((project.path / out / "latest" / "results.json").read_text()),
    }


def model_requests(sim: SimServer) -> list[dict[str, Any]]:
    return sorted(
        (r for r in sim.timeline() if r["path"] in MODEL_ENDPOINTS and r.get("done_ns")),
        key=lambda r: r["received_ns"],
    )


def test_two_workers_never_share_a_server(
    project: pytest.Pytester, servers: list[SimServer]
) -> None:
    parallel = run(project, servers, "parallel", "-n", "2")
    requests = [model_requests(sim) for sim in servers]
    assert all(requests), "both servers must have done work"
    for sim, reqs in zip(servers, requests, strict=True):
        clients = {r["client"] for r in reqs}
        assert len(clients) == 1, f"{sim.url} was driven by several workers: {clients}"
        assert clients <= {"gw0", "gw1"}
    cases = parallel["payload"]["cases"]
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)) == 6  # every case exactly once
    by_model: dict[str, set[str]] = {}
    for case in cases:
        by_model.setdefault(case["model"], set()).add(case["server"])
    assert all(len(urls) == 1 for urls in by_model.values()), by_model  # one ladder, one server
    assert {u for urls in by_model.values() for u in urls} == {s.url for s in servers}
    assert len(parallel["payload"]["fingerprint"]["servers"]) == 2
    assert "--dist loadgroup" in parallel["stdout"]


def test_with_and_without_xdist_the_same_cases(
    project: pytest.Pytester, servers: list[SimServer]
) -> None:
    parallel = run(project, servers, "parallel", "-n", "2")
    serial = run(project, servers, "serial", "-n", "0")

    def placed(payload: dict[str, Any]) -> set[tuple[str, str]]:
        return {(c["id"], c["server"]) for c in payload["cases"]}

    assert placed(parallel["payload"]) == placed(serial["payload"])


def test_one_server_and_two_workers_says_why(
    project: pytest.Pytester, servers: list[SimServer]
) -> None:
    result = run(project, servers[:1], "single", "-n", "2")
    assert "only 1 server(s): measurements run on at most 1 worker(s)" in result["stdout"]
    assert {c["server"] for c in result["payload"]["cases"]} == {servers[0].url}
