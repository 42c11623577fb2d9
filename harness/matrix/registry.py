"""Suites declare themselves: their matrix sections, their results sections and renderers.

A suite is one `Suite` value, returned by the `pytest_harness_suites` hook (hookspecs.py) of
a pytest plugin that lives in the suite's own package:

- the built-in suites are modules named in the `llm_harness.suites` entry-point group of
  pyproject.toml (`harness.limits.suite`, ...), which the harness plugin loads as plugins;
- a project's own suite can implement the hook in a rootdir `conftest.py` (or any plugin
  loaded before the session configures: the matrices are read at configure time).

Nothing central lists the suites: the matrix loader asks `current().parsers()` which keys a
matrix may have, `results/writer.py` asks `current().result_kind(name)` whether a section is a
list or one object (a section nobody declared is an error), and the reports render every
declared section that brings a `table`. Outside pytest (`harness report`), `current()` is
the installed suites of the entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.cases.options import OptionSpec
    from harness.matrix.cells import Matrix
    from harness.matrix.yamlsource import KeyPath, YamlSource

ENTRY_POINT_GROUP = "llm_harness.suites"
HOOK_NAME = "pytest_harness_suites"

ResultKind = Literal["list", "object"]
# A section parser gets the source, its key path and raw value, and returns a frozen value.
SectionParser = Callable[["YamlSource", "KeyPath", Any], Any]


@dataclass(frozen=True)
class SuiteCase:
    """What a suite's parametrized test receives: one case of one matrix.

    The plugin reads `matrix` to know which matrices the selected tests use (the simulator
    simulates their machine), so every case type derives from this one.
    """

    matrix: str


@dataclass(frozen=True)
class SectionTable:
    """A results section as one table: the report, matrix.md and `<name>.csv` show it."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ResultSection:
    """A run-level section of results.json that a suite writes with `record_section`.

    `kind`: "list" appends every recorded value, "object" keeps the last one. `table`
    renders the section into the report, matrix.md and `<name>.csv`; `terminal` gives the
    lines the terminal summary ends with; `write_files(run_dir, payload)` writes files of
    the suite's own beside results.json. All three read the serialized payload.
    """

    name: str
    kind: ResultKind
    table: Callable[[Any], SectionTable] | None = None
    terminal: Callable[[Any], Sequence[str]] | None = None
    write_files: Callable[[Path, Mapping[str, Any]], object] | None = None


# The cases of one matrix's section: (test id, case) pairs.
CaseBuilder = Callable[["Matrix", Any], Iterable[tuple[str, SuiteCase]]]


@dataclass(frozen=True)
class MatrixSection:
    """An optional top-level key of a matrix file, and the cases it gives a suite's test.

    With `case_fixture`, every test that takes that argument is parametrized with
    `cases(matrix, parsed_section)` of each loaded matrix having the key, marked with the
    matrix's marks; an id given by two matrices is prefixed with `matrix/`.
    """

    key: str
    parse: SectionParser
    case_fixture: str | None = None
    cases: CaseBuilder | None = None


@dataclass(frozen=True)
class Suite:
    """Everything the harness needs to know about one suite, declared in one place.

    `options`: command-line options of the suite's own, each added with its ini twin
    `harness_<dest>` in the harness's group (harness/cases/options.py `SuiteOptions`), and read
    with `harness_run.option(dest)`.
    """

    name: str
    matrix_sections: tuple[MatrixSection, ...] = ()
    results: tuple[ResultSection, ...] = ()
    options: tuple[OptionSpec, ...] = ()


@dataclass(frozen=True)
class Registry:
    """The suites of one session (or of the installed package), checked for clashes."""

    suites: tuple[Suite, ...] = ()
    _sections: dict[str, MatrixSection] = field(default_factory=dict, init=False, repr=False)
    _results: dict[str, ResultSection] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        owners: dict[tuple[str, str], str] = {}
        for suite in self.suites:
            for kind, names in (
                ("matrix section", [s.key for s in suite.matrix_sections]),
                ("results section", [r.name for r in suite.results]),
            ):
                for name in names:
                    other = owners.setdefault((kind, name), suite.name)
                    if other != suite.name or names.count(name) > 1:
                        raise ConfigError(
                            f"{kind} {name!r} is declared by suite {other!r} and again by "
                            f"suite {suite.name!r}. Fix: give one of them another name"
                        )
            self._sections.update({s.key: s for s in suite.matrix_sections})
            self._results.update({r.name: r for r in suite.results})

    def parsers(self) -> dict[str, SectionParser]:
        """The optional matrix keys and their parsers."""
        return {key: section.parse for key, section in self._sections.items()}

    def case_sections(self) -> list[MatrixSection]:
        """The matrix sections that parametrize a fixture."""
        return [s for s in self._sections.values() if s.case_fixture and s.cases]

    def result_kind(self, name: str) -> ResultKind:
        """Whether results section `name` is a list or one object; undeclared is an error."""
        section = self._results.get(name)
        if section is None:
            known = ", ".join(sorted(self._results)) or "(none)"
            raise ConfigError(
                f"results section {name!r} is declared by no suite (declared: {known}). "
                "Fix: add ResultSection(name, 'list' or 'object') to your suite's Suite "
                "(docs/extending.md)"
            )
        return section.kind

    def result_sections(self) -> tuple[ResultSection, ...]:
        return tuple(self._results.values())


# The registry of the pytest session running now, innermost last (pytester nests sessions).
_ACTIVE: list[Registry] = []


@contextmanager
def active(registry: Registry) -> Iterator[Registry]:
    """Make `registry` what `current()` returns while the block runs."""
    _ACTIVE.append(registry)
    try:
        yield registry
    finally:
        _ACTIVE.remove(registry)


def activate(registry: Registry) -> None:
    """`current()` returns `registry` until `deactivate(registry)` (the session's lifetime)."""
    _ACTIVE.append(registry)


def deactivate(registry: Registry) -> None:
    if registry in _ACTIVE:
        _ACTIVE.remove(registry)


def current() -> Registry:
    """The running session's suites, else the installed ones (entry points)."""
    return _ACTIVE[-1] if _ACTIVE else installed()


def suite_modules() -> list[str]:
    """The modules of the `llm_harness.suites` entry points, loaded as pytest plugins."""
    return sorted({ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})


@lru_cache(maxsize=1)
def installed() -> Registry:
    """The installed suites, for code that runs outside a pytest session."""
    import importlib

    suites: list[Suite] = []
    for name in suite_modules():
        hook = getattr(importlib.import_module(name), HOOK_NAME, None)
        if hook is not None:
            suites.extend(hook())
    return Registry(tuple(suites))


def declared_tables(payload: Mapping[str, Any]) -> list[tuple[str, SectionTable]]:
    """(name, table) of each section of `payload` whose suite declared a `table` renderer:
    what the report, matrix.md and `<name>.csv` show of sections added by suites."""
    tables = []
    for section in current().result_sections():
        value = payload.get(section.name)
        if section.table is not None and value not in (None, []):
            tables.append((section.name, section.table(value)))
    return tables
