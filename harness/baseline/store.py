"""Baseline files: strict validation of run payloads, and the store of NAME.json files.

Files are read by `harness.results.schema.load_run`; `check_comparable` is the stricter check
that comparison adds (a mistyped sample would silently change a verdict, so it is an error
here where the report would show a blank).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from harness.baseline.config import (
    BASELINE_NAME_RE,
    BASELINE_SCHEMA,
    KEPT_CASE_KEYS,
    METRICS,
    RESULTS_SCHEMA,
    SAMPLE_METRICS,
    MetricSpec,
)
from harness.errors import ConfigError, ResultsError
from harness.results.schema import (
    Case,
    Fingerprint,
    JsonObject,
    RunResults,
    as_run,
    check_envelope,
    load_run,
)

# --------------------------------------------------------------------------- validation


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ok_values(case: Case, spec: MetricSpec) -> list[float]:
    """The values a metric has in a case: ok samples only, or the single case-level value."""
    # Validation let null through (a repeat that measured nothing); the model reads NaN and
    # infinities as None too, so both are skipped here.
    return [v for v in spec.values(case) if v is not None]


def case_p50s(case: Case) -> dict[str, float]:
    return {
        spec.name: statistics.median(values)
        for spec in METRICS
        if (values := ok_values(case, spec))
    }


def case_key(case: Case) -> str:
    """How a case is matched between runs: its id, qualified by its suite when it has one."""
    return f"{case.suite}::{case.id}" if case.suite else case.id


def _check_optional_number(source: str, where: str, value: object) -> None:
    if value is not None and not is_number(value):
        raise ResultsError(f"{source}: {where} is {value!r}, expected a number or null")


def _validate_case(source: str, where: str, case: object) -> None:
    if not isinstance(case, dict):
        raise ResultsError(f"{source}: {where} is {type(case).__name__}, expected an object")
    case_id = case.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise ResultsError(f"{source}: {where} has id {case_id!r}, expected a non-empty string")
    samples = case.get("samples") or []
    if not isinstance(samples, list):
        raise ResultsError(f"{source}: {where}.samples is not a list ({case_id!r})")
    for j, sample in enumerate(samples):
        at = f"{where}.samples[{j}]"
        if not isinstance(sample, dict):
            raise ResultsError(f"{source}: {at} is not an object ({case_id!r})")
        if not isinstance(sample.get("outcome"), str):
            raise ResultsError(f"{source}: {at}.outcome is {sample.get('outcome')!r}, expected str")
        for metric in SAMPLE_METRICS:
            _check_optional_number(source, f"{at}.{metric}", sample.get(metric))
    for spec in METRICS:
        if not spec.per_sample:
            section, key = spec.name.split(".")
            block = case.get(section)
            if block is not None and not isinstance(block, dict):
                raise ResultsError(f"{source}: {where}.{section} is not an object ({case_id!r})")
            _check_optional_number(source, f"{where}.{spec.name}", (block or {}).get(key))


def check_comparable(data: JsonObject, source: str, *, unique: bool) -> None:
    """Check the parts of a results/baseline document that comparison relies on.

    Runs after `check_envelope` accepted the document; raises ResultsError naming `source`
    (a file or a run id), where, and what is wrong. `unique` rejects two cases with the same
    key, which would make matching ambiguous.
    """
    fingerprint = data.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, dict):
        raise ResultsError(f"{source}: fingerprint is not an object")
    seen: dict[str, int] = {}
    for i, case in enumerate(data.get("cases", [])):
        _validate_case(source, f"cases[{i}]", case)
        key = case_key(Case.from_json(case))
        if unique and key in seen:
            raise ResultsError(f"{source}: cases[{i}] repeats case {key!r} of cases[{seen[key]}]")
        seen[key] = i


def validate_payload(
    data: object, source: str, schemas: Sequence[str], *, unique: bool
) -> RunResults:
    """The model of a document in memory, checked as strictly as a loaded one."""
    document = check_envelope(data, source, tuple(schemas))
    check_comparable(document, source, unique=unique)
    return RunResults.from_json(document)


def load_comparable(path: str | Path) -> RunResults:
    """A run's results.json (or a run folder holding one), checked for comparison."""
    return load_run(path, check=partial(check_comparable, unique=False))


