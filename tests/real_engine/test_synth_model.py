"""The synthetic GGUF: shape arithmetic always; the file itself when gguf is installed."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.devtools import synth_cli
from harness.devtools.synth_model import MIN_VOCAB, SynthShape, ascii_token_count, write_synth_model
from harness.errors import ConfigError

GGUF_MISSING = "gguf is not installed: pip install -e '.[llamacpp]'"
TINY = SynthShape(layers=2, heads=4, kv_heads=2, head_dim=16, ff=96, vocab=400, ctx=1024)


def test_kv_bytes_per_token_is_k_and_v_in_every_layer() -> None:
    assert TINY.kv_bytes_per_token() == 2 * 2 * 2 * 16 * 2
    assert TINY.kv_bytes_per_token(kv_type_bytes=1) == 2 * 2 * 2 * 16


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kv_heads": 3}, "multiple of kv_heads"),
        ({"layers": 0}, "layers must be a positive integer"),
        ({"head_dim": 15}, "head_dim must be even"),
        ({"vocab": MIN_VOCAB - 1}, f"vocab must be at least {MIN_VOCAB}"),
    ],
)
def test_impossible_shapes_are_config_errors(change: dict[str, int], message: str) -> None:
    fields = {**TINY.__dict__, **change}
    with pytest.raises(ConfigError, match=message):
        SynthShape(**fields)


def test_ascii_token_count_adds_bos_and_the_leading_space() -> None:
    assert ascii_token_count("hello world") == 13
    with pytest.raises(ValueError, match="printable ASCII"):
        ascii_token_count("caf\u00e9")


def test_written_file_has_llama_metadata_vocab_and_tensors(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf", reason=GGUF_MISSING)
    path = write_synth_model(tmp_path / "tiny.gguf", TINY, seed=1)
    reader = gguf.GGUFReader(path)

    def scalar(key: str) -> object:
        return reader.get_field(key).contents()

    assert scalar("general.architecture") == "llama"
    assert scalar("llama.block_count") == 2
    assert scalar("llama.attention.head_count_kv") == 2
    assert scalar("llama.embedding_length") == 64
    assert scalar("tokenizer.ggml.model") == "llama"
    tokens = scalar("tokenizer.ggml.tokens")
    assert isinstance(tokens, list)
    assert len(tokens) == TINY.vocab
    assert tokens[:3] == ["<unk>", "<s>", "</s>"]
    assert tokens[3 + 0x41] == "<0x41>"
    shapes = {t.name: tuple(int(n) for n in t.shape) for t in reader.tensors}
    assert len(shapes) == 3 + 9 * TINY.layers
    # GGUF lists dimensions innermost first: (in, out)
    assert shapes["blk.0.attn_k.weight"] == (64, 2 * 16)
    assert shapes["token_embd.weight"] == (64, 400)
    params = sum(int(t.n_elements) for t in reader.tensors if "norm" not in t.name)
    norms = sum(int(t.n_elements) for t in reader.tensors if "norm" in t.name)
    assert params + norms == TINY.parameter_count()


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    pytest.importorskip("gguf", reason=GGUF_MISSING)
    # Same file name in each folder: the name is part of the metadata.
    a = write_synth_model(tmp_path / "a" / "m.gguf", TINY, seed=3).read_bytes()
    b = write_synth_model(tmp_path / "b" / "m.gguf", TINY, seed=3).read_bytes()
    c = write_synth_model(tmp_path / "c" / "m.gguf", TINY, seed=4).read_bytes()
    assert a == b
    assert a != c


def test_synth_model_command_writes_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("gguf", reason=GGUF_MISSING)
    parser = argparse.ArgumentParser(prog="harness")
    synth_cli.register(parser.add_subparsers())
    out = tmp_path / "cli.gguf"
    args = parser.parse_args(
        ["synth-model", str(out), "--layers", "1", "--heads", "2", "--kv-heads", "1",
         "--head-dim", "16", "--ff", "32", "--vocab", "360", "--ctx", "512", "--seed", "7"]
    )  # fmt: skip
    assert args.func(args) == 0
    assert out.stat().st_size > 0
    assert "KV cache 64 bytes per token" in capsys.readouterr().out


def test_synth_model_command_rejects_a_bad_number() -> None:
    parser = argparse.ArgumentParser(prog="harness")
    synth_cli.register(parser.add_subparsers())
    with pytest.raises(SystemExit):
        parser.parse_args(["synth-model", "x.gguf", "--layers", "0"])
