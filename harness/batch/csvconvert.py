"""CSV rows to OpenAI batch JSONL: one request per row, the user message from a template.

The template uses `{column}` placeholders (Python format syntax, so `{{` is a literal brace).
Every placeholder is checked against the CSV header before any row is written, so a typo
fails at once, naming the column and the header instead of failing on row 1 of 170,000.

Rows can be marked important (a column, or a list of custom_ids): their user message gets
`"important": true`, which the `importance` and `hybrid` trims keep (harness/batch/trim.py)
and which is stripped before a request is sent.
"""

from __future__ import annotations

import csv
import json
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.batch.jsonl import CHAT_URL
from harness.errors import ConfigError

ID_COLUMNS = ("custom_id", "id")
_TRUE = frozenset({"1", "true", "yes", "y", "x"})
_FALSE = frozenset({"", "0", "false", "no", "n"})


@dataclass
class ImportantRows:
    """Which rows are important: a column's truthy cells and/or listed custom_ids."""

    column: str | None = None
    ids: frozenset[str] = frozenset()
    marked: int = 0
    _seen: set[str] = field(default_factory=set)

    @classmethod
    def from_args(cls, column: str | None, ids: str | None) -> ImportantRows | None:
        if column is None and ids is None:
            return None
        listed = frozenset(i.strip() for i in (ids or "").split(",") if i.strip())
        if ids is not None and not listed:
            raise ConfigError(f"--important-ids {ids!r} lists no custom_id")
        return cls(column=column, ids=listed)

    def check_header(self, path: Path, header: list[str]) -> None:
        if self.column is not None and self.column not in header:
            raise ConfigError(
                f"--important-column {self.column!r} is not in {path.name}; "
                f"its header is: {', '.join(header)}"
            )

    def is_important(self, path: Path, line: int, custom_id: str, row: dict[str, str]) -> bool:
        important = custom_id in self.ids
        if important:
            self._seen.add(custom_id)
        if self.column is not None:
            value = (row.get(self.column) or "").strip()
            if value.lower() in _TRUE:
                important = True
            elif value.lower() not in _FALSE:
                raise ConfigError(
                    f"{path.name}:{line}: column {self.column!r} is {value!r}; write 1, true, "
                    "yes, y or x for an important row, and 0, false, no, n or nothing otherwise"
                )
        self.marked += important
        return important

    def check_all_found(self, path: Path) -> None:
        missing = sorted(self.ids - self._seen)
        if missing:
            raise ConfigError(
                f"--important-ids: no row of {path.name} has custom_id "
                f"{', '.join(repr(m) for m in missing)}"
            )


def template_fields(template: str) -> list[str]:
    """The placeholder names in `template`; a malformed template is a ConfigError."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"template {template!r} is not valid: {exc}") from exc
    names: list[str] = []
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name.isidentifier() and not name.replace(" ", "_").isidentifier():
            raise ConfigError(
                f"template placeholder {{{name}}} is not a column name; "
                "write {column} (and {{ or }} for a literal brace)"
            )
        names.append(name)
    return names


def _rows(path: Path) -> Iterator[tuple[list[str], dict[str, str], int]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ConfigError(f"cannot read CSV {str(path)!r}: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        for row in reader:
            yield header, row, reader.line_num  # the row's last line in the file


def csv_to_batch(
    csv_path: Path,
    system_prompt: str,
    template: str,
    out: Path,
    *,
    model: str | None = None,
    id_column: str | None = None,
    max_tokens: int | None = None,
    important: ImportantRows | None = None,
) -> int:
    """Write one batch line per CSV row to `out`; returns the number of lines."""
    fields = template_fields(template)
    count = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", encoding="utf-8") as sink:
        for header, row, line_num in _rows(csv_path):
            if count == 0:
                id_column = _check_header(csv_path, header, fields, id_column)
                if important is not None:
                    important.check_header(csv_path, header)
            count += 1
            custom_id = (row.get(id_column) or "").strip() if id_column else ""
            custom_id = custom_id or f"row-{count}"
            user = template.format_map({name: row.get(name) or "" for name in fields})
            line = _line(custom_id, system_prompt, user, model, max_tokens)
            if important is not None and important.is_important(csv_path, line_num, custom_id, row):
                line["body"]["messages"][-1]["important"] = True
            sink.write(json.dumps(line, ensure_ascii=False) + "\n")
    if count == 0:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"CSV {str(csv_path)!r} has no data rows")
    if important is not None:
        try:
            important.check_all_found(csv_path)
        except ConfigError:
            tmp.unlink(missing_ok=True)
            raise
    tmp.replace(out)  # a half-written batch never takes the real name
    return count


def _check_header(
    path: Path, header: list[str], fields: list[str], id_column: str | None
) -> str | None:
    shown = ", ".join(header)
    for name in fields:
        if name not in header:
            raise ConfigError(
                f"template column {{{name}}} is not in {path.name}; its header is: {shown}"
            )
    if id_column is not None and id_column not in header:
        raise ConfigError(f"--id-column {id_column!r} is not in {path.name}; header: {shown}")
    return id_column or next((c for c in ID_COLUMNS if c in header), None)


def _line(
    custom_id: str, system: str, user: str, model: str | None, max_tokens: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]
    }
    if model:
        body = {"model": model, **body}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return {"custom_id": custom_id, "method": "POST", "url": CHAT_URL, "body": body}
