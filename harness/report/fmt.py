"""Numbers in the units a reader expects: GiB with 2 decimals, tok/s with 1, ms under 1 s."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.results.schema import Case

GIB = 1024**3
MIB = 1024**2


def num_or_dash(value: float | None, fmt: str = "{:.1f}") -> str:
    return "" if value is None else fmt.format(value)


def size(value: float | None, *, signed: bool = False) -> str:
    """Bytes as GiB (2 decimals), MiB or KiB (1 decimal), or plain bytes."""
    if value is None:
        return ""
    sign = "+" if signed and value > 0 else ""
    if abs(value) >= GIB:
        return f"{sign}{value / GIB:.2f} GiB"
    if abs(value) >= MIB:
        return f"{sign}{value / MIB:.1f} MiB"
    if abs(value) >= 1024:
        return f"{sign}{value / 1024:.1f} KiB"
    return f"{sign}{value:.0f} B"


def seconds(value: float | None) -> str:
    """A duration: '412 ms', '5.10 s', '12m 05s', '5h 12m'."""
    if value is None:
        return ""
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms"
    if abs(value) < 60:
        return f"{value:.2f} s"
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def rate(value: float | None) -> str:
    """Tokens (or requests) per second with one decimal."""
    return "" if value is None else f"{value:.1f}"  # an f-string: called per cell


def case_ctx(case: Case) -> str:
    """A case's context, saying so when the harness could not set it on the server."""
    asked = ctx(case.num_ctx)
    context = case.context
    if context is None or context.set_by_harness is not False:
        return asked
    server = context.server_context
    return f"{asked} (not set; server: {ctx(server) if server else 'unknown'})"


def ctx(value: float | None) -> str:
    """A context length: 32768 -> '32K', 1000 -> '1,000'."""
    if value is None:
        return ""
    as_int = int(value)
    if as_int == value and as_int and as_int % 1024 == 0:
        return f"{as_int // 1024}K"
    return f"{value:,.0f}"


def count(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def percent(fraction: float | None) -> str:
    """A relative change: 0.123 -> '+12.3%'."""
    return "" if fraction is None else f"{fraction * 100:+.1f}%"


def score(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def general(value: float | None) -> str:
    """A number of unknown unit: up to 3 significant decimals, no trailing zeros."""
    if value is None:
        return ""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"


def compact(value: float) -> str:
    """An axis label for a count: 100, 1k, 10k, 1.5M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


# Round durations for a logarithmic time axis, with their labels.
TIME_TICKS: tuple[tuple[float, str], ...] = (
    (1, "1 s"),
    (10, "10 s"),
    (60, "1 min"),
    (600, "10 min"),
    (3600, "1 h"),
    (6 * 3600, "6 h"),
    (86400, "1 d"),
    (7 * 86400, "1 w"),
    (30 * 86400, "30 d"),
)


def time_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """The TIME_TICKS covering lo..hi, plus one on each side."""
    inside = [i for i, (t, _) in enumerate(TIME_TICKS) if lo <= t <= hi]
    if not inside:
        below = [i for i, (t, _) in enumerate(TIME_TICKS) if t < lo]
        inside = [below[-1] if below else 0]
    first = max(inside[0] - 1, 0) if TIME_TICKS[inside[0]][0] > lo else inside[0]
    last = (
        min(inside[-1] + 1, len(TIME_TICKS) - 1) if TIME_TICKS[inside[-1]][0] < hi else inside[-1]
    )
    return list(TIME_TICKS[first : last + 1])
