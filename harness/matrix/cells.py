"""YAML model x context matrices, validated strictly, turned into frozen dataclasses.

A matrix file (schema `version: 1`):

    version: 1
    name: gpu                       # default: the file's stem
    description: gemma3:12b on a 16 GB RTX 4080
    marks: [gpu]                    # pytest marks on every cell
    sim_profile: rtx4080-16gb       # the simulator's hardware for this matrix (--engine sim)
    defaults: {repeats: 3, num_predict: 64, fill: 0.9, options: {}, thresholds: {}}
                                    # or prompt_tokens: 2300 (a fixed prompt instead of a fill)
    models:
      - name: gemma3:12b
        contexts: [4k, 8k, 32768]   # positive integers; "32k" means 32 x 1024
        marks: [large]              # optional, added to the matrix's marks
        options: {num_batch: 512}   # Ollama options for every context of this model
        thresholds: {ttft_s: 8, decode_tok_s: 6, stability: 0.8}
        use_case: Basic coding      # free text shown in reports
        overrides:                  # per context: any of repeats, num_predict, fill,
          128k: {thresholds: {ttft_s: 12}}   # prompt_tokens, options, thresholds

Suites add top-level sections (limits, throughput, ...) by declaring them (registry.py beside);
every key not known is an error naming its line, so a typo never silently does nothing. For the same
reason a model, context or override listed twice is an error naming both lines (so is a key
given twice, and an alias: see yamlsource.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.errors import MatrixError
from harness.matrix.registry import SectionParser, SuiteCase, current
from harness.matrix.thresholds import THRESHOLD_KINDS, Threshold
from harness.matrix.yamlsource import KeyPath, YamlSource, finite_number, load_yaml

SCHEMA_VERSION = 1
_CONTEXT_RE = re.compile(r"^\s*(\d+)\s*([kK]?)\s*$")
_MARK_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Options Ollama reads at load time; changing one reloads the model (OLLAMA.md).
LOAD_OPTIONS = frozenset({"num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread"})

Options = Mapping[str, Any]


@dataclass(frozen=True)
class CellSettings:
    """What one cell runs with: defaults, overridden by the model, then by the context."""

    repeats: int = 3
    num_predict: int = 64
    fill: float = 0.9
    # A fixed prompt length instead of a fill: the workload of a context-locked test (the
    # window allocated at num_ctx, a request of a set size), which `fill` cannot express.
    prompt_tokens: int | None = None
    options: Options = field(default_factory=lambda: MappingProxyType({}))
    thresholds: tuple[Threshold, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    contexts: tuple[int, ...]
    marks: tuple[str, ...]
    settings: CellSettings
    overrides: Mapping[int, CellSettings]
    use_case: str | None = None


@dataclass(frozen=True)
class Cell(SuiteCase):
    """One model x context case of one matrix: what a parametrized test receives."""

    model: str
    num_ctx: int
    settings: CellSettings
    marks: tuple[str, ...]
    use_case: str | None = None

    @property
    def options(self) -> dict[str, Any]:
        return {**self.settings.options, "num_ctx": self.num_ctx}

    @property
    def id(self) -> str:
        return f"{self.model}-{format_context(self.num_ctx)}"


@dataclass(frozen=True)
class Matrix:
    name: str
    path: Path
    description: str
    marks: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    sim_profile: str | None = None
    sections: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def cells(self) -> list[Cell]:
        out: list[Cell] = []
        for model in self.models:
            for ctx in model.contexts:
                out.append(
                    Cell(
                        matrix=self.name,
                        model=model.name,
                        num_ctx=ctx,
                        settings=model.overrides.get(ctx, model.settings),
                        marks=tuple(dict.fromkeys((*self.marks, *model.marks))),
                        use_case=model.use_case,
                    )
                )
        return out


def format_context(tokens: int) -> str:
    """32768 -> '32k'; numbers that are not whole KiB stay as they are."""
    return f"{tokens // 1024}k" if tokens % 1024 == 0 else str(tokens)


_TOP_KEYS = ("version", "name", "description", "marks", "sim_profile", "defaults", "models")
_SETTING_KEYS = ("repeats", "num_predict", "fill", "prompt_tokens", "options", "thresholds")
MIN_PROMPT_TOKENS = 16  # measure.prompts.MIN_PROMPT_TOKENS (not imported: it loads the engines)
_MODEL_KEYS = ("name", "contexts", "marks", "use_case", "overrides", *_SETTING_KEYS)


def load_matrix(path: Path, sections: Mapping[str, SectionParser] | None = None) -> Matrix:
    """Read and validate one matrix file; every problem is a MatrixError with file:line.

    `sections`: the optional top-level keys and their parsers; by default those the
    registered suites declare.
    """
    if sections is None:
        sections = current().parsers()
    src = load_yaml(path)
    raw = src.data
    if not isinstance(raw, dict):
        raise src.error((), "a matrix must be a mapping", "start the file with `version: 1`")
    _check_keys(src, (), raw, (*_TOP_KEYS, *sections))
    version = raw.get("version")
    if version != SCHEMA_VERSION:
        raise src.error(
            ("version",),
            f"version is {version!r}, this harness reads version {SCHEMA_VERSION}",
            f"set `version: {SCHEMA_VERSION}`",
        )
    defaults = _settings(src, ("defaults",), raw.get("defaults") or {}, CellSettings())
    models_raw = raw.get("models")
    if not isinstance(models_raw, list) or not models_raw:
        raise src.error(("models",), "models must be a non-empty list", "list at least one model")
    models = tuple(_model(src, ("models", i), m, defaults) for i, m in enumerate(models_raw))
    src.once(
        [(("models", i, "name"), m.name) for i, m in enumerate(models)],
        "model",
        "list each model once, with all its contexts (use overrides for per-context settings)",
    )
    parsed = {key: parser(src, (key,), raw[key]) for key, parser in sections.items() if key in raw}
    return Matrix(
        name=_string(src, ("name",), raw.get("name", path.stem)),
        path=path,
        description=(
            _string(src, ("description",), raw["description"]) if "description" in raw else ""
        ),
        marks=_marks(src, ("marks",), raw.get("marks", [])),
        models=models,
        sim_profile=(
            _string(src, ("sim_profile",), raw["sim_profile"]) if "sim_profile" in raw else None
        ),
        sections=MappingProxyType(parsed),
    )


def _model(src: YamlSource, at: KeyPath, raw: Any, defaults: CellSettings) -> ModelSpec:
    if not isinstance(raw, dict):
        raise src.error(at, "a model entry must be a mapping", "write `- name: MODEL`")
    _check_keys(src, at, raw, _MODEL_KEYS)
    if "name" not in raw:
        raise src.error(at, "the model has no name", "add `name: gemma3:12b` (the Ollama tag)")
    name = _string(src, (*at, "name"), raw["name"])
    contexts_raw = raw.get("contexts")
    if not isinstance(contexts_raw, list) or not contexts_raw:
        raise src.error((*at, "contexts"), "contexts must be a non-empty list", "e.g. [4k, 32k]")
    contexts = tuple(_context(src, (*at, "contexts", i), c) for i, c in enumerate(contexts_raw))
    src.once(
        [((*at, "contexts", i), format_context(c)) for i, c in enumerate(contexts)],
        "context",
        "list each context once (4k and 4096 are the same context)",
    )
    settings = _settings(src, at, raw, defaults)
    overrides = _overrides(src, (*at, "overrides"), raw.get("overrides") or {}, contexts, settings)
    for i, ctx in enumerate(contexts):
        chosen = overrides.get(ctx, settings)
        if chosen.prompt_tokens is not None and chosen.prompt_tokens + chosen.num_predict > ctx:
            raise src.error(
                (*at, "contexts", i),
                f"prompt_tokens {chosen.prompt_tokens:,} + num_predict {chosen.num_predict:,} "
                f"do not fit context {format_context(ctx)} ({ctx:,} tokens)",
                "lower prompt_tokens for this context (overrides), or use fill",
            )
    use_case = raw.get("use_case")
    return ModelSpec(
        name=name,
        contexts=contexts,
        marks=_marks(src, (*at, "marks"), raw.get("marks", [])),
        settings=settings,
        overrides=MappingProxyType(overrides),
        use_case=None if use_case is None else _string(src, (*at, "use_case"), use_case),
    )


def _overrides(
    src: YamlSource, at: KeyPath, raw: Any, contexts: tuple[int, ...], base: CellSettings
) -> dict[int, CellSettings]:
    if not isinstance(raw, dict):
        raise src.error(at, "overrides must be a mapping", "e.g. {32k: {repeats: 5}}")
    keyed = [((*at, key), _context(src, (*at, key), key), value) for key, value in raw.items()]
    src.once(
        [(where, format_context(ctx)) for where, ctx, _ in keyed],
        "override for context",
        "keep one override per context (4k and 4096 are the same context)",
    )
    overrides: dict[int, CellSettings] = {}
    listed = set(contexts)  # a set keeps thousands of overrides linear
    for where, ctx, value in keyed:
        if ctx not in listed:
            raise src.error(where, f"override for context {where[-1]!r} not in contexts", "add it")
        if not isinstance(value, dict):
            raise src.error(where, "an override must be a mapping", "e.g. {thresholds: {...}}")
        _check_keys(src, where, value, _SETTING_KEYS)
        overrides[ctx] = _settings(src, where, value, base)
    return overrides


def _settings(src: YamlSource, at: KeyPath, raw: Any, base: CellSettings) -> CellSettings:
    if not isinstance(raw, dict):
        raise src.error(at, "expected a mapping", "write keys such as `repeats: 3`")
    if at == ("defaults",):
        _check_keys(src, at, raw, _SETTING_KEYS)
    repeats = _int(src, (*at, "repeats"), raw.get("repeats", base.repeats), minimum=1)
    num_predict = _int(src, (*at, "num_predict"), raw.get("num_predict", base.num_predict), 1)
    fill = raw.get("fill", base.fill)
    if isinstance(fill, bool) or not isinstance(fill, int | float) or not 0 < fill <= 1:
        raise src.error((*at, "fill"), f"fill is {fill!r}", "use a fraction in (0, 1], e.g. 0.9")
    prompt_tokens = _prompt_tokens(src, at, raw, base)
    options = dict(base.options)
    extra = raw.get("options", {})
    if not isinstance(extra, dict):
        raise src.error((*at, "options"), "options must be a mapping", "e.g. {num_batch: 512}")
    if "num_ctx" in extra:
        raise src.error(
            (*at, "options", "num_ctx"), "num_ctx comes from contexts", "list it under contexts"
        )
    options.update(extra)
    thresholds = {t.kind.name: t for t in base.thresholds}
    thresholds.update(_thresholds(src, (*at, "thresholds"), raw.get("thresholds", {})))
    return CellSettings(
        repeats=repeats,
        num_predict=num_predict,
        fill=float(fill),
        prompt_tokens=prompt_tokens,
        options=MappingProxyType(options),
        thresholds=tuple(thresholds.values()),
    )


def _prompt_tokens(
    src: YamlSource, at: KeyPath, raw: dict[str, Any], base: CellSettings
) -> int | None:
    """The level's prompt length; a `fill` given here replaces an inherited prompt_tokens."""
    if "prompt_tokens" in raw and "fill" in raw:
        raise src.error(
            (*at, "prompt_tokens"),
            "fill and prompt_tokens are both given",
            "keep one: fill (a share of the context) or prompt_tokens (a fixed length)",
        )
    if "prompt_tokens" in raw:
        return _int(src, (*at, "prompt_tokens"), raw["prompt_tokens"], MIN_PROMPT_TOKENS)
    return None if "fill" in raw else base.prompt_tokens


