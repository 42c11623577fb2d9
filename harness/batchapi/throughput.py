"""The throughput suite through a batch server: one size as one batch, same figures as in-process.

With `--batch-api URL` the suite sends each size's synthetic batch (the same requests the
in-process engine would run) to the server, and turns the downloaded answers into the same
`throughput` entry `harness.batch.throughput.entry_from` makes, plus `batch_api`: time
queued, time per status and upload time. The server chooses how it runs the batch, so the
entry's strategy is `batch-api`; tokens_evaluated is unknown from outside (None).

Per-request times come from each answer's `harness.latency_s` when the server is the
harness's own; another server's answers carry none, so each request gets an equal share of
the wall time (the extrapolation's bootstrap then only resamples tokens).
"""

from __future__ import annotations

from typing import Any

from harness.batch.extrapolate import SizeRun
from harness.batch.matrix_section import ThroughputSection
from harness.batch.synthetic import synthetic_batch
from harness.batch.throughput import SizeResult
from harness.batchapi.client import BatchApiClient, BatchApiResult, request_line

STRATEGY = "batch-api"


def batch_lines(section: ThroughputSection, model: str, size: int) -> list[str]:
    """The suite's synthetic batch of `size` as batch-API input lines."""
    requests = synthetic_batch(size, system_tokens=section.system_prompt_tokens,
                               user_tokens=section.user_tokens,
                               num_predict=section.num_predict)  # fmt: skip
    lines = []
    for r in requests:
        body = {"model": model, "messages": [dict(m) for m in r.messages], **r.params}
        lines.append(request_line(r.custom_id, body))
    return lines


def run_size_via_api(
    client: BatchApiClient,
    section: ThroughputSection,
    *,
    model: str,
    size: int,
    time_scale: float,
    simulated: bool,
) -> SizeResult:
    """Run one size through the batch server at `client`."""
    result = client.run_batch(batch_lines(section, model, size))
    entry = entry_from_api(result, model=model, size=size, time_scale=time_scale,
                           simulated=simulated)  # fmt: skip
    share = entry["total_s"] / max(1, result.succeeded)
    request_s = tuple(
        float((r.get("harness") or {}).get("latency_s") or share / time_scale) * time_scale
        for r in result.output
    )
    run = SizeRun(
        size=size,
        total_s=entry["total_s"],
        request_s=request_s,
        prompt_tokens=result.usage("prompt_tokens"),
        completion_tokens=result.usage("completion_tokens"),
    )
    return SizeResult(entry, run, None)


def entry_from_api(
    r: BatchApiResult, *, model: str, size: int, time_scale: float, simulated: bool
) -> dict[str, Any]:
    """The `throughput` entry of one batch, keyed as the in-process engine's entries are."""
    total = r.elapsed_s * time_scale
    sent = r.prompt_tokens
    not_run = size - r.succeeded - r.failed
    errors = r.errors_by_code() | ({"not_run": not_run} if not_run else {})
    return {
        "model": model,
        "strategy": STRATEGY,
        "size": size,
        "total_s": round(total, 4),
        "req_s": round(r.succeeded / total, 4) if total > 0 else None,
        "prompt_tok_s": round(sent / total, 2) if total > 0 else None,
        "completion_tok_s": round(r.completion_tokens / total, 2) if total > 0 else None,
        "tokens_sent": sent,
        "tokens_evaluated": None,
        "token_savings": None,
        "completion_tokens": r.completion_tokens,
        "trims": 0,
        "peak_memory_bytes": None,
        "errors": r.failed + not_run,
        "errors_by_code": errors,
        "simulated": simulated,
        "batch_api": {
            "batch_id": r.batch["id"],
            "status": r.status,
            "queued_s": round(r.queued_s * time_scale, 4),
            "upload_s": round(r.upload_s, 4),
            "status_s": {k: round(v * time_scale, 4) for k, v in r.status_s.items()},
        },
    }
