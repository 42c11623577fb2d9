"""The batch API's routes as a FastAPI app (its OpenAPI page at /docs, schema at /openapi.json).

    POST   /v1/files                   multipart upload (purpose=batch)
    GET    /v1/files                   list, newest first (purpose, limit, order, after)
    GET    /v1/files/{id}              the file object
    DELETE /v1/files/{id}              delete it (refused while a batch still reads it)
    GET    /v1/files/{id}/content      its bytes
    POST   /v1/batches                 create (input_file_id, endpoint, completion_window)
    GET    /v1/batches                 list, newest first (limit, after)
    GET    /v1/batches/{id}            retrieve
    POST   /v1/batches/{id}/cancel     cancel

Every error is `{"error": {"message", "type", "param", "code"}}` (openai_errors.py). The
routes are plain `def`s: SQLite and file copies block, so FastAPI runs them in its thread
pool. `Gate` (gate.py) checks the API key and the body size before any body is read.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from harness.batch.jsonl import CHAT_URL
from harness.batchapi import openai_errors
from harness.batchapi.gate import Gate, digits
from harness.batchapi.openai_errors import UNCLOSED, UNCLOSED_MESSAGE, OpenAIError
from harness.batchapi.store import Store, batch_object, file_object, new_id
from harness.batchapi.worker import BatchWorker, CancelRefused


@dataclass(frozen=True)
class BatchBackend:
    """What the routes work on: the job store, the batch worker, and the key they require."""

    store: Store
    worker: BatchWorker
    api_key: str | None = None


class _App(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema without its 422s: validation errors are answered 400 (ErrorBody)."""
        schema = super().openapi()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        return schema


def create_app(backend: BatchBackend) -> FastAPI:
    app = _App(
        title="harness serve-batch",
        summary="OpenAI's batch API (/v1/files, /v1/batches) over a local model server",
        version="1",
    )
    app.state.backend = backend
    # Documents the bearer scheme (the /docs "Authorize" button); Gate enforces it.
    auth = [Depends(HTTPBearer(auto_error=False))] if backend.api_key else []
    app.include_router(router, dependencies=auth)
    app.add_middleware(Gate, api_key=backend.api_key)
    openai_errors.install(app)
    return app


# -- dependencies and request types ---------------------------------------------------------
async def _backend(request: Request) -> BatchBackend:
    backend: BatchBackend = request.app.state.backend
    return backend


Service = Annotated[BatchBackend, Depends(_backend)]


def _limit(low: int, high: int) -> BeforeValidator:
    """A query integer in [low, high], whose error says so (not pydantic's two messages)."""

    def check(value: Any) -> int:
        text = str(value)
        if not digits(text) or not low <= int(text) <= high:
            raise PydanticCustomError("limit_range", f"must be an integer from {low} to {high}")
        return int(text)

    return BeforeValidator(check)


