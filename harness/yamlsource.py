"""YAML with line numbers: `safe_load` for values, the composed node tree for where they came from.

Error messages must name the line of the offending key, which `yaml.safe_load` forgets;
composing the same text once more keeps `start_mark` for every node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import MatrixError

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlSource:
    """A parsed YAML document and the 1-based line of every key path in it."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, key_path: KeyPath) -> int | None:
        """The line of `key_path`, or of its closest ancestor that has one."""
        probe = key_path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get(())

    def where(self, key_path: KeyPath) -> str:
        line = self.line(key_path)
        shown = dotted(key_path) or "(top level)"
        return f"{self.path}:{line}: {shown}" if line else f"{self.path}: {shown}"

    def error(self, key_path: KeyPath, problem: str, fix: str) -> MatrixError:
        return MatrixError(f"{self.where(key_path)}: {problem}. Fix: {fix}")


def dotted(key_path: KeyPath) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(path: Path) -> YamlSource:
    """Read `path`; a syntax error becomes a MatrixError with its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatrixError(f"{path}: cannot read the matrix ({exc.strerror})") from exc
    try:
        data, node = _parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise MatrixError(
            f"{at}: not valid YAML ({exc.problem}). Fix the syntax at that position."
        ) from exc
    except yaml.YAMLError as exc:
        raise MatrixError(f"{path}: not valid YAML ({exc})") from exc
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _index(node, (), lines)
    return YamlSource(path=path, data=data, lines=lines)


# libyaml's parser when PyYAML was built with it, once: the pure-Python one, run twice
# (safe_load, then compose for the lines), took 0.8 s of CPU for a 10,000-cell matrix; 0.05 s.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> tuple[Any, yaml.Node | None]:
    """The document's values and its node tree, from one parse (same as `yaml.safe_load`)."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    finally:
        loader.dispose()


def _index(node: yaml.Node, key_path: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(key_path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key: str | int = key_node.value
            if key_node.tag.endswith(":int"):
                key = int(key_node.value)
            lines[(*key_path, key)] = key_node.start_mark.line + 1
            _index(value_node, (*key_path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*key_path, index), lines)
