"""`harness synth-model OUT.gguf --layers L ...`: a random-weight model of a chosen shape.

Serve it with llama.cpp's server at several contexts to measure what this machine can hold
for that shape (bytes per token of context, largest context) without downloading weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

# Flag -> (SynthShape field, help). Defaults make a ~90 MB model whose KV cache dominates.
_SHAPE_FLAGS: tuple[tuple[str, str, int, str], ...] = (
    ("--layers", "layers", 4, "transformer blocks"),
    ("--heads", "heads", 8, "attention (query) heads"),
    ("--kv-heads", "kv_heads", 8, "KV heads (GQA); must divide --heads"),
    ("--head-dim", "head_dim", 128, "size of one head; embedding = heads x head-dim"),
    ("--ff", "ff", 2048, "feed-forward width"),
    ("--vocab", "vocab", 512, "vocabulary size (>= 355)"),
    ("--ctx", "ctx", 32768, "trained context length written to the metadata"),
)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value


def register(subparsers: Any) -> None:
    """Add the `synth-model` subcommand to the `harness` command."""
    parser = subparsers.add_parser(
        "synth-model",
        help="write a random-weight llama GGUF of a given shape (needs the gguf package)",
        description=(
            "Write a llama-architecture GGUF with random f16 weights and a built-in byte-level "
            "vocabulary. llama.cpp loads it like a real model of that shape, so memory per "
            "token of context and context limits can be measured without fetching weights. "
            "Its output text is meaningless."
        ),
    )
    parser.add_argument("out", metavar="OUT.gguf", type=Path, help="file to write")
    for flag, dest, default, text in _SHAPE_FLAGS:
        parser.add_argument(
            flag, dest=dest, type=_positive, default=default, help=f"{text} (default {default})"
        )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.devtools.synth_model import SynthShape, write_synth_model

    shape = SynthShape(**{dest: getattr(args, dest) for _, dest, _, _ in _SHAPE_FLAGS})
    try:
        path = write_synth_model(args.out, shape, seed=args.seed)
    except ModuleNotFoundError as exc:
        if exc.name not in ("gguf", "numpy"):
            raise
        sys.stderr.write(
            "harness: error: synth-model needs the gguf package: pip install -e '.[llamacpp]'\n"
        )
        return 2
    mib = path.stat().st_size / 2**20
    sys.stdout.write(
        f"wrote {path} ({mib:.1f} MiB, {shape.parameter_count():,} parameters); "
        f"KV cache {shape.kv_bytes_per_token():,} bytes per token at f16\n"
    )
    return 0
