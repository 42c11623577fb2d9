"""A suite declares itself from a conftest (harness/matrix/registry.py), as docs/extending.md says.

The `echo` suite below has a matrix section, a case fixture it parametrizes, and a results
section with table and terminal renderers; nothing of the harness is edited for it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from harness.errors import ResultsError
from harness.matrix.registry import Registry as SuiteRegistry
from harness.matrix.registry import ResultSection, Suite, active
from harness.results.schema import SCHEMA
from harness.results.writer import payload_from_jsonl

MATRIX = """\
version: 1
models:
  - {name: tiny, contexts: [2k]}
echo: [alpha, be|ta]
"""

CONFTEST = """\
from dataclasses import dataclass

import pytest

from harness.api import MatrixSection, ResultSection, SectionTable, Suite, SuiteCase


@dataclass(frozen=True)
class EchoCase(SuiteCase):
    word: str


def parse_echo(src, at, raw):
    if not isinstance(raw, list) or not all(isinstance(w, str) for w in raw):
        raise src.error(at, f"echo is {raw!r}", "list words, e.g. [alpha, beta]")
    return tuple(raw)


def echo_cases(matrix, words):
    for word in words:
        yield f"{matrix.name}-{word}", EchoCase(matrix.name, word)


def echo_table(entries):
    rows = tuple((e["word"], str(e["length"])) for e in entries)
    return SectionTable("Echoes", ("Word", "Length"), rows)


ECHO = Suite(
    name="echo",
    matrix_sections=(MatrixSection("echo", parse_echo, "echo_case", echo_cases),),
    results=(
        ResultSection(
            "echoes", "list", table=echo_table,
            terminal=lambda entries: [f"echo: {len(entries)} words"],
        ),
    ),
)


@pytest.hookimpl(optionalhook=True)
def pytest_harness_suites():
    return [ECHO]
"""

TEST = """\
def test_echo(echo_case, record_section, record_case):
    record_section("echoes", {"word": echo_case.word, "length": len(echo_case.word)})
    record_case({"id": echo_case.word, "matrix": echo_case.matrix, "verdict": "pass"})
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(MATRIX)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_echo=TEST)
    return pytester


