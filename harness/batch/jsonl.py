"""OpenAI batch input, read as a stream and validated line by line.

A line is `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {"model",
"messages", ...}}`. A line that breaks a rule becomes a `LineError` naming its line number
and the rest of the file still runs, since one bad row must not cost a 170,000-row job.

Only the set of custom_ids seen so far is kept (to reject duplicates); the requests
themselves are yielded one at a time, so memory does not grow with the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.errors import ConfigError

CHAT_URL = "/v1/chat/completions"
_ROLES = frozenset({"system", "user", "assistant", "tool"})


@dataclass(frozen=True)
class BatchRequest:
    """One valid input line."""

    line: int
    custom_id: str
    messages: tuple[Mapping[str, Any], ...]
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def system_prompt(self) -> str | None:
        """The leading system message's text: the key conversation batching groups by."""
        first = self.messages[0] if self.messages else None
        if first is not None and first.get("role") == "system":
            return str(first.get("content", ""))
        return None


@dataclass(frozen=True)
class LineError:
    """An input line that cannot run; it still gets one error record in the output."""

    line: int
    custom_id: str | None
    message: str
    code: str = "invalid_request"


def iter_lines(path: Path) -> Iterator[str]:
    """The file's lines, read lazily; a missing file is a ConfigError naming it."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read batch input {str(path)!r}: {exc.strerror}") from exc
    with handle:
        yield from handle


def count_lines(path: Path) -> int:
    """Non-blank lines, counted in 1 MiB blocks (for progress totals) without parsing."""
    total = 0
    last = b"\n"
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                total += block.count(b"\n")
                last = block[-1:]
    except OSError as exc:
        raise ConfigError(f"cannot read batch input {str(path)!r}: {exc.strerror}") from exc
    return total + (last != b"\n")


def read_requests(lines: Iterable[str]) -> Iterator[BatchRequest | LineError]:
    """Validate each line; yields requests and errors in input order, lazily."""
    seen: set[str] = set()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        item = parse_line(number, text)
        if isinstance(item, BatchRequest):
            if item.custom_id in seen:
                item = LineError(
                    number, item.custom_id, f"line {number}: duplicate custom_id {item.custom_id!r}"
                )
            else:
                seen.add(item.custom_id)
        yield item


def parse_line(number: int, text: str) -> BatchRequest | LineError:
    """One line to a request, or to an error that says what is wrong with it."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        return LineError(number, None, f"line {number}: not valid JSON ({exc})")
    if not isinstance(raw, dict):
        return LineError(number, None, f"line {number}: expected a JSON object")
    custom_id = raw.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return LineError(number, None, f"line {number}: missing custom_id (a non-empty string)")
    problem = _problem(raw)
    if problem:
        return LineError(number, custom_id, f"line {number}: {problem}")
    body: dict[str, Any] = raw["body"]
    model = body.get("model")
    params = {k: v for k, v in body.items() if k not in ("model", "messages")}
    return BatchRequest(
        line=number,
        custom_id=custom_id,
        messages=tuple(MappingProxyType(dict(m)) for m in body["messages"]),
        model=model if isinstance(model, str) and model else None,
        params=MappingProxyType(params),
    )


def _problem(raw: dict[str, Any]) -> str | None:
    if raw.get("method", "POST") != "POST":
        return f"method is {raw.get('method')!r}, expected 'POST'"
    if raw.get("url") != CHAT_URL:
        return f"url is {raw.get('url')!r}, expected {CHAT_URL!r}"
    body = raw.get("body")
    if not isinstance(body, dict):
        return "body is missing or not an object"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "body has no messages (a non-empty list)"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"messages[{index}] needs a role, one of: {', '.join(sorted(_ROLES))}"
        if not isinstance(message.get("content", ""), str):
            return f"messages[{index}].content must be a string"
    return None
