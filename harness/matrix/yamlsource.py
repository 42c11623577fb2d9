"""YAML with line numbers: one composed node tree gives both the values and where they came from.

Error messages must name the line of the offending key, which `yaml.safe_load` forgets, so the
text is composed once, the node tree indexed (key path -> line), then constructed.

A matrix is hostile input as far as this module knows, so reading it is bounded by the size
of the text:
- aliases are refused: PyYAML shares an aliased node instead of copying it, so nine nested
  aliases of nine (a "billion laughs") parse in milliseconds, but anything that walks the
  values (this index, the validators, results.json) visits a billion of them. A matrix has
  `defaults:` for shared settings and needs no aliases.
- a key given twice in one mapping is an error naming both lines; PyYAML keeps the last one
  silently, so the first is a setting that quietly does nothing.
- nesting is limited to `MAX_DEPTH` levels, far beyond any matrix, so a file of ten thousand
  `[` ends with a message instead of a RecursionError from the recursive composer.
"""

from __future__ import annotations

import errno
import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import MatrixError

KeyPath = tuple[str | int, ...]
MAX_DEPTH = 64
_MERGE_TAG = "tag:yaml.org,2002:merge"


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

    def once(self, entries: Iterable[tuple[KeyPath, Hashable]], what: str, fix: str) -> None:
        """Each value at most once; a repeat is an error naming the lines of both."""
        first: dict[Hashable, KeyPath] = {}
        for at, value in entries:
            if value in first:
                lines = (self.line(first[value]), self.line(at))
                where = f"lines {lines[0]} and {lines[1]}"
                if lines[0] == lines[1]:
                    where = f"both on line {lines[0]}"
                raise self.error(at, f"{what} {value!r} is listed twice ({where})", fix)
            first[value] = at


def dotted(key_path: KeyPath) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def finite_number(raw: Any) -> float | None:
    """`raw` as a float when it is a real, finite number (not a bool), else None.

    YAML reads `.nan`, `.inf` and `1e999` as floats and `1` followed by 400 zeros as an int
    that `float()` cannot hold; none of them is a usable limit, duration or rate.
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        value = float(raw)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


class _Refused(Exception):
    """Raised inside the loader; `load_yaml` turns it into a MatrixError with the path."""

    def __init__(
        self, node_or_event: yaml.Node | yaml.Event, problem: str, fix: str, column: bool = True
    ) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix
        mark = node_or_event.start_mark
        self.line = mark.line + 1 if mark else 0
        # A key path in the problem says where on the line already, as in YamlSource.error.
        self.column = mark.column + 1 if mark and column else 0

    def at(self, path: Path) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        return f"{where}:{self.column}" if self.column else where


class _MatrixLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and nesting beyond MAX_DEPTH while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                event,
                f"YAML alias *{event.anchor} refused: a matrix may not reuse a node by "
                "reference (nested aliases expand to billions of values)",
                "write the value out, or put settings shared by every model under `defaults:`",
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(
                event,
                f"nested more than {MAX_DEPTH} levels deep",
                "a matrix needs a few levels; check for unclosed or stray brackets",
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(path: Path) -> YamlSource:
    """Read `path`; every problem (unreadable, not YAML, refused) is a MatrixError with its line."""
    text = _read(path)
    loader = _MatrixLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        if node is not None:
            _index(loader, node, (), lines)
        # After indexing: construction flattens `<<` merge keys into the node tree in place.
        data = None if node is None else loader.construct_document(node)
    except _Refused as exc:
        raise MatrixError(f"{exc.at(path)}: {exc.problem}. Fix: {exc.fix}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise MatrixError(
            f"{at}: not valid YAML ({exc.problem}). Fix the syntax at that position."
        ) from exc
    except yaml.YAMLError as exc:
        raise MatrixError(f"{path}: not valid YAML ({exc})") from exc
    finally:
        loader.dispose()
    return YamlSource(path=path, data=data, lines=lines)


def _read(path: Path) -> str:
    if path.is_dir():
        raise MatrixError(
            f"{path}: is a directory, not a matrix file. "
            "Fix: name one .yaml file in it (give --matrix once per file)"
        )
    if path.exists() and not path.is_file():  # a FIFO or /dev/zero would never end
        raise MatrixError(f"{path}: not a regular file. Fix: give a .yaml file")
    try:
        return path.read_text(encoding="utf-8")
    except PermissionError as exc:
        raise MatrixError(
            f"{path}: cannot read the matrix (permission denied). "
            "Fix: make the file readable by this user (chmod a+r)"
        ) from exc
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise MatrixError(
            f"{path}: cannot read the matrix ({reason}). Fix: give a readable .yaml file"
        ) from exc
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1].hex()
        raise MatrixError(
            f"{path}: not UTF-8 text (byte 0x{byte} at offset {exc.start}). "
            "Fix: save the matrix as UTF-8 YAML"
        ) from None


def _index(
    loader: _MatrixLoader, node: yaml.Node, key_path: KeyPath, lines: dict[KeyPath, int]
) -> None:
    lines.setdefault(key_path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = _key(loader, key_node)
            line = key_node.start_mark.line + 1
            if key in first:
                lines_text = (
                    f"lines {first[key]} and {line}"
                    if first[key] != line
                    else f"both on line {line}"
                )
                raise _Refused(
                    key_node,
                    f"{dotted((*key_path, key))}: key {key!r} is given twice ({lines_text}); "
                    "YAML would silently keep the last",
                    "delete one of them, or merge their values into one",
                    column=False,
                )
            first[key] = line
            lines[(*key_path, key)] = line
            _index(loader, value_node, (*key_path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(loader, item, (*key_path, index), lines)


def _key(loader: _MatrixLoader, key_node: yaml.Node) -> Any:
    """A mapping key as the constructed document will have it (`0x10` and `16` are one key)."""
    if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
        # Cached by the constructor, so construct_document reuses this object.
        return loader.construct_object(key_node)
    # A merge key, or a collection as a key (construction rejects it as unhashable).
    return key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
