"""Every `pytest suites/...` command in README.md selects something on the shipped matrices.

The commands are read from README.md itself, so a README edit or a matrix change that leaves
one selecting nothing (`throughput --matrix gpu` once collected only pytest's "got empty
parameter set" placeholder) fails here. Each is collected on the simulator exactly as
written, except what would reach a real server: `--engine` becomes `sim`, and `--server`,
`--launch`, `--launch-var` and `-n` are dropped (collection does not depend on them).
"""

from __future__ import annotations

import re
import shlex

import pytest

from harness.baseline import BaselineStore
from tests.suiterun import ROOT, run_suite

# Options whose value is a real server (or worker count) and not part of the selection.
DROPPED = {"--engine", "--server", "--launch", "--launch-var", "-n"}


def readme_commands(text: str) -> list[list[str]]:
    """The argument lists after `pytest` of every `pytest suites/...` command in `text`:
    in ```sh blocks (with continuation lines joined, comments removed) and inline code."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        lines += block.replace("\\\n", " ").splitlines()
    lines += re.findall(r"`([^`\n]*pytest suites/[^`\n]*)`", text)
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if len(words) > 1 and words[0].endswith("pytest") and words[1].startswith("suites/"):
            commands.append(words[1:])
    return commands


def as_collected(words: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in DROPPED:
            skip = True
        elif word.split("=", 1)[0] not in DROPPED:
            out.append(word)
    return [*out, "--collect-only", "-q", "-p", "no:randomly"]


COMMANDS = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_names_the_suites_commands() -> None:
    suites = {words[0].split("/")[1] for words in COMMANDS}
    assert {"context_limits", "context_scaling", "throughput", "sustained"} <= suites
    assert ["suites/throughput", "--matrix", "gpu"] in COMMANDS


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(w) for w in COMMANDS])
def test_readme_command_selects_tests(words: list[str], pytester: pytest.Pytester) -> None:
    # `--baseline nightly` needs a stored baseline: the README stores it the night before.
    reports = pytester.path / "reports"
    BaselineStore(reports / "baselines").save(
        "nightly", {"schema": "harness.results/1", "fingerprint": {}, "cases": []}
    )
    suite = words[0].removeprefix("suites/")
    run = run_suite(pytester, suite, *as_collected(words)[1:], reports=reports, timeout=120)
    run.check()
    # An empty parametrization collects one placeholder, `test_x[NOTSET]`: that is nothing.
    items = [line for line in run.stdout.splitlines() if "::" in line]
    real = [item for item in items if "[NOTSET]" not in item]
    assert real, f"`pytest {' '.join(words)}` selects nothing:\n{run.stdout[-2000:]}"
