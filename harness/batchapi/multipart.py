"""multipart/form-data, parsed from a body held in memory (POST /v1/files).

The stdlib lost its `cgi` module in 3.13, and an upload is one body of known length, so a
small parser over bytes is all that is needed: parts are split on the boundary, each part's
headers are read up to the blank line, and `name` / `filename` come from its
Content-Disposition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)="?((?<=")[^"]*|[^";]*)"?')


class MultipartError(ValueError):
    """The body is not the multipart/form-data its Content-Type claims."""


@dataclass(frozen=True)
class Part:
    """One form field; `filename` is set for file fields."""

    name: str
    data: bytes
    filename: str | None = None


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart/form-data Content-Type."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind != "multipart/form-data":
        raise MultipartError(
            f"Content-Type is {kind or 'missing'!r}; upload the file as multipart/form-data "
            "with fields `purpose` and `file`"
        )
    params = {str(k).lower(): str(v) for k, v in _PARAM.findall(content_type)}
    boundary = params.get("boundary", "")
    if not boundary:
        raise MultipartError("multipart/form-data Content-Type has no boundary parameter")
    return boundary


def parse(body: bytes, content_type: str) -> dict[str, Part]:
    """The form's parts by field name; the first wins when a name repeats."""
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise MultipartError("multipart body is not closed by its final boundary (--BOUNDARY--)")
    parts: dict[str, Part] = {}
    for chunk in chunks[1:-1]:
        part = _part(chunk)
        parts.setdefault(part.name, part)
    return parts


def _part(chunk: bytes) -> Part:
    # Each part sits between CRLF + delimiter pairs: strip the CRLF that follows the
    # delimiter and the one that precedes the next.
    chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
    head, sep, data = chunk.partition(b"\r\n\r\n")
    if not sep:
        raise MultipartError("a multipart part has no blank line between headers and data")
    disposition = ""
    for line in head.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            disposition = value.strip()
    found = _PARAM.findall(";" + disposition.partition(";")[2])
    params = {str(k).lower(): str(v) for k, v in found}
    name = params.get("name")
    if not disposition.lower().startswith("form-data") or not name:
        raise MultipartError("a multipart part has no `Content-Disposition: form-data; name=...`")
    return Part(name, data, params.get("filename"))
