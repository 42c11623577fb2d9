"""Number options refuse nan and inf: `float()` reads both, and nan passes every `<= 0` check."""

from __future__ import annotations

import argparse

import pytest

from harness.cases.options import positive_float
from harness.cli import build_parser

NOT_FINITE = ["nan", "NaN", "inf", "-inf", "infinity"]


@pytest.mark.parametrize("text", [*NOT_FINITE, "0", "-1", "abc", ""])
def test_positive_float_refuses_what_is_not_a_positive_finite_number(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a positive finite number"):
        positive_float(text)


@pytest.mark.parametrize(("text", "value"), [("50", 50.0), ("0.05", 0.05), ("1e3", 1000.0)])
def test_positive_float_reads_positive_numbers(text: str, value: float) -> None:
    assert positive_float(text) == value


@pytest.mark.parametrize("text", NOT_FINITE)
def test_sim_speed_nan_is_a_usage_error_naming_the_option(
    pytester: pytest.Pytester, text: str
) -> None:
    result = pytester.runpytest(f"--sim-speed={text}")  # "=": argparse takes -inf for an option
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--sim-speed*'{text}' is not a positive finite number*"])


@pytest.mark.parametrize(
    "argv",
    [
        ["sim", "--speed", "nan"],
        ["sim", "truth", "--profile", "tiny", "--model", "m", "--gpu-budget", "nan"],
        ["batch", "run", "in.jsonl", "--sim-speed", "inf"],
    ],
)
def test_the_cli_refuses_nan_and_inf_with_the_option_named(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[-2]}: {argv[-1]!r} is not a" in err, err
