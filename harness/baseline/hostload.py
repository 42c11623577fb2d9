"""A busy host or a slower server? The host's load of a case against its baseline's.

Every case records the host's load (`case["host_load"]`, see harness.hardware.busy). A
timing change measured while the host was markedly busier (a regression) or markedly
quieter (an improvement) than when the baseline was taken says more about the host than
about the server, so such a case gets the verdict `noisy`, with both loads, instead of
`regressed` or `improved`. A change against the direction of the load (slower on a quieter
host) is not explained by it and keeps its verdict. A case or baseline without load figures
(older files) is judged as before.

On the simulator the figures are not needed to tell: its counters (`prompt_tok_s` and
`decode_tok_s`, from `prompt_eval_duration` and `eval_duration`) are its modelled time,
which no host load moves (harness/sim/model_runner.py, `Pace`). When they moved, the simulator
changed and the verdict stands, however busy the host was; when they did not, whatever the
client's clock saw move (TTFT, end to end) was this host's handling: `noisy`. On a host
shared with others the load swings by half within seconds, more than the figures below
always catch (measured here: an unchanged simulator's TTFT up 38% with no figure marked).
A real server's counters are its own wall time on a host it shares, which the load moves,
so there the figures decide.

"Markedly" means on any one of the figures below: each catches what the others miss (the
load average lags, the CPU share saturates, the run queue does not see a burst that the
harness's own wake-up delay does). Requiring two to agree was tried on a 2-core host shared
with compiler builds: 7 false regressions in 20 unchanged runs, against none with any one.
A quarter more runnable tasks per CPU leaves each about a fifth less CPU time, more than the
default 10% tolerance:
    runnable tasks per CPU   x1.25 and at least 0.5 more per CPU (the 1-minute load average
                             per CPU stands in where the sampled figure is missing)
    other processes' CPU     at least 25 points more of all CPUs
    the harness's wake delay x2 and at least 1 ms more
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.results.schema import Fingerprint

QUEUE_RATIO, QUEUE_STEP = 1.25, 0.5
SHARE_STEP = 0.25
DELAY_RATIO, DELAY_STEP_MS = 2.0, 1.0
# The rates a sample may take from the server's counters, and the key naming their source.
SOURCE_KEYS = {"prompt_tok_s": "prompt_source", "decode_tok_s": "decode_source"}


def counters_modelled(*fingerprints: Fingerprint) -> bool:
    """Whether every run is on the simulator, whose counters are its modelled time."""
    return all(fp.sim is not None for fp in fingerprints)


def load_moves(metric: str, cases: Iterable[Mapping[str, Any]], *, modelled: bool) -> bool:
    """Whether the host's load can move `metric` in `cases` (a case and its baseline).

    Everything the client times can; so can the server's counters, unless they are the
    simulator's modelled time (`modelled`) in every ok sample of every case.
    """
    source = SOURCE_KEYS.get(metric)
    if not modelled or source is None:
        return True
    return any(
        s.get(source) != "server"
        for case in cases
        for s in case.get("samples") or []
        if s.get("outcome") == "ok"
    )


def _number(load: Mapping[str, Any], key: str) -> float | None:
    value = load.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _queues(
    base: Mapping[str, Any], cur: Mapping[str, Any]
) -> tuple[str, float | None, float | None]:
    """The sampled runnable tasks per CPU of both sides, else both load averages per CPU."""
    runnable_b, runnable_c = _number(base, "runnable_per_cpu"), _number(cur, "runnable_per_cpu")
    if runnable_b is not None and runnable_c is not None:
        return "runnable_per_cpu", runnable_b, runnable_c

    def per_cpu(load: Mapping[str, Any]) -> float | None:
        average, cpus = _number(load, "load_avg_1m"), _number(load, "cpu_count")
        return None if average is None or not cpus else average / cpus

    return "load_avg_per_cpu", per_cpu(base), per_cpu(cur)


def busier(base: Mapping[str, Any], cur: Mapping[str, Any]) -> list[str]:
    """The figures on which `cur` is markedly busier than `base`."""
    out: list[str] = []
    name, queue_b, queue_c = _queues(base, cur)
    if (
        queue_b is not None
        and queue_c is not None
        and queue_c >= QUEUE_RATIO * queue_b
        and queue_c - queue_b >= QUEUE_STEP
    ):
        out.append(name)
    share_b, share_c = _number(base, "other_cpu_share"), _number(cur, "other_cpu_share")
    if share_b is not None and share_c is not None and share_c - share_b >= SHARE_STEP:
        out.append("other_cpu_share")
    delay_b, delay_c = _number(base, "wake_delay_ms"), _number(cur, "wake_delay_ms")
    if (
        delay_b is not None
        and delay_c is not None
        and delay_c >= DELAY_RATIO * delay_b
        and delay_c - delay_b >= DELAY_STEP_MS
    ):
        out.append("wake_delay_ms")
    return out


def describe(load: Mapping[str, Any]) -> str:
    """One line a human reads: the load of one side."""
    parts = []
    if (runnable := _number(load, "runnable_per_cpu")) is not None:
        parts.append(f"{runnable:.2f} runnable/CPU")
    if (average := _number(load, "load_avg_1m")) is not None:
        parts.append(f"load avg {average:.2f} on {load.get('cpu_count')} CPUs")
    if (share := _number(load, "other_cpu_share")) is not None:
        parts.append(f"other processes {share:.0%} CPU")
    if (delay := _number(load, "wake_delay_ms")) is not None:
        parts.append(f"wake delay {delay:.2f} ms")
    return ", ".join(parts) or "no figures"


def _marked(base: Mapping[str, Any], cur: Mapping[str, Any], verdict: str) -> str | None:
    """How the host's load went the verdict's way, with both loads; None when it did not."""
    if verdict == "regressed":
        figures, how = busier(base, cur), "busier"
    else:
        figures, how = busier(cur, base), "quieter"
    if not figures:
        return None
    return (
        f"the host was markedly {how} than for the baseline ({', '.join(figures)}); "
        f"baseline: {describe(base)}; this run: {describe(cur)}"
    )


def load_verdict(
    base: Mapping[str, Any] | None,
    cur: Mapping[str, Any] | None,
    verdict: str,
    fixed: Sequence[str] = (),
    modelled: Sequence[str] = (),
) -> tuple[bool, str | None]:
    """Whether a case is `noisy` instead of `verdict`, and the message that says why.

    `modelled` names the metrics no host load moves (see `load_moves`; none on a real
    server) and `fixed` those of them that moved the verdict's way. Those tell exactly
    whether the simulator changed: when one moved, the verdict stands (the message says
    when the load moved too); when none did, what moved is this host's doing, whether or
    not its load figures caught it. Without modelled metrics, the figures decide.
    """
    if not base or not cur or verdict not in ("regressed", "improved"):
        return False, None
    loads = _marked(base, cur, verdict)
    if fixed:
        if loads is None:
            return False, None
        names = f"{', '.join(fixed)} {'is' if len(fixed) == 1 else 'are'}"
        return False, f"{verdict}, though {loads}: {names} the simulator's modelled time"
    if modelled:
        evidence = loads or f"baseline: {describe(base)}; this run: {describe(cur)}"
        return True, (
            f"noisy: the simulator's modelled time did not move ({', '.join(modelled)}), "
            f"so this host's handling did; {evidence}"
        )
    return (True, f"noisy: {loads}") if loads is not None else (False, None)


def noisy_reason(
    base: Mapping[str, Any] | None,
    cur: Mapping[str, Any] | None,
    verdict: str,
    fixed: Sequence[str] = (),
) -> str | None:
    """Why a `regressed` or `improved` case is `noisy` instead, or None when it is not."""
    noisy, message = load_verdict(base, cur, verdict, fixed)
    return message if noisy else None
