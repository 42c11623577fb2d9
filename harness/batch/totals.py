"""Running totals of one batch run, and the summary it ends with."""

from __future__ import annotations

import threading
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.engines.base import NS_PER_S, StreamMeasurement


@dataclass(frozen=True)
class BatchSummary:
    """What a run did; `latencies_s` only when the engine was asked to keep them."""

    succeeded: int
    failed: int
    invalid: int
    skipped: int
    retries: int
    trims: int
    elapsed_s: float
    interrupted: bool
    prompt_tokens: int
    completion_tokens: int
    prompt_eval_s: float
    tokens_evaluated: float | None
    peak_memory_bytes: int | None
    errors: dict[str, int] = field(default_factory=dict)
    # Error records a resumed run found in its output: skipped now, still not done right.
    earlier_errors: dict[str, int] = field(default_factory=dict)
    latencies_s: tuple[float, ...] = ()
    request_prompt_tokens: tuple[int, ...] = ()
    request_completion_tokens: tuple[int, ...] = ()

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.invalid

    @property
    def clean(self) -> bool:
        """No request failed or was invalid, in this run or an earlier one into its output."""
        return self.failed == 0 and self.invalid == 0 and not self.earlier_errors

    @property
    def req_s(self) -> float:
        return self.finished / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "invalid": self.invalid,
            "skipped": self.skipped,
            "retries": self.retries,
            "trims": self.trims,
            "elapsed_s": round(self.elapsed_s, 3),
            "req_s": round(self.req_s, 3),
            "interrupted": self.interrupted,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens_evaluated": self.tokens_evaluated,
            "peak_memory_bytes": self.peak_memory_bytes,
            "errors": dict(self.errors),
        }

    def text(self) -> str:
        errors = ", ".join(
            [f"{k}={v}" for k, v in sorted(self.errors.items())]
            + [f"{k}={v} from earlier runs" for k, v in sorted(self.earlier_errors.items())]
        )
        errors = errors or "none"
        state = "interrupted" if self.interrupted else "finished"
        return (
            f"batch {state}: {self.succeeded} ok, {self.failed} failed, {self.invalid} invalid, "
            f"{self.skipped} already done; {self.elapsed_s:.1f} s, {self.req_s:.2f} req/s; "
            f"tokens {self.prompt_tokens} prompt + {self.completion_tokens} completion; "
            f"trims {self.trims}; retries {self.retries}; errors: {errors}"
        )


class RunStats:
    """Thread-safe counters, folded into a BatchSummary at the end."""

    def __init__(self, *, keep_latencies: bool, uncached_prompt_tok_s: float | None) -> None:
        self._lock = threading.Lock()
        self._rate = uncached_prompt_tok_s
        self.succeeded = self.failed = self.invalid = self.skipped = self.retries = 0
        self.trims = 0
        self.prompt_tokens = self.completion_tokens = 0
        self.prompt_eval_ns = 0
        self.evaluated = 0.0
        self.errors: Counter[str] = Counter()
        # 8 bytes a request, only when asked for (the throughput suite's bootstrap).
        self.latencies: array[float] | None = array("d") if keep_latencies else None
        self.prompts: array[int] = array("q")
        self.completions: array[int] = array("q")

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.invalid

    def ok(self, m: StreamMeasurement, latency_s: float) -> None:
        c = m.counters
        prompt = c.prompt_eval_count or 0
        with self._lock:
            self.succeeded += 1
            self.prompt_tokens += prompt
            self.completion_tokens += c.eval_count or 0
            self.prompt_eval_ns += c.prompt_eval_duration_ns or 0
            if self._rate:
                # Processed tokens: the time the server spent on the prompt at the rate of an
                # uncached prompt, capped at what was sent (see the README's definition).
                seconds = (c.prompt_eval_duration_ns or 0) / NS_PER_S
                self.evaluated += min(float(prompt), seconds * self._rate)
            if self.latencies is not None:
                self._sample(latency_s, prompt, c.eval_count or 0)

    def error(self, code: str, *, invalid: bool = False, latency_s: float | None = None) -> None:
        with self._lock:
            if invalid:
                self.invalid += 1
            else:
                self.failed += 1
                if self.latencies is not None and latency_s is not None:
                    self._sample(latency_s, 0, 0)
            self.errors[code] += 1

    def _sample(self, latency_s: float, prompt: int, completion: int) -> None:
        assert self.latencies is not None
        self.latencies.append(latency_s)
        self.prompts.append(prompt)
        self.completions.append(completion)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def summary(
        self, elapsed_s: float, interrupted: bool, peak_memory_bytes: int | None
    ) -> BatchSummary:
        with self._lock:
            return BatchSummary(
                succeeded=self.succeeded,
                failed=self.failed,
                invalid=self.invalid,
                skipped=self.skipped,
                retries=self.retries,
                trims=self.trims,
                elapsed_s=elapsed_s,
                interrupted=interrupted,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                prompt_eval_s=self.prompt_eval_ns / NS_PER_S,
                tokens_evaluated=round(self.evaluated, 1) if self._rate else None,
                peak_memory_bytes=peak_memory_bytes,
                errors=dict(self.errors),
                latencies_s=tuple(self.latencies) if self.latencies is not None else (),
                request_prompt_tokens=tuple(self.prompts),
                request_completion_tokens=tuple(self.completions),
            )