# ------------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class Baseline:
    """A loaded baseline: the fingerprint of the machine and the cases it measured."""

    name: str
    path: Path
    run_id: str | None
    started_at: str | None
    simulated: bool
    fingerprint: Fingerprint
    cases: tuple[Case, ...]

    @classmethod
    def from_payload(cls, name: str, path: Path, data: RunResults | JsonObject) -> Baseline:
        run = as_run(data)
        return cls(
            name=name,
            path=path,
            run_id=run.run_id,
            started_at=run.started_at,
            simulated=run.simulated,
            fingerprint=run.fingerprint,
            cases=run.cases,
        )

    def by_key(self) -> dict[str, Case]:
        return {case_key(case): case for case in self.cases}


def _baseline_document(name: str, payload: JsonObject) -> dict[str, Any]:
    # Built from the JSON as it was read, so a saved baseline keeps every kept key verbatim.
    return {
        "schema": BASELINE_SCHEMA,
        "name": name,
        "run_id": payload.get("run_id"),
        "started_at": payload.get("started_at"),
        "simulated": bool(payload.get("simulated")),
        "fingerprint": payload.get("fingerprint") or {},
        "cases": [{k: case[k] for k in KEPT_CASE_KEYS if k in case} for case in payload["cases"]],
    }


def _write_atomically(path: Path, text: str) -> None:
    # A killed process must never leave a half-written baseline that CI would then reject.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BaselineStore:
    """The baselines folder: NAME.json files and NAME.history.jsonl logs of later runs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, name: str) -> Path:
        if not BASELINE_NAME_RE.match(name):
            raise ConfigError(
                f"baseline name {name!r} is not usable as a file name; "
                "use letters, digits, '.', '_' and '-', e.g. 'nightly-rtx4080'"
            )
        return self.root / f"{name}.json"

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if not p.name.startswith("."))

    def save(self, name: str, payload: RunResults | JsonObject) -> Path:
        """Write NAME.json from a results payload; sorted keys and indent=1 for clean diffs."""
        path = self.path_for(name)
        document = payload.raw if isinstance(payload, RunResults) else payload
        source = f"run {document.get('run_id')!r}" if isinstance(document, Mapping) else "payload"
        validate_payload(document, source, (RESULTS_SCHEMA,), unique=True)
        text = json.dumps(_baseline_document(name, document), sort_keys=True, indent=1)
        _write_atomically(path, text + "\n")
        return path

    def resolve(self, name_or_path: str | Path) -> Path:
        text = str(name_or_path)
        as_path = Path(text)
        looks_like_path = os.sep in text or "/" in text or text.endswith(".json")
        if looks_like_path or as_path.is_file():
            return as_path / "results.json" if as_path.is_dir() else as_path
        return self.path_for(text)

    def load(self, name_or_path: str | Path) -> Baseline:
        """Load NAME (from the store) or a path to a baseline or results.json file."""
        path = self.resolve(name_or_path)
        if not path.is_file():
            known = ", ".join(self.names()) or "none"
            raise ResultsError(
                f"baseline {str(name_or_path)!r} not found: {path} does not exist "
                f"(baselines in {self.root}: {known}); create one with "
                "`pytest ... --save-baseline NAME`"
            )
        run = load_run(
            path,
            (BASELINE_SCHEMA, RESULTS_SCHEMA),
            check=partial(check_comparable, unique=True),
        )
        return Baseline.from_payload(run.name or path.stem, path, run)

    def history_path(self, name: str) -> Path:
        return self.path_for(name).with_suffix(".history.jsonl")

    def append_history(self, name: str, payload: RunResults | JsonObject) -> Path:
        """Append one line per run: run id, start time and every case's p50 per metric."""
        path = self.history_path(name)
        run = as_run(payload)
        entry = {
            "run_id": run.run_id,
            "started_at": run.started_at,
            "cases": {case_key(c): case_p50s(c) for c in run.cases},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return path

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every recorded run, oldest first; [] when nothing was recorded yet."""
        path = self.history_path(name)
        if not path.is_file():
            return []
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        # A run killed mid-append leaves a final line without its newline: drop it rather
        # than make every later read fail.
        complete = lines[:-1]
        entries: list[dict[str, Any]] = []
        for number, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ResultsError(
                    f"{path}:{number}:{exc.colno}: not valid JSON: {exc.msg}"
                ) from None
            if not isinstance(entry, dict):
                raise ResultsError(f"{path}:{number}: expected an object per line")
            entries.append(entry)
        return entries
