"""Matrix files: the schema, the cross product, and an error for every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import MatrixError
from harness.matrix.cells import format_context, load_matrix, resolve_matrix_paths

GOOD = """\
version: 1
name: demo
description: two models
marks: [gpu]
defaults:
  repeats: 2
  num_predict: 8
  thresholds: {ttft_s: 30}
models:
  - name: gemma3:12b
    contexts: [4k, 32768]
    options: {num_batch: 256}
    thresholds: {decode_tok_s: 6}
    overrides:
      32k: {repeats: 5, thresholds: {ttft_s: 12}}
  - name: qwen2.5:3b-instruct
    marks: [small]
    contexts: [2048]
"""


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_cells_are_the_cross_product_with_overrides(tmp_path: Path) -> None:
    matrix = load_matrix(write(tmp_path, GOOD))
    cells = matrix.cells()
    assert [c.id for c in cells] == ["gemma3:12b-4k", "gemma3:12b-32k", "qwen2.5:3b-instruct-2k"]
    small, large = cells[0], cells[1]
    assert small.options == {"num_batch": 256, "num_ctx": 4096}
    assert small.settings.repeats == 2
    assert {t.kind.name: t.limit for t in small.settings.thresholds} == {
        "ttft_s": 30.0,
        "decode_tok_s": 6.0,
    }
    assert large.settings.repeats == 5
    assert {t.kind.name: t.limit for t in large.settings.thresholds}["ttft_s"] == 12.0
    assert cells[2].marks == ("gpu", "small")


def test_shipped_matrices_load() -> None:
    root = Path(__file__).resolve().parents[2] / "matrices"
    names = {load_matrix(p).name for p in resolve_matrix_paths([], root)}
    assert {"gpu", "cpu", "smoke"} <= names


def test_format_context() -> None:
    assert format_context(131072) == "128k"
    assert format_context(1000) == "1000"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("version: 1\nmodels: [\n", 3, "not valid YAML"),  # found at the end of the stream
        ("version: 2\nmodels: []\n", 1, "version is 2"),
        ("version: 1\nmodles: []\n", 2, "unknown key 'modles'"),
        ("version: 1\nmodels: []\n", 2, "models must be a non-empty list"),
        ("version: 1\nmodels:\n  - contexts: [4k]\n", 3, "the model has no name"),
        ("version: 1\nmodels:\n  - name: m\n    contexts: [0]\n", 4, "context 0 is not a positive"),
        ("version: 1\nmodels:\n  - name: m\n    contexts: [-4k]\n", 4, "is not a positive"),
        ("version: 1\nmodels:\n  - name: m\n    contexts: [big]\n", 4, "context 'big'"),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n"
            "    thresholds: {ttft_s: fast}\n",
            5,
            "threshold 'ttft_s' is 'fast'",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n    thresholds: {ttft: 1}\n",
            5,
            "unknown threshold 'ttft'",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n    repeats: two\n",
            5,
            "repeats is 'two'",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n    colour: red\n",
            5,
            "unknown key 'colour'",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [4k]\n    overrides:\n      8k: {}\n",
            6,
            "override for context '8k' not in contexts",
        ),
        (
            "version: 1\ndefaults:\n  options: {num_ctx: 4096}\nmodels:\n  - name: m\n"
            "    contexts: [4k]\n",
            3,
            "num_ctx comes from contexts",
        ),
        ("version: 1\nmarks: [gpu-box]\nmodels:\n  - name: m\n    contexts: [4k]\n", 2, "marks is"),
    ],
)
def test_broken_matrix_names_file_line_and_fix(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    message = str(info.value)
    assert f"{path}:{line}" in message
    assert fragment in message
    assert "Fix" in message


def test_unknown_matrix_name_lists_known_ones(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "gpu.yaml")
    with pytest.raises(MatrixError, match=r"no such matrix file .*one of: gpu"):
        resolve_matrix_paths(["gpuu"], tmp_path)


# --- hostile input -------------------------------------------------------------------------

MODEL = "models:\n  - name: m\n    contexts: [4k]\n"


def billion_laughs(levels: int = 9) -> str:
    lines = [
        "version: 1",
        'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    lines += ["models:", "  - name: m", "    contexts: [4k]", f"    options: {{x: *a{levels - 1}}}"]
    return "\n".join(lines) + "\n"


def error_of(path: Path) -> str:
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    return str(info.value)


def test_an_alias_bomb_is_refused_at_its_first_alias(tmp_path: Path) -> None:
    # Nine levels of nine: 387 million strings for anything that walks the values.
    message = error_of(write(tmp_path, billion_laughs()))
    assert message.startswith(f"{tmp_path / 'm.yaml'}:3:10: YAML alias *a0 refused")
    assert "Fix: write the value out" in message


def test_a_single_alias_is_refused_too_but_an_unused_anchor_is_harmless(tmp_path: Path) -> None:
    text = "version: 1\ndefaults: &d {repeats: 2}\nmodels:\n  - name: m\n    contexts: [4k]\n"
    assert load_matrix(write(tmp_path, text)).models[0].settings.repeats == 2
    text += "    thresholds: *d\n"
    assert ":6:17: YAML alias *d refused" in error_of(write(tmp_path, text))


def test_nesting_is_bounded_instead_of_overflowing_the_stack(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "version: 1\nx: " + "[" * 20_000 + "\n"))
    assert "nested more than 64 levels deep" in message
    assert f"{tmp_path / 'm.yaml'}:2:" in message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "version: 1\n" + MODEL + "    repeats: 2\n    repeats: 3\n",
            6,
            "models[0].repeats: key 'repeats' is given twice (lines 5 and 6)",
        ),
        ("version: 1\nversion: 1\n" + MODEL, 2, "key 'version' is given twice (lines 1 and 2)"),
        (
            "version: 1\n" + MODEL + "    thresholds: {ttft_s: 8, ttft_s: 9}\n",
            5,
            "key 'ttft_s' is given twice (both on line 5)",
        ),
        (  # YAML reads both as the integer 4096
            "version: 1\n" + MODEL + "    overrides:\n      4096: {}\n      0x1000: {}\n",
            7,
            "key 4096 is given twice (lines 6 and 7)",
        ),
        (
            "version: 1\n" + MODEL + "  - name: n\n    contexts: [8k]\n  - name: m\n"
            "    contexts: [32k]\n",
            7,
            "model 'm' is listed twice (lines 3 and 7)",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts:\n      - 4k\n      - 4096\n",
            6,
            "context '4k' is listed twice (lines 5 and 6)",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    contexts: [32k, 4k, 4096]\n",
            4,
            "context '4k' is listed twice (both on line 4)",
        ),
        (
            "version: 1\n" + MODEL + "limits:\n  models:\n    - m\n    - {name: m}\n",
            8,
            "limits.models[1]: model 'm' is listed twice (lines 7 and 8)",
        ),
        (
            "version: 1\n" + MODEL + "concurrency:\n  contexts: [4096]\n  model:\n    - m\n"
            "    - n\n    - m\n",
            10,
            "concurrency.model[2]: model 'm' is listed twice (lines 8 and 10)",
        ),
        (
            "version: 1\n" + MODEL + "sustained:\n  workloads:\n"
            "    - {model: m, kind: chat, num_ctx: 4096}\n"
            "    - {model: m, kind: chat, num_ctx: 8192}\n",
            8,
            "a second chat workload for 'm' (the first is on line 7)",
        ),
        (
            "version: 1\n" + MODEL + "    overrides:\n      4k: {repeats: 1}\n"
            "      4096: {repeats: 2}\n",
            7,
            "override for context '4k' is listed twice (lines 6 and 7)",
        ),
    ],
    ids=["key", "top-key", "flow-key", "int-key", "model", "context", "context-one-line",
         "limits-model", "concurrency-model", "sustained-workload", "override"],
)  # fmt: skip
def test_anything_given_twice_names_both_lines(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}:{line}")
    assert fragment in message
    assert "Fix: " in message


@pytest.mark.parametrize(
    ("threshold", "value", "allowed"),
    [
        ("ttft_s", "-1", "> 0"),
        ("ttft_s", "0", "> 0"),
        ("ttft_p90_s", "-0.5", "> 0"),
        ("decode_tok_s", "0", "> 0"),
        ("prompt_tok_s", "-100", "> 0"),
        ("memory_gb", "0", "> 0"),
        ("stability", "7", "[0, 1]"),
        ("stability", "-0.1", "[0, 1]"),
        ("ram_percent", "101", "(0, 100]"),
        ("ram_percent", "0", "(0, 100]"),
    ],
)
def test_a_threshold_out_of_range_names_file_line_key_value_and_range(
    tmp_path: Path, threshold: str, value: str, allowed: str
) -> None:
    path = write(
        tmp_path, "version: 1\n" + MODEL + f"    thresholds:\n      {threshold}: {value}\n"
    )
    message = error_of(path)
    assert message.startswith(f"{path}:6: models[0].thresholds.{threshold}: ")
    shown = repr(float(value)) if "." in value else value
    assert f"threshold {threshold!r} is {shown}, outside {allowed}" in message
    assert f"Fix: give {threshold} a number {allowed}" in message


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1e999", "1" + "0" * 400])
def test_a_threshold_that_is_no_finite_number_is_refused(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "version: 1\n" + MODEL + f"    thresholds: {{ttft_s: {value}}}\n")
    assert "threshold 'ttft_s' is" in error_of(path)
    assert "not a finite number. Fix: give ttft_s a number > 0" in error_of(path)


def test_threshold_range_edges_are_accepted(tmp_path: Path) -> None:
    text = "version: 1\n" + MODEL + "    thresholds: {stability: 0, ram_percent: 100}\n"
    limits = {
        t.kind.name: t.limit
        for t in load_matrix(write(tmp_path, text)).models[0].settings.thresholds
    }
    assert limits == {"stability": 0.0, "ram_percent": 100.0}
    text = text.replace("stability: 0", "stability: 1")
    assert load_matrix(write(tmp_path, text)).models[0].settings.thresholds[0].limit == 1.0


SECTION_NUMBERS = [
    ("limits: {models: [m], recovery_s: VALUE}", "limits.recovery_s"),
    ("limits: {models: [m], safety: VALUE}", "limits.safety"),
    ("limits: {models: [m], resolution: VALUE}", "limits.resolution"),
    ("limits: {models: [m], tokens_per_request: VALUE}", "limits.tokens_per_request"),
    ("sustained: {duration_s: VALUE, workloads: [{model: m, kind: chat, num_ctx: 4096}]}",
     "sustained.duration_s"),
    ("sustained: {workloads: [{model: m, kind: chat, num_ctx: 4096, fill: VALUE}]}",
     "sustained.workloads[0].fill"),
    ("sustained: {workloads: [{model: m, kind: chat, num_ctx: 4096, tok_s_min: VALUE}]}",
     "sustained.workloads[0].tok_s_min"),
    ("concurrency: {model: m, contexts: [4096], slo: {ttft_s: VALUE}}",
     "concurrency.slo.ttft_s"),
    ("concurrency: {model: m, contexts: [4096], rates: [VALUE]}", "concurrency.rates"),
    ("concurrency: {model: m, contexts: [4096], launch: {template: '{num_parallel}', "
     "ready_timeout_s: VALUE}}", "concurrency.launch.ready_timeout_s"),
    ("throughput: {max_spread: VALUE}", "throughput.max_spread"),
    ("throughput: {concurrency: VALUE}", "throughput.concurrency"),
    ("tolerances: {ttft_s: VALUE}", "tolerances.ttft_s"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        (section, key, value)
        for section, key in SECTION_NUMBERS
        for value in ("-1", "0", ".nan", ".inf")
        # A tolerance of 0 is meaningful (any significant change counts), as with --tolerance.
        if not (key.startswith("tolerances") and value == "0")
    ],
)
def test_every_section_refuses_numbers_that_make_no_sense(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    path = write(tmp_path, "version: 1\n" + MODEL + section.replace("VALUE", value) + "\n")
    message = error_of(path)
    assert message.startswith(f"{path}:5: {key}: "), message
    assert "Fix: " in message


def test_a_directory_given_as_a_matrix_has_its_own_message(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "gpu.yaml")
    (tmp_path / "sets.yaml").mkdir()
    with pytest.raises(MatrixError, match=r"is a directory, not a matrix file.*gpu\.yaml"):
        resolve_matrix_paths([str(tmp_path)], tmp_path)
    with pytest.raises(MatrixError, match=r"sets\.yaml is a directory.*no \.yaml files"):
        resolve_matrix_paths([str(tmp_path / "sets.yaml")], tmp_path)
    # Found by the default glob, a directory reaches the loader, which says the same.
    assert "is a directory, not a matrix file" in error_of(tmp_path / "sets.yaml")


def test_a_matrix_name_wins_over_a_directory_of_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, GOOD, "gpu.yaml")
    (tmp_path / "cwd" / "gpu").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "cwd")
    assert resolve_matrix_paths(["gpu"], tmp_path) == [tmp_path / "gpu.yaml"]


def test_an_unreadable_matrix_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)

    def refuse(self: Path, encoding: str | None = None) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    # chmod 000 does not stop root, which runs these tests in containers.
    monkeypatch.setattr(Path, "read_text", refuse)
    assert error_of(path) == (
        f"{path}: cannot read the matrix (permission denied). "
        "Fix: make the file readable by this user (chmod a+r)"
    )


def test_a_binary_matrix_says_it_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"version: 1\n\xff\xfe\x00")
    assert "not UTF-8 text (byte 0xff at offset 11). Fix: save the matrix as UTF-8" in error_of(
        path
    )


# --- the same, as a user meets it: the session stops with the message ---------------------


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("matrices")
    pytester.makepyfile(test_cells="def test_cell(cell):\n    assert cell.num_ctx > 0\n")
    return pytester


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (billion_laughs(), "*box.yaml:3:10: YAML alias [*]a0 refused*Fix: write the value out*"),
        (
            "version: 1\n" + MODEL + "  - name: m\n    contexts: [8k]\n",
            "*box.yaml:5: models[[]1[]].name: model 'm' is listed twice (lines 3 and 5)*Fix*",
        ),
        (
            "version: 1\n" + MODEL + "    thresholds: {stability: 7}\n",
            "*box.yaml:5: *stability: threshold 'stability' is 7, outside [[]0, 1[]]*Fix*",
        ),
        (
            "version: 1\n" + MODEL + "    fill: 0.5\n    fill: 0.9\n",
            "*box.yaml:6: models[[]0[]].fill: key 'fill' is given twice (lines 5 and 6)*",
        ),
    ],
    ids=["alias-bomb", "model-twice", "stability-7", "key-twice"],
)
def test_hostile_matrix_stops_the_session_with_file_and_line(
    project: pytest.Pytester, text: str, expected: str
) -> None:
    (project.path / "matrices" / "box.yaml").write_text(text)
    result = project.runpytest("-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_a_directory_as_matrix_stops_the_session_with_its_own_message(
    project: pytest.Pytester,
) -> None:
    (project.path / "matrices" / "box.yaml").write_text("version: 1\n" + MODEL)
    result = project.runpytest("--matrix", "matrices")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--matrix 'matrices': *matrices is a directory, not a matrix file*box.yaml*"]
    )
