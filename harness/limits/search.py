"""The search for the largest context that is good (fits), starting from the prediction.

The state is a bracket: `good` is the largest context seen good (0 before any: an empty
context trivially fits) and `bad` the smallest seen bad (the trained context + 1 before
any: the server caps there). Each probe lands strictly inside the bracket, so it always
shrinks; the search ends when at most `resolution` contexts are still undecided, so the
answer is within one resolution step of the true limit.

Where a probe lands: the estimate (the prediction, corrected by the latest measurement)
when it is inside the bracket, or one resolution step beside the bracket's edge when the
estimate says the edge is the answer (that one probe closes the bracket). Such guided
probes are taken only while the probes left can still finish a plain bisection, so the
count never exceeds floor(log2(trained context / resolution)) + 3.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.limits.predict import Prediction
from harness.limits.probe import FAILURES, ContextProbe

DEFAULT_RESOLUTION = 1024

ProbeFn = Callable[[int], ContextProbe]
EstimateFn = Callable[[Sequence[ContextProbe]], int | None]


@dataclass(frozen=True)
class SearchResult:
    """Every probe in order, and the bracket the search ended with."""

    probes: tuple[ContextProbe, ...]
    max_context: int | None  # largest good context; None when none was good
    first_bad: int | None  # smallest bad context probed
    max_probes: int
    stopped: str | None = None  # why the search ended early, if it did


def max_probes(high: int, resolution: int) -> int:
    """The bound on probes: floor(log2(range / resolution)) + 3."""
    return int(math.log2(max(high, resolution) / resolution)) + 3


def _needed(undecided: int, resolution: int) -> int:
    """Bisection probes that bring `undecided` contexts down to at most `resolution`."""
    return 0 if undecided <= resolution else math.ceil(math.log2(undecided / resolution))


def _guided(good: int, bad: int, estimate: int, resolution: int) -> int:
    if estimate <= good:
        target = good + resolution  # expected bad: closes the bracket if the estimate holds
    elif estimate >= bad:
        target = bad - resolution  # expected good: the same from the other side
    else:
        target = estimate
    return min(max(target, good + 1), bad - 1)


def next_context(
    good: int, bad: int, estimate: int | None, used: int, limit: int, resolution: int
) -> int:
    """Where the next probe goes: guided while affordable, else the bracket's middle."""
    undecided = bad - good - 1
    if estimate is not None and used + 1 + _needed(undecided, resolution) <= limit:
        return _guided(good, bad, estimate, resolution)
    return (good + bad) // 2


def search(
    probe: ProbeFn,
    estimate: EstimateFn,
    high: int,
    resolution: int = DEFAULT_RESOLUTION,
    recover: Callable[[], bool] = lambda: True,
) -> SearchResult:
    """Bracket the largest good context in [1, high] to within `resolution`."""
    good, bad = 0, high + 1
    limit = max_probes(high, resolution)
    probes: list[ContextProbe] = []
    stopped = None
    while len(probes) < limit and bad - good - 1 > resolution:
        target = next_context(good, bad, estimate(probes), len(probes), limit, resolution)
        found = probe(target)
        probes.append(found)
        good, bad = (target, bad) if found.good else (good, target)
        if found.outcome in FAILURES and not recover():
            stopped = f"the server did not come back after a {found.outcome} at {target} tokens"
            break
    return SearchResult(
        probes=tuple(probes),
        max_context=good or None,
        first_bad=bad if bad <= high else None,
        max_probes=limit,
        stopped=stopped,
    )


@dataclass(frozen=True)
class Estimator:
    """The prediction's largest fitting context, corrected by the latest measurement.

    correction = (size from /api/ps - predicted size) + (memory on the device - the part
    of the model /api/ps puts there): the prediction's own error plus the runtime's
    overhead outside Ollama's accounting (a CUDA context, for instance).
    """

    prediction: Prediction
    available_bytes: int | None
    gpu: bool

    def correction(self, probes: Sequence[ContextProbe]) -> float:
        for p in reversed(probes):
            if p.memory_bytes is not None and p.size is not None and p.size_vram is not None:
                on_device = p.size_vram if self.gpu else p.size
                return (p.size - p.predicted_bytes) + (p.memory_bytes - on_device)
        return 0.0

    def __call__(self, probes: Sequence[ContextProbe]) -> int | None:
        if self.available_bytes is None:
            return None
        return self.prediction.largest_fitting(self.available_bytes, self.correction(probes))
