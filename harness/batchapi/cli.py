"""`harness serve-batch`: an OpenAI-compatible batch server over the batch engine.

    harness serve-batch --port 8090 --data-dir batch-data --engine sim --sim-speed 1000
    harness serve-batch --port 8090 --server http://gpu-box:11434 --concurrency 4

Job state and files live in --data-dir; started again on the same directory (after a crash,
a kill -9 or an upgrade), the server resumes every unfinished batch where it stopped. It
listens on 127.0.0.1 only unless --host says otherwise; --api-key (or $HARNESS_BATCH_API_KEY)
makes it require `Authorization: Bearer <key>`.
Also runnable as `python -m harness.batchapi.cli ...` (what the tests kill and restart).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from harness.batch.executor import BatchSettings, RetryPolicy
from harness.batch.strategies import STRATEGIES
from harness.batchapi.client import API_KEY_ENV
from harness.cases.options import positive_float, positive_int
from harness.engines import ENGINE_KINDS, Engine
from harness.engines.pool import SimSettings, open_engine
from harness.errors import HarnessError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve-batch",
        help="serve an OpenAI-compatible batch API (/v1/files, /v1/batches) over a model server",
        description="Serve OpenAI's batch API until Ctrl-C; batches run through the harness's "
        "batch engine and resume after a restart on the same --data-dir. The API's own page "
        "is at /docs (its schema at /openapi.json).",
    )
    add_arguments(p)
    p.set_defaults(func=serve)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only); another address "
        "exposes the API, so set --api-key with it",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV) or None,
        metavar="KEY",
        help="require `Authorization: Bearer KEY` on every /v1 request (default: "
        f"${API_KEY_ENV}; unset: no key). The variable keeps the key out of `ps`",
    )
    p.add_argument("--port", type=int, default=8090, help="0 picks a free port (default 8090)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("batch-data"),
        metavar="DIR",
        help="SQLite job state, uploads and outputs (default ./batch-data)",
    )
    p.add_argument(
        "--server", metavar="URL", help="model server (default: $OLLAMA_HOST as Ollama parses it)"
    )
    p.add_argument("--engine", choices=ENGINE_KINDS, default="ollama")
    p.add_argument("--sim-profile", default="tiny", metavar="P")
    p.add_argument("--sim-speed", type=positive_float, default=1.0, metavar="X")
    p.add_argument("--sim-faults", metavar="SPEC", help="e.g. disconnect=0.05,seed=3")
    p.add_argument("--sim-parallel", type=positive_int, default=4, metavar="N")
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        metavar="N",
        help="requests in flight per batch (default 4)",
    )
    p.add_argument("--strategy", choices=STRATEGIES, default="independent")
    p.add_argument(
        "--max-active",
        type=positive_int,
        default=4,
        metavar="N",
        help="batches running at once; the rest wait in `validating` (default 4)",
    )
    p.add_argument("--num-ctx", type=positive_int, metavar="N", help="Ollama num_ctx for all")
    # Retries span a model server restart: 0.5 + 1 + 2 + 4 + 8 x 3 s is about 30 s.
    p.add_argument(
        "--max-attempts",
        type=positive_int,
        default=8,
        metavar="N",
        help="tries per request on busy/disconnect/timeout (default 8)",
    )
    p.add_argument("--retry-delay", type=positive_float, default=0.5, metavar="SECONDS",
                   help="first backoff, doubled each retry up to 8 s (default 0.5)")  # fmt: skip


def settings_from(args: argparse.Namespace) -> BatchSettings:
    return BatchSettings(
        strategy=args.strategy,
        concurrency=args.concurrency,
        retry=RetryPolicy(max_attempts=args.max_attempts, base_delay_s=args.retry_delay),
        options={"num_ctx": args.num_ctx} if args.num_ctx else {},
    )


@contextmanager
def model_server(args: argparse.Namespace) -> Iterator[Engine]:
    """The engine of --server, or of a simulator started here with --engine sim."""
    sim = SimSettings(args.sim_profile, args.sim_speed, args.sim_faults, (), args.sim_parallel)
    with open_engine(args.engine, args.server, sim) as engine:
        yield engine


def serve(args: argparse.Namespace) -> int:
    from harness.batchapi.server import BatchApiServer

    done = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        done.set()

    warning = exposure_warning(args.host, args.api_key)
    if warning:
        sys.stderr.write(f"serve-batch: warning: {warning}\n")
    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        with model_server(args) as engine:
            server = BatchApiServer(engine, args.data_dir, settings_from(args), host=args.host,
                                    port=args.port, max_active=args.max_active,
                                    api_key=args.api_key)  # fmt: skip
            with server:
                keyed = "; API key required" if args.api_key else ""
                sys.stdout.write(f"batch API at {server.url} (data in {args.data_dir}{keyed})\n")
                sys.stdout.flush()
                try:
                    while not done.wait(0.5):
                        pass
                except KeyboardInterrupt:
                    pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What to tell someone who serves beyond this machine without a key (else None)."""
    if api_key is not None or _loopback(host):
        return None
    return (f"listening on {host} without an API key: anyone who reaches this port can run "
            f"batches; set --api-key or ${API_KEY_ENV}")  # fmt: skip


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.batchapi.cli")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except HarnessError as exc:
        sys.stderr.write(f"serve-batch: error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
