"""The plugin's command-line options, each with an ini twin; the command line wins.

`OPTIONS` are the harness's own (servers, simulator, budgets, baselines). A suite's own
options are declared by the suite, in `Suite.options` (harness/matrix/registry.py); `SuiteOptions`
adds them to pytest's parser as each suite's plugin registers, and `option(config, dest)`
reads either kind.

Parsers here are argparse `type=` callables, so a bad value is rejected by pytest with the
allowed values before anything runs; ini values go through the same parsers.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from harness.engines import ENGINE_KINDS
from harness.engines.hosts import parse_ollama_host
from harness.matrix.registry import HOOK_NAME, Suite
from harness.sim.behaviour import Behaviour


def engine_kind(value: str) -> str:
    if value not in ENGINE_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown engine {value!r}; choose one of: {', '.join(ENGINE_KINDS)}"
        )
    return value


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer (e.g. 5)")
    return number


def finite_float(value: str) -> float | None:
    """`value` as a finite float, else None: `float()` reads "nan" and "inf", and nan passes
    every `<= 0` check (all comparisons with it are false)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _number(value: str, accept: Callable[[float], bool], what: str) -> float:
    """`value` as a finite float that `accept`s, else argparse's error saying `what` it must be."""
    number = finite_float(value)
    if number is None or not accept(number):
        raise argparse.ArgumentTypeError(f"{value!r} is not {what}")
    return number


def positive_float(value: str) -> float:
    return _number(value, lambda n: n > 0, "a positive finite number (e.g. 50)")


def seconds_or_off(value: str) -> float:
    """A period in seconds; 0 turns the thing off."""
    return _number(value, lambda n: n >= 0, "a number of seconds >= 0 (0: off)")


def fraction(value: str) -> float:
    return _number(value, lambda n: 0 <= n < 10, "a fraction (e.g. 0.10 for 10%)")


# The simulator's broken-server switches: a new field of Behaviour is a new switch.
BEHAVIOUR_SWITCHES = tuple(f.name for f in fields(Behaviour))


def behaviour_switches(value: str) -> str:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in BEHAVIOUR_SWITCHES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown simulator behaviour {', '.join(map(repr, unknown))}; "
            f"choose from: {', '.join(BEHAVIOUR_SWITCHES)}"
        )
    return ",".join(names)


def launch_variable(value: str) -> str:
    name, sep, _ = value.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=VALUE (e.g. model_path=m.gguf)")
    return value


def budget_fraction(value: str) -> float:
    return _number(value, lambda n: 0 < n <= 1, "a fraction in (0, 1] (e.g. 0.8)")


_BYTE_UNITS = {
    "": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
    "kib": 2**10, "mib": 2**20, "gib": 2**30,
}  # fmt: skip


def ram_budget(value: str) -> float | int:
    """A fraction of host RAM (0.8), or the model's own allowance in bytes (600MB, 2GiB).

    A bare number above 1 is bytes, so `--ram-budget 629145600` and `600MiB` agree.
    """
    text = value.strip().lower().replace(" ", "")
    digits = text.rstrip("kmgib")
    unit = text[len(digits) :]
    number = finite_float(digits)
    if unit not in _BYTE_UNITS or number is None or number <= 0:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a fraction in (0, 1] (e.g. 0.8) nor a size in bytes "
            "(e.g. 600MB, 2GiB or 629145600)"
        )
    if not unit and number <= 1:
        return number
    size = int(number * _BYTE_UNITS[unit])
    if size < _BYTE_UNITS["mib"]:
        raise argparse.ArgumentTypeError(
            f"{value!r} is {size} bytes, too small to hold a model: give a fraction in (0, 1] "
            "or a size such as 600MB"
        )
    return size


def metric_tolerance(value: str) -> str:
    metric, sep, number = value.partition("=")
    if not sep or not metric.strip():
        raise argparse.ArgumentTypeError(f"{value!r} is not METRIC=FRACTION (e.g. ttft_s=0.15)")
    fraction(number)
    return value


def baseline_name(value: str) -> str:
    if not value or "/" in value or value.startswith("."):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a baseline name (letters, digits, ., _ and -; e.g. nightly)"
        )
    return value