def _thresholds(src: YamlSource, at: KeyPath, raw: Any) -> dict[str, Threshold]:
    if not isinstance(raw, dict):
        raise src.error(at, "thresholds must be a mapping", "e.g. {ttft_s: 8, decode_tok_s: 6}")
    out: dict[str, Threshold] = {}
    for key, value in raw.items():
        kind = THRESHOLD_KINDS.get(key)
        if kind is None:
            known = ", ".join(sorted(THRESHOLD_KINDS))
            raise src.error((*at, key), f"unknown threshold {key!r}", f"use one of: {known}")
        limit = finite_number(value)
        if limit is None or not kind.allows(limit):
            problem = "not a finite number" if limit is None else f"outside {kind.range_text()}"
            raise src.error(
                (*at, key),
                f"threshold {key!r} is {value!r}, {problem}",
                f"give {key} a number {kind.range_text()} ({kind.help}), "
                f"e.g. {key}: {kind.example:g}",
            )
        out[key] = Threshold(kind=kind, limit=limit)
    return out


def _context(src: YamlSource, at: KeyPath, raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    match = _CONTEXT_RE.match(raw) if isinstance(raw, str) else None
    if match and int(match.group(1)) > 0:
        return int(match.group(1)) * (1024 if match.group(2) else 1)
    raise src.error(
        at, f"context {raw!r} is not a positive integer", "use a token count like 32768 or 32k"
    )


def _int(src: YamlSource, at: KeyPath, raw: Any, minimum: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        raise src.error(at, f"{at[-1]} is {raw!r}", f"use an integer >= {minimum}")
    return raw


def _string(src: YamlSource, at: KeyPath, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise src.error(at, f"{at[-1]} is {raw!r}", "use a non-empty string")
    return raw


def _marks(src: YamlSource, at: KeyPath, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(m, str) and _MARK_RE.match(m) for m in raw):
        raise src.error(at, f"marks is {raw!r}", "use a list of identifiers, e.g. [gpu]")
    return tuple(raw)


def _check_keys(src: YamlSource, at: KeyPath, raw: Mapping[str, Any], known: Iterable[str]) -> None:
    allowed = tuple(known)
    for key in raw:
        if key not in allowed:
            raise src.error((*at, key), f"unknown key {key!r}", f"use one of: {', '.join(allowed)}")


def resolve_matrix_paths(specs: Iterable[str], matrices_dir: Path) -> list[Path]:
    """`--matrix` values (names or paths) to files; no values means every file in the dir."""
    specs = list(specs)
    if not specs:
        return sorted(matrices_dir.glob("*.yaml")) if matrices_dir.is_dir() else []
    return [_resolve(spec, matrices_dir) for spec in specs]


def _resolve(spec: str, matrices_dir: Path) -> Path:
    candidate = Path(spec)
    named = matrices_dir / f"{spec}.yaml"
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        path = candidate if candidate.is_absolute() else Path.cwd() / candidate
    elif candidate.is_dir() and not named.is_file():
        path = candidate  # a name in matrices/ wins over a directory of that name
    else:
        path = named
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.y*ml"))
        hint = f"e.g. {path / inside[0]}" if inside else f"no .yaml files are in {path}"
        raise MatrixError(
            f"--matrix {spec!r}: {path} is a directory, not a matrix file. "
            f"Fix: give --matrix once per .yaml file ({hint})"
        )
    if not path.exists():
        known = sorted(p.stem for p in matrices_dir.glob("*.yaml"))
        choices = ", ".join(known) or f"(no .yaml files in {matrices_dir})"
        raise MatrixError(
            f"--matrix {spec!r}: no such matrix file ({path}). "
            f"Fix: give a path to a .yaml file, or one of: {choices}"
        )
    return path  # a file that cannot be read is load_yaml's message, with the reason


def load_matrices(
    paths: Iterable[Path], sections: Mapping[str, SectionParser] | None = None
) -> list[Matrix]:
    matrices = [load_matrix(p, sections) for p in paths]
    seen: dict[str, Path] = {}
    for m in matrices:
        if m.name in seen:
            raise MatrixError(f"{m.path}: matrix name {m.name!r} also used by {seen[m.name]}")
        seen[m.name] = m.path
    return matrices
