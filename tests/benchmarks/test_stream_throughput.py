"""How many chunks per second the harness's Ollama client parses from one fast stream.

Side by side in one run, on the same bytes: our OllamaEngine, the official `ollama` client
(0.6.x) and a bare httpx `iter_lines` + `json.loads` loop (goals: at least the official
client's rate, and at least 0.95 of the bare loop's: `harness_vs_bare`). The simulator cannot
write chunks faster than a client parses them (its writer shares Python with its runner), so
a tiny replay server sends a pre-built NDJSON response, one HTTP chunk per line as Ollama
does, as fast as the socket allows; a raw socket reader measures that ceiling, to show the
server is not the bottleneck. Rates are reported in extra_info, never asserted.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import ollama
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.engines.ollama import OllamaEngine

pytestmark = pytest.mark.benchmark_suite

MODEL = "gemma3:4b"
MESSAGES = [{"role": "user", "content": "go"}]


def ndjson_response(lines: int) -> bytes:
    """A whole chunked HTTP response: `lines` content chunks and a done chunk."""
    chunk = {"model": MODEL, "created_at": "2025-10-01T12:00:00.123456789Z",
             "message": {"role": "assistant", "content": " word"}, "done": False}  # fmt: skip
    final = {"model": MODEL, "created_at": "2025-10-01T12:00:01.000000000Z",
             "message": {"role": "assistant", "content": ""}, "done": True,
             "done_reason": "length", "total_duration": 1_000_000, "load_duration": 1,
             "prompt_eval_count": 2, "prompt_eval_duration": 1, "eval_count": lines,
             "eval_duration": 1_000_000}  # fmt: skip
    line = json.dumps(chunk, separators=(",", ":")).encode() + b"\n"
    body = b"%X\r\n%b\r\n" % (len(line), line) * lines
    last = json.dumps(final, separators=(",", ":")).encode() + b"\n"
    body += b"%X\r\n%b\r\n0\r\n\r\n" % (len(last), last)
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
    return head + body


class ReplayServer:
    """Answers every request on a keep-alive connection with the same pre-built bytes."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> ReplayServer:
        self._threads.append(threading.Thread(target=self._accept, daemon=True))
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)
        for conn in self._conns:
            conn.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                head, _, pending = pending.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(pending) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                pending = pending[length:]
                conn.sendall(self.response)  # blocks in C, without the GIL, while clients read
        except OSError:
            return


def raw_socket(url: str) -> int:
    """Read the whole response without parsing: the server's delivery ceiling."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        tail = b""
        while not tail.endswith(b"0\r\n\r\n"):
            data = sock.recv(1 << 20)
            if not data:
                break
            tail = (tail + data)[-16:]
    return 0


def bare_loop(client: httpx.Client) -> int:
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}
    n = 0
    with client.stream("POST", "/api/chat", json=body) as resp:
        for line in resp.iter_lines():
            if json.loads(line)["message"]["content"]:
                n += 1
    return n


def official(client: ollama.Client) -> int:
    return sum(1 for part in client.chat(model=MODEL, messages=MESSAGES, stream=True)
               if part.message.content)  # fmt: skip


def engine(e: OllamaEngine) -> int:
    return len(e.chat(MODEL, MESSAGES).chunk_ns)


def rate(run: Callable[[], int], lines: int) -> tuple[float, float]:
    """Chunks per wall second, and per CPU second of the reading thread.

    The thread's CPU time leaves out the replay server's threads and, mostly, the other work
    on a busy box, which inflates wall time unevenly between rounds: the CPU rate is the
    figure to compare the parsers by there.
    """
    start, cpu = time.perf_counter(), time.thread_time()
    run()
    return lines / (time.perf_counter() - start), lines / max(time.thread_time() - cpu, 1e-9)


@pytest.fixture
def replay(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """A replay server and the number of content lines in each of its answers."""
    disabled = request.config.getoption("benchmark_disable") and not request.config.getoption(
        "benchmark_enable"
    )
    lines = 2_000 if disabled else 50_000
    with ReplayServer(ndjson_response(lines)) as server:
        yield server.url, lines


def test_stream_parse_rate(benchmark: BenchmarkFixture, replay: tuple[str, int]) -> None:
    url, lines = replay
    rounds = 1 if benchmark.disabled else 5
    bare = httpx.Client(base_url=url, trust_env=False)
    off = ollama.Client(host=url)
    ours = OllamaEngine(url)
    runners: dict[str, Callable[[], int]] = {
        "server_ceiling": lambda: raw_socket(url),
        "bare_httpx": lambda: bare_loop(bare),
        "official_ollama": lambda: official(off),
        "harness": lambda: engine(ours),
    }
    rates: dict[str, list[float]] = {name: [] for name in runners}
    cpu_rates: dict[str, list[float]] = {name: [] for name in runners}
    try:
        assert engine(ours) == bare_loop(bare) == official(off) == lines  # same stream for all

        def interleaved() -> None:
            # Round-robin, so load from other work on the box hits every client alike.
            for _ in range(rounds):
                for name, run in runners.items():
                    wall, cpu = rate(run, lines)
                    rates[name].append(wall)
                    cpu_rates[name].append(cpu)

        benchmark.pedantic(interleaved, rounds=1)
    finally:
        ours.close()
        off.close()  # type: ignore[no-untyped-call]  # ollama's Client.close has no annotations
        bare.close()
    median = {name: statistics.median(r) for name, r in rates.items()}
    benchmark.extra_info.update({f"{name}_chunks_per_s": round(v) for name, v in median.items()})
    benchmark.extra_info.update({
        "lines": lines, "rounds": rounds,
        "harness_vs_official": round(median["harness"] / median["official_ollama"], 2),
        "harness_vs_bare": round(median["harness"] / median["bare_httpx"], 3),
        "ceiling_vs_bare": round(median["server_ceiling"] / median["bare_httpx"], 1),
    })  # fmt: skip
    cpu = {name: statistics.median(r) for name, r in cpu_rates.items() if name != "server_ceiling"}
    benchmark.extra_info.update({f"{name}_chunks_per_cpu_s": round(v) for name, v in cpu.items()})
    benchmark.extra_info["harness_vs_bare_cpu"] = round(cpu["harness"] / cpu["bare_httpx"], 3)