@dataclass(frozen=True)
class OptionSpec:
    name: str
    dest: str
    help: str
    type: Any = None
    default: Any = None
    multiple: bool = False
    metavar: str | None = None
    flag: bool = False  # a switch: no value on the command line, "true"/"false" in ini


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "--engine",
        "engine",
        "model server protocol: ollama (default), openai, or sim "
        "(start the built-in simulator and talk to it as to Ollama)",
        engine_kind,
        "ollama",
        metavar="{" + ",".join(ENGINE_KINDS) + "}",
    ),
    OptionSpec(
        "--server",
        "server",
        "server base URL (default: $OLLAMA_HOST parsed as Ollama "
        "does, else http://127.0.0.1:11434)",
        str,
        None,
        True,
        "URL",
    ),
    OptionSpec(
        "--matrix",
        "matrix",
        "matrix name (matrices/NAME.yaml) or path; repeatable (default: every file in matrices/)",
        str,
        None,
        True,
        "NAME|PATH",
    ),
    OptionSpec(
        "--reports-dir",
        "reports_dir",
        "where runs/, latest/ and baselines/ live (default: reports)",
        str,
        "reports",
        metavar="DIR",
    ),
    OptionSpec(
        "--repeats",
        "repeats",
        "measured requests per cell, after one warm-up (default: the matrix's)",
        positive_int,
        None,
        metavar="N",
    ),
    OptionSpec(
        "--sim-profile",
        "sim_profile",
        "simulator hardware profile (default: the "
        "selected matrices' sim_profile, else rtx4080-16gb)",
        str,
        None,
        metavar="NAME",
    ),
    OptionSpec(
        "--sim-speed",
        "sim_speed",
        "simulator time compression; results are reported in simulated time (default: 1)",
        positive_float,
        1.0,
        metavar="X",
    ),
    OptionSpec(
        "--sim-faults",
        "sim_faults",
        "simulator fault spec, e.g. disconnect=0.01,error_line=0.01,seed=7",
        str,
        None,
        metavar="SPEC",
    ),
    OptionSpec(
        "--sim-behaviour",
        "sim_behaviour",
        "make the simulator misbehave like a broken server, comma-separated: "
        + ", ".join(BEHAVIOUR_SWITCHES),
        behaviour_switches,
        None,
        metavar="SWITCHES",
    ),
    OptionSpec(
        "--sim-parallel",
        "sim_parallel",
        "the simulator's OLLAMA_NUM_PARALLEL (default: 1)",
        positive_int,
        1,
        metavar="N",
    ),
    OptionSpec(
        "--launch",
        "launch",
        "start the server for each context from this command template ({model_path}, "
        "{num_ctx}, {port}, {host}, {num_parallel}, {python}, and --launch-var names); for "
        "servers whose context is fixed at start (llama.cpp, vLLM)",
        str,
        None,
        metavar="TEMPLATE",
    ),
    OptionSpec(
        "--launch-var",
        "launch_var",
        "a variable for --launch, e.g. model_path=/models/m.gguf (repeatable)",
        launch_variable,
        None,
        True,
        "NAME=VALUE",
    ),
    OptionSpec(
        "--launch-timeout",
        "launch_timeout",
        "seconds a launched server may take to answer before it counts as a timeout (default: 120)",
        positive_float,
        120.0,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--read-timeout",
        "read_timeout",
        "seconds without a byte from the server before a request counts as a timeout; it "
        "must cover the longest prefill (default: 600)",
        positive_float,
        600.0,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--progress-every",
        "progress_every",
        "while a cell runs longer than this, a line every SECONDS with its elapsed time "
        "and estimate (default: 30; 0: off)",
        seconds_or_off,
        30.0,
        metavar="SECONDS",
    ),
    OptionSpec(
        "--sample-hz",
        "sample_hz",
        "hardware sampling rate during each case (default: 10)",
        positive_float,
        10.0,
        metavar="HZ",
    ),
    OptionSpec(
        "--ram-budget",
        "ram_budget",
        "abort a case (verdict over_budget) when host RAM in use passes this fraction "
        "(default: 0.80); a size instead (600MB, 2GiB, bytes) is the model's own "
        "allowance, which bounds the context-limit search on a machine without a GPU",
        ram_budget,
        0.80,
        metavar="FRACTION|SIZE",
    ),
    OptionSpec(
        "--gpu-budget",
        "gpu_budget",
        "abort a case when GPU memory in use passes this fraction (default: 0.95)",
        budget_fraction,
        0.95,
        metavar="FRACTION",
    ),
    OptionSpec(
        "--baseline",
        "baseline",
        "compare every case with this stored baseline (reports/baselines/NAME.json, "
        "or a path); regressions fail",
        str,
        None,
        metavar="NAME|PATH",
    ),
    OptionSpec(
        "--save-baseline",
        "save_baseline",
        "store this run as reports/baselines/NAME.json",
        baseline_name,
        None,
        metavar="NAME",
    ),
    OptionSpec(
        "--baseline-force",
        "baseline_force",
        "compare even when the baseline was measured on a different setup "
        "(GPU, model digest, engine)",
        flag=True,
        default=False,
    ),
    OptionSpec(
        "--append-history",
        "append_history",
        "append this run's per-case summary to reports/baselines/NAME.history.jsonl "
        "(NAME from --save-baseline or --baseline)",
        flag=True,
        default=False,
    ),
    OptionSpec(
        "--tolerance",
        "tolerance",
        "relative change that counts as a regression when also significant (default: 0.10)",
        fraction,
        0.10,
        metavar="FRACTION",
    ),
    OptionSpec(
        "--metric-tolerance",
        "metric_tolerance",
        "per-metric tolerance, e.g. ttft_s=0.15 (repeatable)",
        metric_tolerance,
        None,
        True,
        "METRIC=FRACTION",
    ),
)