def test_a_suite_from_a_conftest_reaches_every_output(project: pytest.Pytester) -> None:
    result = project.runpytest("--reports-dir", "out", "-p", "no:randomly", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_echo[[]box-alpha[]] PASSED*", "echo: 2 words"])
    latest = project.path / "out" / "latest"
    payload = json.loads((latest / "results.json").read_text())
    assert payload["echoes"] == [{"word": "alpha", "length": 5}, {"word": "be|ta", "length": 5}]
    html = (latest / "report.html").read_text()
    assert "<h2>Echoes</h2>" in html
    assert "<td>be|ta</td>" in html
    markdown = (latest / "matrix.md").read_text()
    assert "## Echoes" in markdown
    assert "| be\\|ta | 5 |" in markdown  # a pipe in a value cannot break the table
    assert (latest / "echoes.csv").read_text() == "Word,Length\nalpha,5\nbe|ta,5\n"


def test_the_suites_matrix_section_is_validated_with_file_and_line(
    project: pytest.Pytester,
) -> None:
    (project.path / "matrices" / "box.yaml").write_text(MATRIX.replace("[alpha, be|ta]", "7"))
    result = project.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*box.yaml:4*echo is 7*list words*"])


def test_a_section_no_suite_declared_fails_the_test_that_records_it(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_echo="def test_x(echo_case, record_section):\n    record_section('echos', 1)\n"
    )
    result = project.runpytest("--reports-dir", "out", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*results section 'echos' is declared by no suite*"])


def test_two_suites_declaring_one_section_stop_the_session(project: pytest.Pytester) -> None:
    (project.path / "again.py").write_text(
        "import pytest\nfrom harness.api import ResultSection, Suite\n\n"
        "@pytest.hookimpl(optionalhook=True)\ndef pytest_harness_suites():\n"
        "    return [Suite('other', results=(ResultSection('echoes', 'object'),))]\n"
    )
    project.syspathinsert()
    result = project.runpytest("-p", "again", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*results section 'echoes' is declared by suite 'echo' and again by suite 'other'*"]
    )


OPTION = """\
    options=(
        OptionSpec("--echo-times", "echo_times", "how often each word is echoed (default: 1)",
                   int, 1, metavar="N"),
    ),
"""

OPTION_TEST = """\
def test_echo(echo_case, harness_run):
    print(f"times={harness_run.option('echo_times')}")
"""


@pytest.fixture
def with_option(project: pytest.Pytester) -> pytest.Pytester:
    conftest = CONFTEST.replace("SuiteCase\n", "SuiteCase, OptionSpec\n", 1)
    conftest = conftest.replace('    name="echo",\n', '    name="echo",\n' + OPTION, 1)
    project.makeconftest(conftest)
    project.makepyfile(test_echo=OPTION_TEST)
    return project


def test_a_suites_option_and_its_ini_twin_are_declared_with_the_suite(
    with_option: pytest.Pytester,
) -> None:
    help_text = with_option.runpytest("--help").stdout.str()
    assert re.search(r"--echo-times=N\s+how often each word is echoed \(default: 1\)", help_text)
    assert re.search(r"harness_echo_times \(string\):\s+ini twin of --echo-times", help_text)
    args = ("--reports-dir", "out", "-p", "no:randomly", "-s", "-k", "alpha")
    with_option.runpytest(*args).stdout.fnmatch_lines(["*times=1*"])  # the default
    with_option.makeini("[pytest]\nharness_echo_times = 3\n")
    with_option.runpytest(*args).stdout.fnmatch_lines(["*times=3*"])  # the ini twin
    with_option.runpytest(*args, "--echo-times", "5").stdout.fnmatch_lines(["*times=5*"])


def test_an_option_declared_twice_stops_the_session(with_option: pytest.Pytester) -> None:
    (with_option.path / "again.py").write_text(
        "import pytest\nfrom harness.api import OptionSpec, Suite\n\n"
        "@pytest.hookimpl(optionalhook=True)\ndef pytest_harness_suites():\n"
        "    return [Suite('other', options=(OptionSpec('--engine', 'engine2', 'x'),))]\n"
    )
    with_option.syspathinsert()
    result = with_option.runpytest("-p", "again", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*option --engine*of suite 'other' is declared by the harness*"])


def _jsonl(path: Path, *records: Mapping[str, object]) -> Path:
    header = {"schema": SCHEMA, "run_id": "r", "started_at": "t", "fingerprint": {}}
    path.write_text("\n".join(json.dumps(r) for r in (header, *records)) + "\n")
    return path


def test_a_list_section_keeps_every_value_and_an_object_the_last(tmp_path: Path) -> None:
    suites = SuiteRegistry(
        (Suite("s", results=(ResultSection("many", "list"), ResultSection("one", "object"))),)
    )
    path = _jsonl(
        tmp_path / "results.jsonl",
        *({"kind": "section", "section": n, "value": v} for n in ("many", "one") for v in (1, 2)),
    )
    with active(suites):
        payload = payload_from_jsonl(path)
    assert (payload["many"], payload["one"]) == ([1, 2], 2)


def test_an_undeclared_section_in_a_jsonl_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "results.jsonl", {"kind": "section", "section": "x", "value": 1})
    with active(SuiteRegistry()), pytest.raises(ResultsError, match=r"jsonl:2: .*'x'.*no suite"):
        payload_from_jsonl(path)


def test_the_matrix_loader_imports_no_suite() -> None:
    # The suites import the matrix types; the loader learns their sections from the
    # registry at run time, so there is no import loop through the features.
    code = (
        "import json, sys, harness.matrix.cells; "
        "print(json.dumps(sorted(m for m in sys.modules if 'harness.' in m)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [
        "harness.errors",
        "harness.matrix",
        "harness.matrix.cells",
        "harness.matrix.registry",
        "harness.matrix.thresholds",
        "harness.matrix.yamlsource",
    ]


def test_the_suites_use_only_the_public_api() -> None:
    # harness.api is the suites' contract; the session's objects may change under them.
    internal = re.compile(r"^\s*(from|import) harness\.(cases|results\.recording)\b", re.M)
    suites = Path(__file__).resolve().parents[2] / "suites"
    offenders = [
        f"{path.relative_to(suites)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in sorted(suites.rglob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
        for m in internal.finditer(text)
    ]
    assert offenders == [], f"suites import harness internals (use harness.api): {offenders}"
