"""The run's results on disk: a crash-safe JSONL as cases finish, `results.json` at the end.

Layout (docs/results-schema.md): `reports/runs/<run-id>/results.jsonl` gets a header line
and then one line per finished case, flushed and fsynced before the next case starts, so a
killed run keeps every finished case; `results.json` is assembled from those lines (never
from live objects) and the folder is copied to `reports/latest/`. Readers load it typed, through
`harness.results.schema.load_run`, which also owns the schema string.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from harness.errors import ResultsError
from harness.results.schema import SCHEMA


def section_kinds() -> dict[str, str]:
    """Every results section a registered suite declares: "list" or "object".

    Asked of the suites (harness/matrix/registry.py), so a new suite's section keeps every value
    it records, and `finalize` gives each declared section its shape even when empty.
    """
    from harness.matrix.registry import current

    return {section.name: section.kind for section in current().result_sections()}


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON so readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, sort_keys=False, default=str)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunWriter:
    """Appends finished cases and sections of one run; only the controller writes."""

    def __init__(
        self,
        reports_dir: Path,
        run_id: str | None = None,
        *,
        started_at: str | None = None,
        started_ns: int | None = None,
    ) -> None:
        self.run_id = run_id or new_run_id()
        self.reports_dir = reports_dir
        self.run_dir = reports_dir / "runs" / self.run_id
        self.run_dir.mkdir(parents=True, exist_ok=False)
        self.jsonl_path = self.run_dir / "results.jsonl"
        # The writer is made when the first case finishes; the run began with the session.
        self.started_at = started_at or now_iso()
        self._started_ns = started_ns if started_ns is not None else time.perf_counter_ns()
        self._handle: IO[str] | None = None

    def start(self, fingerprint: Mapping[str, Any], *, simulated: bool) -> None:
        self._handle = self.jsonl_path.open("a", encoding="utf-8")
        header = {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "simulated": simulated,
            "fingerprint": dict(fingerprint),
        }
        self._append(header)

    def add_case(self, case: Mapping[str, Any]) -> None:
        self._append({"kind": "case", **case})

    def add_section(self, name: str, value: Any) -> None:
        """A list section gets `value` appended; an object section is replaced by it."""
        self._append({"kind": "section", "section": name, "value": value})

    def _append(self, record: Mapping[str, Any]) -> None:
        if self._handle is None:
            raise ResultsError(f"{self.jsonl_path}: writer used before start()")
        self._handle.write(json.dumps(record, default=str) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def finalize(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Build results.json from the JSONL, write it, and refresh reports/latest/."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        payload = payload_from_jsonl(self.jsonl_path)
        payload["finished_at"] = now_iso()
        payload["duration_s"] = round((time.perf_counter_ns() - self._started_ns) / 1e9, 3)
        payload.update(extra or {})
        write_json_atomic(self.run_dir / "results.json", payload)
        return payload

    def publish_latest(self) -> Path:
        """Copy the run folder to reports/latest/ (replacing it whole)."""
        latest = self.reports_dir / "latest"
        staging = self.reports_dir / f".latest-{self.run_id}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(self.run_dir, staging)
        shutil.rmtree(latest, ignore_errors=True)
        os.replace(staging, latest)
        return latest


def payload_from_jsonl(path: Path) -> dict[str, Any]:
    """Reassemble a results payload from a (possibly cut short) results.jsonl."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read ({exc.strerror})") from exc
    if not lines:
        raise ResultsError(f"{path}: empty; the run wrote no header")
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except ValueError:
            if number == len(lines):
                break  # a line cut off by a kill mid-write: everything before it stands
            raise ResultsError(f"{path}:{number}: not a JSON line") from None
    header = records[0]
    if header.get("schema") != SCHEMA:
        raise ResultsError(f"{path}:1: schema is {header.get('schema')!r}, expected {SCHEMA!r}")
    kinds = section_kinds()
    payload: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": header["run_id"],
        "started_at": header["started_at"],
        "simulated": header.get("simulated", False),
        "fingerprint": header.get("fingerprint", {}),
        "cases": [],
        **{name: [] if kind == "list" else None for name, kind in kinds.items()},
    }
    for number, record in enumerate(records[1:], start=2):
        kind = record.pop("kind", None)
        if kind == "case":
            payload["cases"].append(record)
        elif kind == "section":
            name, value = record["section"], record["value"]
            if name not in kinds:
                raise ResultsError(
                    f"{path}:{number}: results section {name!r} is declared by no suite. "
                    "Fix: declare it with ResultSection in the suite's Suite (docs/extending.md)"
                )
            if kinds[name] == "list":
                payload[name].append(value)
            else:
                payload[name] = value
    return payload