BatchLimit = Annotated[int, _limit(1, 100), Query(description="page size, 1 to 100")]
FileLimit = Annotated[int, _limit(1, 10_000), Query(description="page size, 1 to 10,000")]
MetadataKey = Annotated[str, StringConstraints(max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]


class CreateBatch(BaseModel):
    """The body of POST /v1/batches, as OpenAI defines it."""

    model_config = ConfigDict(extra="forbid")

    input_file_id: str = Field(description="an uploaded file's id (POST /v1/files)")
    endpoint: Literal["/v1/chat/completions"]
    completion_window: Literal["24h"]
    metadata: Annotated[dict[MetadataKey, MetadataValue], Field(max_length=16)] | None = None


class ErrorDetail(BaseModel):
    message: str
    type: Literal["invalid_request_error", "server_error"]
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """Every error answer (OpenAI's shape)."""

    error: ErrorDetail


_ERRORS = {400: "malformed request", 401: "missing or wrong API key", 404: "no such object",
           409: "not allowed in the object's state", 413: "body over 512 MiB"}  # fmt: skip
router = APIRouter(
    prefix="/v1",
    responses={status: {"model": ErrorBody, "description": why} for status, why in _ERRORS.items()},
)


# -- files ----------------------------------------------------------------------------------
@router.post("/files", summary="Upload a batch input file (JSONL)")
def upload_file(
    service: Service,
    request: Request,
    file: Annotated[UploadFile | None, File(description="the JSONL input")] = None,
    purpose: Annotated[str | None, Form(description="must be 'batch'")] = None,
) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.scope.get(UNCLOSED):  # python-multipart let a cut-off body through after all
        raise OpenAIError(400, UNCLOSED_MESSAGE, param="file")
    if kind != "multipart/form-data":
        raise OpenAIError(400, f"Content-Type is {kind or 'missing'!r}; upload the file as "
                          "multipart/form-data with fields `purpose` and `file`")  # fmt: skip
    if purpose != "batch":
        raise OpenAIError(400, f"purpose {purpose!r} is not supported; this server takes "
                          "purpose 'batch'", param="purpose")  # fmt: skip
    if file is None or not file.filename:
        raise OpenAIError(400, "no `file` part with a filename in the upload", param="file")
    file_id = new_id("file")
    path = service.worker.file_path(file_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")  # a crash mid-copy leaves no file under a real id
    with partial.open("wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
    partial.replace(path)
    row = service.store.add_file("batch", file.filename, path.stat().st_size, file_id)
    return file_object(row)


@router.get("/files", summary="List files, newest first")
def list_files(
    service: Service,
    limit: FileLimit = 10_000,
    after: str | None = None,
    order: Literal["asc", "desc"] = "desc",
    purpose: str | None = None,
) -> dict[str, Any]:
    if after is not None and service.store.get_file(after) is None:
        raise OpenAIError(400, f"after {after!r} is not a file id", param="after")
    rows, more = service.store.list_files(limit, after, newest_first=order == "desc",
                                          purpose=purpose)  # fmt: skip
    return _page([file_object(r) for r in rows], more)


@router.get("/files/{file_id}", summary="Retrieve a file object")
def get_file(service: Service, file_id: str) -> dict[str, Any]:
    return file_object(_file(service, file_id))


@router.delete("/files/{file_id}", summary="Delete a file and its content")
def delete_file(service: Service, file_id: str) -> dict[str, Any]:
    _file(service, file_id)
    reader = service.store.batch_reading(file_id)
    if reader is not None:
        raise OpenAIError(409, f"file {file_id!r} is the input of batch {reader!r}, which is "
                          "still running; cancel it or wait for it to finish first",
                          param="file_id", code="file_in_use")  # fmt: skip
    service.store.delete_file(file_id)
    service.worker.file_path(file_id).unlink(missing_ok=True)
    return {"id": file_id, "object": "file", "deleted": True}


@router.get("/files/{file_id}/content", summary="Download a file's bytes",
            response_class=FileResponse)  # fmt: skip
def file_content(service: Service, file_id: str) -> FileResponse:
    path = service.worker.file_path(_file(service, file_id)["id"])
    if not path.exists():
        raise OpenAIError(404, f"the content of file {file_id!r} is gone from the data "
                          "directory", code="file_not_found")  # fmt: skip
    return FileResponse(path, media_type="application/jsonl")


def _file(service: BatchBackend, file_id: str) -> dict[str, Any]:
    row = service.store.get_file(file_id)
    if row is None:
        raise OpenAIError(404, f"No such File object: {file_id!r}", param="file_id",
                          code="file_not_found")  # fmt: skip
    return row


# -- batches --------------------------------------------------------------------------------
@router.post("/batches", summary="Create a batch from an uploaded file")
def create_batch(service: Service, body: CreateBatch) -> dict[str, Any]:
    if service.store.get_file(body.input_file_id) is None:
        raise OpenAIError(400, f"input_file_id {body.input_file_id!r} is not an uploaded file; "
                          "upload it with POST /v1/files first", param="input_file_id")  # fmt: skip
    row = service.store.add_batch(body.input_file_id, CHAT_URL, body.completion_window,
                                  body.metadata)  # fmt: skip
    service.worker.submit(row["id"])
    return batch_object(row)


@router.get("/batches", summary="List batches, newest first")
def list_batches(service: Service, limit: BatchLimit = 20,
                 after: str | None = None) -> dict[str, Any]:  # fmt: skip
    if after is not None and service.store.get_batch(after) is None:
        raise OpenAIError(400, f"after {after!r} is not a batch id", param="after")
    rows, more = service.store.list_batches(limit, after)
    return _page([batch_object(r) for r in rows], more)


@router.get("/batches/{batch_id}", summary="Retrieve a batch")
def get_batch(service: Service, batch_id: str) -> dict[str, Any]:
    return _batch(service, batch_id)


@router.post("/batches/{batch_id}/cancel", summary="Cancel a batch (answers so far are kept)")
def cancel_batch(service: Service, batch_id: str) -> dict[str, Any]:
    _batch(service, batch_id)  # 404 first
    try:
        service.worker.cancel(batch_id)
    except CancelRefused as exc:
        raise OpenAIError(409, str(exc), code="batch_not_cancellable") from None
    return _batch(service, batch_id)


def _batch(service: BatchBackend, batch_id: str) -> dict[str, Any]:
    row = service.store.get_batch(batch_id)
    if row is None:
        raise OpenAIError(404, f"No such Batch object: {batch_id!r}", param="batch_id",
                          code="batch_not_found")  # fmt: skip
    live = service.worker.live_counts(batch_id)
    if live is not None:
        row["completed"], row["failed"] = live
    return batch_object(row)


def _page(data: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}  # fmt: skip
