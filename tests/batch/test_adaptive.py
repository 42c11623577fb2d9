"""Seed 002's adaptive limit: when memory nears the budget, the trim threshold drops to 90%
of the largest context that ran safely, and the run says so."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.batch.analyze import analyze, format_analysis
from harness.batch.context import ContextManager, ContextSettings
from harness.batch.executor import BatchEngine, BatchSettings
from harness.batch.jsonl import read_requests
from harness.batch.memory import SimProbe
from harness.batch.output import OutputWriter
from harness.batch.progress import Progress
from harness.batch.trim import Conversation
from harness.engines.ollama import OllamaEngine
from harness.errors import ConfigError
from tests.batch.fakes import request_line

MODEL = "qwen2.5:3b-instruct"
NEIGHBOUR = "liquid-rag:latest"


def test_nothing_is_lowered_before_memory_nears_the_budget_or_without_a_safe_context() -> None:
    memory = [0.95]
    manager = ContextManager(
        ContextSettings(trim_threshold=10_000), memory_fraction=lambda: memory[0]
    )
    conv: Conversation = [{"role": "user", "content": "q"}]
    manager.maybe_trim(conv, 1, "c1", "k")
    assert manager.threshold == 10_000  # near the budget, but nothing ran safely yet
    manager.observe(4_000, 0.95)  # ran, but with memory already near: not "safely"
    manager.maybe_trim(conv, 2, "c2", "k")
    assert manager.threshold == 10_000
    memory[0] = 0.5
    manager.observe(5_000, 0.5)
    manager.maybe_trim(conv, 3, "c3", "k")
    assert manager.threshold == 10_000  # far from the budget
    memory[0] = 0.85  # the default warning 0.875 - 0.05 = 0.825 counts as near
    manager.maybe_trim(conv, 4, "c4", "k")
    assert manager.threshold == 4_500
    [event] = manager.take_lowered()
    assert event.as_dict() == {
        "request_index": 4,
        "custom_id": "c4",
        "conversation": "k",
        "memory_fraction": 0.85,
        "largest_safe_tokens": 5_000,
        "threshold_before": 10_000,
        "threshold_after": 4_500,
        "event": "threshold_lowered",
    }
    assert manager.take_lowered() == []


def test_no_adaptive_keeps_the_threshold() -> None:
    settings = ContextSettings(trim_threshold=10_000, adaptive=False)
    manager = ContextManager(settings, memory_fraction=lambda: 0.99)
    manager.observe(5_000, 0.1)
    manager.maybe_trim([{"role": "user", "content": "q"}], 1, "c1", "k")
    assert manager.threshold == 10_000


@pytest.mark.parametrize("level", [0.0, 1.5])
def test_an_adapt_level_outside_the_device_is_refused(level: float) -> None:
    with pytest.raises(ConfigError, match="adapt-at"):
        ContextSettings(adapt_at=level)


@pytest.fixture
def sim() -> Iterator[tuple[str, OllamaEngine]]:
    from harness.sim.server import SimServer

    srv = SimServer(profile="tiny", speed=1000.0)
    srv.start()
    engine = OllamaEngine(srv.url)
    try:
        yield srv.url, engine
    finally:
        engine.close()
        srv.stop()


class NeighbourAfter:
    """Writes the output; after `n` answers another model loads on the same server (the
    way another job on the machine takes memory mid-run)."""

    def __init__(self, writer: OutputWriter, engine: OllamaEngine, n: int) -> None:
        self.writer, self.engine, self.n = writer, engine, n
        self.seen = 0
        self.lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        self.writer.write(record)
        with self.lock:
            self.seen += 1
            if self.seen == self.n:
                self.engine.load(NEIGHBOUR, {"num_ctx": 4096}, keep_alive=-1)

    def write_trim(self, event: Mapping[str, Any]) -> None:
        self.writer.write_trim(event)


def test_memory_nearing_the_budget_on_the_simulator_lowers_the_threshold(
    sim: tuple[str, OllamaEngine], tmp_path: Path
) -> None:
    """qwen2.5:3b on the tiny profile's 5 GiB GPU takes 45% of it; a second model brings
    that to 61%, past the 55% set as near the budget. The conversation had then grown to
    its largest safe size; the threshold becomes 90% of that, and trims follow it."""
    url, engine = sim
    lines = [request_line(i, model=MODEL, user=f"candidate {i} " + "w" * 200) for i in range(40)]
    out = tmp_path / "out.jsonl"
    settings = BatchSettings(
        strategy="conversation",
        context=ContextSettings(
            trim_interval=None, trim_threshold=100_000, keep_messages=8, adapt_at=0.55
        ),
        options={"num_ctx": 4096},
        memory_every_s=0.0,
    )
    stream = io.StringIO()
    probe = SimProbe(url)
    try:
        with OutputWriter(out) as writer:
            batch = BatchEngine(
                engine, settings, memory=probe, progress=Progress(stream, len(lines))
            )
            sink = NeighbourAfter(writer, engine, n=20)
            summary = batch.run(read_requests(lines), sink)
    finally:
        probe.close()
    assert summary.clean
    records = [json.loads(line) for line in out.read_text().splitlines()]
    prompts = [r["response"]["body"]["usage"]["prompt_tokens"] for r in records]
    events = [
        json.loads(line) for line in (tmp_path / "out.jsonl.trims.jsonl").read_text().splitlines()
    ]
    lowered = [e for e in events if e.get("event") == "threshold_lowered"]
    trims = [e for e in events if "event" not in e]
    assert len(lowered) == 1
    [event] = lowered
    # The largest context that ran before the neighbour came: the first 20 requests'.
    assert event["largest_safe_tokens"] == max(prompts[:20])
    assert event["threshold_after"] == int(0.9 * max(prompts[:20]))
    assert event["memory_fraction"] >= 0.55
    assert event["request_index"] == 20
    # From then on the conversation is trimmed under the new threshold, never before.
    assert trims
    assert all(t["reason"] == "threshold" and t["request_index"] >= 20 for t in trims)
    assert max(prompts[21:]) <= max(prompts[:20])
    analysis = analyze(out)
    assert analysis["trims"]["count"] == len(trims)  # the lowering is no trim
    assert (
        f"adaptive limit: trim threshold lowered 100,000 -> {event['threshold_after']:,} at "
        "request 20" in format_analysis(analysis)
    )
    shown = stream.getvalue()
    assert "trim threshold lowered 100,000 -> " in shown
    assert f"threshold {event['threshold_after']:,} (lowered)" in shown


def test_the_host_probe_reads_this_machines_ram() -> None:
    """A CPU-only server on this machine (seed 001's box): its RAM is what nears the budget."""
    import psutil

    from harness.batch.memory import host_probe

    reading = host_probe()()
    assert reading is not None
    assert reading.total_bytes == psutil.virtual_memory().total
    assert reading.fraction is not None
    assert 0 < reading.fraction < 1
