"""Every exception the harness raises on purpose, in one tree.

    HarnessError
    +-- ConfigError                 bad user input: a matrix, an option, a spec string
    |   +-- MatrixError             a matrix file; names the file, line and key
    +-- EngineError                 talking to a model server went wrong
    |   +-- ServerUnreachable       nothing answers at the address
    |   +-- ModelNotFound           404 "model 'X' not found": the model is not pulled
    |   +-- ServerBusy              503 queue full; worth a retry
    |   +-- RequestRejected         any other 4xx (bad option type, input too long, ...)
    |   +-- ServerError             a 5xx that is none of the below
    |   |   +-- OutOfMemory         the server's text says it ran out of memory
    |   |   +-- LoadTimeout         the runner did not start in time
    |   +-- StreamError             the stream broke after it started
    |   |   +-- ErrorLine           an {"error": ...} line mid-stream (runner crash)
    |   |   +-- StreamIncomplete    the stream ended without its done chunk
    |   |   +-- MalformedChunk      a line that is not the JSON the protocol promises
    |   |   +-- EmptyAnswer         a finished answer with no content, or only template tokens
    |   +-- RequestTimeout          no byte within the read timeout
    +-- ResultsError                a stored run, baseline or results file is unusable

Callers catch the narrowest class they can act on; `outcome` names the class in results
so a report can count failures by kind without importing this module.
"""

from __future__ import annotations

# Substrings Ollama uses when memory runs out (server/sched.go, llm/server.go and the
# runner's CUDA errors); matched case-insensitively.
OOM_MARKERS: tuple[str, ...] = (
    "out of memory",
    "cudamalloc failed",
    "failed to allocate",
    "insufficient memory",
    "requires more system memory",
)


def looks_like_oom(text: str) -> bool:
    """True when a server's error text reports that memory ran out."""
    lowered = text.lower()
    return any(marker in lowered for marker in OOM_MARKERS)


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    outcome = "error"


class ConfigError(HarnessError):
    """User input (a file, an option, a spec) that the harness cannot use."""

    outcome = "config_error"


class MatrixError(ConfigError):
    """A matrix file that is not valid; the message names file, line, key and fix."""


class EngineError(HarnessError):
    """A request to a model server that did not produce a measurement."""

    outcome = "error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachable(EngineError):
    outcome = "unreachable"


class ModelNotFound(EngineError):
    outcome = "model_not_found"


class ServerBusy(EngineError):
    outcome = "busy"


class RequestRejected(EngineError):
    outcome = "rejected"


class ServerError(EngineError):
    outcome = "server_error"


class OutOfMemory(ServerError):
    outcome = "oom"


class LoadTimeout(ServerError):
    outcome = "timeout"


class StreamError(EngineError):
    outcome = "stream_error"


class ErrorLine(StreamError):
    outcome = "crash"


class StreamIncomplete(StreamError):
    outcome = "incomplete"


class MalformedChunk(StreamError):
    outcome = "malformed"


class EmptyAnswer(StreamError):
    """The stream finished but said nothing: not a successful request."""

    outcome = "empty"


class RequestTimeout(EngineError):
    outcome = "timeout"


class ResultsError(HarnessError):
    """A stored results or baseline file that cannot be read as promised."""

    outcome = "results_error"
