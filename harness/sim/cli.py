"""`harness sim` (serve the simulator) and `harness sim truth` (what it was built to give)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from harness.cases.options import budget_fraction, positive_float, positive_int
from harness.errors import ConfigError


def register(subparsers: Any) -> None:
    sim = subparsers.add_parser(
        "sim",
        help="serve the Ollama simulator (SIMULATED results)",
        description="Serve an Ollama-compatible simulator until Ctrl-C, or print what a "
        "profile can do with `harness sim truth`.",
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=11434)
    sim.add_argument("--profile", default="rtx4080-16gb", help="hardware profile name")
    sim.add_argument(
        "--speed",
        type=positive_float,
        default=1.0,
        help="divide every simulated duration by this (default 1)",
    )
    sim.add_argument(
        "--faults", default=None, help="fault spec, e.g. disconnect=0.01,error_line=0.01,seed=7"
    )
    sim.add_argument("--num-parallel", type=int, default=1, help="slots (OLLAMA_NUM_PARALLEL)")
    sim.add_argument("--max-queue", type=int, default=512, help="OLLAMA_MAX_QUEUE")
    sim.set_defaults(func=_serve)
    sub = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    truth = sub.add_parser("truth", help="print limits, memory and speeds as JSON")
    truth.add_argument("--profile", required=True, help="hardware profile name")
    truth.add_argument("--model", required=True)
    truth.add_argument(
        "--contexts",
        default="",
        type=_contexts,
        help="comma-separated context sizes, e.g. 4096,32768",
    )
    truth.add_argument("--gpu-budget", type=budget_fraction, default=0.95)
    truth.add_argument("--ram-budget", type=budget_fraction, default=0.80)
    truth.add_argument("--num-parallel", type=positive_int, default=1)
    truth.add_argument(
        "--aggregate-depth",
        type=positive_int,
        default=None,
        help="tokens of context each slot decodes at for aggregate_decode_tok_s (default "
        "1024); give the depth your requests decode at: prompt tokens plus half the answer",
    )
    truth.set_defaults(func=_truth)


def _contexts(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--contexts {text!r}: expected comma-separated integers like 4096,32768"
        ) from None


def _serve(args: argparse.Namespace) -> int:
    from harness.sim.server import SimServer

    if args.speed <= 0:
        raise ConfigError(f"--speed {args.speed!r} must be > 0")
    server = SimServer(
        profile=args.profile,
        speed=args.speed,
        faults=args.faults,
        host=args.host,
        port=args.port,
        num_parallel=args.num_parallel,
        max_queue=args.max_queue,
    )
    url = server.start()
    sys.stdout.write(f"SIMULATED Ollama ({args.profile}, speed {args.speed}) at {url}\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _truth(args: argparse.Namespace) -> int:
    # Imported here, not at the top: every `harness` command loads this module to register it.
    from harness.sim.truth import AGGREGATE_DEPTH, truth

    result = truth(
        args.profile,
        args.model,
        args.contexts,
        gpu_budget=args.gpu_budget,
        ram_budget=args.ram_budget,
        num_parallel=args.num_parallel,
        aggregate_depth=args.aggregate_depth or AGGREGATE_DEPTH,
    )
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0