def add_option(parser: pytest.Parser, spec: OptionSpec) -> None:
    """`spec` in the harness's group, with its ini twin `harness_<dest>`."""
    group = parser.getgroup("harness", "LLM server benchmark harness")
    if spec.flag:
        group.addoption(
            spec.name, dest=spec.dest, action="store_true", default=None, help=spec.help
        )
        parser.addini(f"harness_{spec.dest}", f"ini twin of {spec.name}", type="bool")
        return
    group.addoption(
        spec.name,
        dest=spec.dest,
        action="append" if spec.multiple else "store",
        type=spec.type,
        default=None,
        metavar=spec.metavar,
        help=spec.help,
    )
    if spec.multiple:
        parser.addini(f"harness_{spec.dest}", f"ini twin of {spec.name}", type="linelist")
    else:
        parser.addini(f"harness_{spec.dest}", f"ini twin of {spec.name}", default="")


SUITE_OPTIONS_PLUGIN = "harness-suite-options"


def add_options(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """The harness's own options now, and each suite's as its plugin registers."""
    parser.getgroup("harness", "LLM server benchmark harness")
    parser.addini(
        "harness_servers", "server URLs, one per line (like --server repeated)", type="linelist"
    )
    for spec in OPTIONS:
        add_option(parser, spec)
    pluginmanager.register(SuiteOptions(parser), SUITE_OPTIONS_PLUGIN)


class SuiteOptions:
    """Adds the options of every suite a plugin declares (`Suite.options`), when it registers.

    `pytest_plugin_registered` is replayed for the plugins registered before this one, so the
    built-in suites (loaded with the harness plugin) and a rootdir conftest's suite are all
    seen before pytest parses the command line.
    """

    def __init__(self, parser: pytest.Parser) -> None:
        self.parser = parser
        self.specs: dict[str, tuple[OptionSpec, str]] = {}  # dest -> (spec, suite)

    def pytest_plugin_registered(self, plugin: object) -> None:
        declare = getattr(plugin, HOOK_NAME, None)
        if declare is None or plugin is self:
            return
        suites: list[Suite] = declare()
        for suite in suites:
            for spec in suite.options:
                self._add(spec, suite.name)

    def _add(self, spec: OptionSpec, suite: str) -> None:
        core = {s.dest for s in OPTIONS} | {s.name for s in OPTIONS}
        other = self.specs.get(spec.dest)
        if other is not None and other[0] == spec:
            return  # the same suite seen twice (a plugin registered under two names)
        if other is not None or spec.dest in core or spec.name in core:
            owner = f"suite {other[1]!r}" if other is not None else "the harness"
            raise pytest.UsageError(
                f"option {spec.name} (dest {spec.dest!r}) of suite {suite!r} is declared by "
                f"{owner} too. Fix: give one of them another name"
            )
        add_option(self.parser, spec)
        self.specs[spec.dest] = (spec, suite)


def _spec(config: pytest.Config, dest: str) -> OptionSpec:
    found = next((s for s in OPTIONS if s.dest == dest), None)
    if found is not None:
        return found
    suites = config.pluginmanager.get_plugin(SUITE_OPTIONS_PLUGIN)
    declared = suites.specs.get(dest) if isinstance(suites, SuiteOptions) else None
    if declared is None:
        raise KeyError(f"no harness option or suite option has dest {dest!r}")
    return declared[0]


def option(config: pytest.Config, dest: str) -> Any:
    """The option's value: command line, else ini (parsed the same way), else default."""
    spec = _spec(config, dest)
    value = config.getoption(dest)
    if value is not None:
        return value
    raw = config.getini(f"harness_{dest}")
    if spec.flag:
        return bool(raw)
    if not raw:
        return [] if spec.multiple else spec.default
    try:
        if spec.multiple:
            return [spec.type(v) if spec.type else v for v in raw]
        return spec.type(raw) if spec.type else raw
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini option harness_{dest}: {exc}") from None


def server_urls(config: pytest.Config) -> list[str]:
    given: list[str] = option(config, "server") or config.getini("harness_servers")
    if given:
        return [url.rstrip("/") for url in given]
    return [parse_ollama_host(os.environ.get("OLLAMA_HOST"))]


def reports_dir(config: pytest.Config) -> Path:
    path = Path(option(config, "reports_dir"))
    return path if path.is_absolute() else config.rootpath / path
