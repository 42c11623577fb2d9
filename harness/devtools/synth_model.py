"""A llama-architecture GGUF with random weights: a real model of any shape, no download.

What a machine can hold at a given context depends on the model's shape (layers, KV heads,
head size), not on what its weights say. A synthetic model of the same shape loads in
llama.cpp like the real one, so context limits and bytes per token of context can be measured
before fetching gigabytes of weights; its answers are gibberish, its speed is the shape's.

The vocabulary is built here in SentencePiece ("llama") form, the tokenizer llama.cpp
accepts with the least metadata: `<unk>`, `<s>`, `</s>`, the 256 byte tokens `<0x00>`..`<0xFF>`
(byte fallback makes any text tokenizable), `▁` and printable ASCII as single-character
pieces, then filler characters up to `vocab`. With no multi-character pieces there are no
merges, so ASCII text costs exactly one token per character plus BOS and the leading `▁`
(`ascii_token_count`). The chat template is BOS followed by the message contents, so the
prompt the server evaluates is exactly the text the harness sent, tokenized.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:  # gguf and numpy load only when a model is written
    import gguf
    import numpy as np
    import numpy.typing as npt

CONTROL_TOKENS = ("<unk>", "<s>", "</s>")
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
SPACE_PIECE = "\u2581"  # SentencePiece's visible space
FIRST_BYTE_ID = len(CONTROL_TOKENS)
FIRST_TEXT_ID = FIRST_BYTE_ID + 256
MIN_VOCAB = FIRST_TEXT_ID + 1 + 95  # control + bytes + "▁" + printable ASCII
# BOS written by the template, as real ones do; llama-cpp-python then adds no second one.
CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}{{ message['content'] }}{% endfor %}"
FILLER_START = 0x4E00  # CJK ideographs: single characters, so they never form merges


@dataclass(frozen=True)
class SynthShape:
    """The architecture numbers that decide memory and speed."""

    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ff: int
    vocab: int
    ctx: int

    def __post_init__(self) -> None:
        for name in ("layers", "heads", "kv_heads", "head_dim", "ff", "vocab", "ctx"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"model shape {name} must be a positive integer, got {value!r}")
        if self.heads % self.kv_heads:
            raise ConfigError(
                f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads}): "
                "grouped-query attention shares each KV head among a whole group"
            )
        if self.head_dim % 2:
            raise ConfigError(f"head_dim must be even for RoPE, got {self.head_dim}")
        if self.vocab < MIN_VOCAB:
            raise ConfigError(
                f"vocab must be at least {MIN_VOCAB} (3 control, 256 byte, 96 text tokens), "
                f"got {self.vocab}"
            )

    @property
    def embedding(self) -> int:
        return self.heads * self.head_dim

    def kv_bytes_per_token(self, kv_type_bytes: int = 2) -> int:
        """K and V for one token in every layer (f16 cache: 2 bytes per element)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * kv_type_bytes

    def parameter_count(self) -> int:
        attn = self.embedding * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        ffn = 3 * self.embedding * self.ff
        per_layer = attn + ffn + 2 * self.embedding
        return self.layers * per_layer + 2 * self.vocab * self.embedding + self.embedding


def vocabulary(size: int) -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types for a SentencePiece vocabulary of `size` pieces."""
    from gguf import TokenType

    tokens = list(CONTROL_TOKENS)
    types = [int(TokenType.UNKNOWN), int(TokenType.CONTROL), int(TokenType.CONTROL)]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [int(TokenType.BYTE)] * 256
    text = [SPACE_PIECE] + [chr(c) for c in range(0x21, 0x7F)]
    text += [chr(FILLER_START + i) for i in range(size - len(tokens) - len(text))]
    tokens += text[: size - len(tokens)]
    types += [int(TokenType.NORMAL)] * (size - len(types))
    # Scores only rank merges, and single-character pieces never merge: any order will do.
    scores = [-float(i) for i in range(size)]
    return tokens, scores, types


def ascii_token_count(text: str) -> int:
    """Tokens of printable-ASCII `text` (spaces allowed) with BOS, in the synthetic vocabulary."""
    if not all(ch == " " or 0x21 <= ord(ch) < 0x7F for ch in text):
        raise ValueError("ascii_token_count counts printable ASCII and spaces only")
    return 1 + 1 + len(text)  # BOS, the added leading "▁", one piece per character


def write_synth_model(path: str | Path, shape: SynthShape, seed: int = 0) -> Path:
    """Write a random-weight llama GGUF of `shape` to `path` (f16 matrices, f32 norms)."""
    import gguf
    import numpy as np

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(out, "llama")
    try:
        _write_metadata(writer, shape, out.stem)
        for name, array in _tensors(shape, rng):
            writer.add_tensor(name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return out


def _write_metadata(writer: gguf.GGUFWriter, shape: SynthShape, name: str) -> None:
    import gguf

    writer.add_name(name)
    writer.add_file_type(int(gguf.LlamaFileType.MOSTLY_F16))
    writer.add_context_length(shape.ctx)
    writer.add_embedding_length(shape.embedding)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ff)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_key_length(shape.head_dim)
    writer.add_value_length(shape.head_dim)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(shape.vocab)
    tokens, scores, types = vocabulary(shape.vocab)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(UNK_ID)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)


def _tensors(shape: SynthShape, rng: np.random.Generator) -> list[tuple[str, npt.NDArray[Any]]]:
    """Tensor names and arrays, numpy shapes (rows=out, cols=in) as llama.cpp expects them."""
    import numpy as np

    def matrix(rows: int, cols: int, std: float) -> npt.NDArray[np.float16]:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * std).astype(np.float16)

    emb, q_out, kv_out = (
        shape.embedding,
        shape.heads * shape.head_dim,
        shape.kv_heads * shape.head_dim,
    )
    ones = np.ones(emb, dtype=np.float32)
    # Logits of control and byte tokens are pinned at 0 while text tokens' spread far wider,
    # so generation practically never stops early on </s> nor emits half a UTF-8 character.
    output = matrix(shape.vocab, emb, 8.0 / emb**0.5)
    output[:FIRST_TEXT_ID] = 0
    tensors: list[tuple[str, npt.NDArray[Any]]] = [
        ("token_embd.weight", matrix(shape.vocab, emb, 1.0)),
        ("output_norm.weight", ones),
        ("output.weight", output),
    ]
    std = 0.02
    for i in range(shape.layers):
        tensors += [
            (f"blk.{i}.attn_norm.weight", ones),
            (f"blk.{i}.attn_q.weight", matrix(q_out, emb, std)),
            (f"blk.{i}.attn_k.weight", matrix(kv_out, emb, std)),
            (f"blk.{i}.attn_v.weight", matrix(kv_out, emb, std)),
            (f"blk.{i}.attn_output.weight", matrix(emb, q_out, std)),
            (f"blk.{i}.ffn_norm.weight", ones),
            (f"blk.{i}.ffn_gate.weight", matrix(shape.ff, emb, std)),
            (f"blk.{i}.ffn_up.weight", matrix(shape.ff, emb, std)),
            (f"blk.{i}.ffn_down.weight", matrix(emb, shape.ff, std)),
        ]
    return tensors
