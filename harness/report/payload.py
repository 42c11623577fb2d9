"""Reading a stored `results.json` and reaching into it without trusting its shape.

The report is rendered from the payload alone (docs/results-schema.md). Only the envelope is
validated strictly (a JSON object, `schema == "harness.results/1"`, `cases` a list of
objects); every section below it is read through the small accessors here, which turn a
missing or mistyped value into `None`/empty so one odd key never takes the report down.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import ResultsError

SCHEMA = "harness.results/1"
RESULTS_FILE = "results.json"

Payload = Mapping[str, Any]


def load_results(path: Path) -> dict[str, Any]:
    """Read and check one `results.json`; any problem raises `ResultsError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(
            f"{str(path)!r} does not exist: a run folder holds results.json once the run "
            "finished; point at a run folder, a results.json file or a run id"
        ) from None
    except OSError as exc:
        raise ResultsError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{str(path)!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); the run may have been killed while writing it, results.jsonl "
            "in the same folder keeps the finished cases"
        ) from None
    return check_payload(data, path)


def check_payload(data: Any, path: Path) -> dict[str, Any]:
    """Validate the envelope of a decoded payload; returns it typed as a dict."""
    if not isinstance(data, dict):
        raise ResultsError(
            f"{str(path)!r} holds a JSON {type(data).__name__}, expected an object "
            f"with schema {SCHEMA!r}"
        )
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ResultsError(
            f"{str(path)!r} has schema {schema!r}, expected {SCHEMA!r}; it was written by "
            "another version of the harness or is not a results file"
        )
    cases = data.get("cases", [])
    if not isinstance(cases, list):
        raise ResultsError(
            f"{str(path)!r}: key 'cases' is a {type(cases).__name__}, expected a list"
        )
    for index, case in enumerate(cases):
        if not isinstance(case, dict):
            raise ResultsError(
                f"{str(path)!r}: cases[{index}] is a {type(case).__name__}, expected an object"
            )
    return data


# The payload comes from json.loads, so exact-type checks suffice; they are much cheaper
# than isinstance against the collections.abc classes, which matters at 10,000 cases.
_EMPTY: Mapping[str, Any] = {}


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if type(value) is dict else _EMPTY


def records(value: Any) -> list[Mapping[str, Any]]:
    """The objects inside a JSON list (anything else dropped)."""
    if type(value) is not list:
        return []
    return [item for item in value if type(item) is dict]


def number(value: Any) -> float | None:
    """A finite number, or None (bools, strings, NaN and infinities are not numbers here)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    return None


def text(value: Any) -> str:
    """A display string: '' for None, the value itself for strings, str() otherwise."""
    if value is None:
        return ""
    return value if type(value) is str else str(value)


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...` through JSON objects; None as soon as a step is missing."""
    for key in keys:
        if type(value) is not dict:
            return None
        value = value.get(key)
    return value
