"""Inline SVG line charts, generated in Python so the report needs no JavaScript or files.

`line_chart` draws axes with ticks and labels, any number of series (lines and/or points,
each point carrying a hover tooltip), vertical and horizontal markers, and shaded interval
bands. Axes are linear, log2 or log10; a linear axis can step in powers of two (context
lengths). All text is XML-escaped here, so callers may pass server-supplied names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

Scale = Literal["linear", "log2", "log10"]

# Okabe-Ito plus two greys: distinguishable for the common kinds of colour blindness.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
    "#7f7f7f",
    "#b0b0b0",
)


def _plain(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Axis:
    label: str
    scale: Scale = "linear"
    fmt: Callable[[float], str] = _plain
    ticks: Sequence[tuple[float, str]] | None = None  # explicit ticks (categorical axes)
    include_zero: bool = True  # linear only: start at 0 so bars of speed are honest
    binary: bool = False  # linear only: ticks at multiples of a power of two


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    line: bool = True
    dots: bool = True
    dashed: bool = False
    color: str | None = None
    tips: Sequence[str] | None = None  # one tooltip per point


@dataclass(frozen=True)
class Marker:
    """A vertical (x) or horizontal (y) reference line with a label."""

    at: float
    label: str
    axis: Literal["x", "y"] = "x"
    color: str = "#444444"


@dataclass(frozen=True)
class Band:
    """A shaded interval: for each x, the range low..high."""

    name: str
    points: Sequence[tuple[float, float, float]]
    color: str = "#0072B2"


@dataclass(frozen=True)
class _Scaler:
    lo: float
    hi: float
    px_lo: float
    px_hi: float
    scale: Scale

    def __call__(self, value: float) -> float:
        t = (_fwd(value, self.scale) - self.lo) / (self.hi - self.lo)
        return self.px_lo + t * (self.px_hi - self.px_lo)


def _fwd(value: float, scale: Scale) -> float:
    if scale == "log2":
        return math.log2(value)
    if scale == "log10":
        return math.log10(value)
    return value


def _usable(value: float, scale: Scale) -> bool:
    return math.isfinite(value) and (scale == "linear" or value > 0)


def nice_step(span: float, target: int, *, binary: bool = False) -> float:
    """A round step that cuts `span` into about `target` intervals."""
    raw = span / max(target, 1)
    if raw <= 0:
        return 1.0
    if binary and raw >= 1:
        return float(2 ** math.ceil(math.log2(raw)))
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def _linear_ticks(lo: float, hi: float, axis: Axis) -> tuple[float, float, list[float]]:
    if axis.include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        hi = lo + (abs(lo) or 1.0)
    step = nice_step(hi - lo, 5, binary=axis.binary)
    start = math.floor(lo / step) * step
    end = math.ceil(hi / step) * step
    count = round((end - start) / step)
    return start, end, [start + i * step for i in range(count + 1)]


def _log_ticks(lo: float, hi: float, scale: Scale) -> tuple[float, float, list[float]]:
    base = 2.0 if scale == "log2" else 10.0
    e_lo = math.floor(_fwd(lo, scale))
    e_hi = math.ceil(_fwd(hi, scale))
    if e_hi == e_lo:
        e_hi += 1
    stride = max(1, math.ceil((e_hi - e_lo) / 8))
    ticks = [base**e for e in range(e_lo, e_hi + 1, stride)]
    return float(e_lo), float(e_hi), ticks


def _domain(values: list[float], axis: Axis) -> tuple[float, float, list[tuple[float, str]]]:
    """Transformed (lo, hi) of the axis and its ticks as (value, label)."""
    lo, hi = min(values), max(values)
    if axis.ticks is not None:
        ticks = [(v, label) for v, label in axis.ticks if _usable(v, axis.scale)]
        t_lo = _fwd(min([lo, *(v for v, _ in ticks)]), axis.scale)
        t_hi = _fwd(max([hi, *(v for v, _ in ticks)]), axis.scale)
        if t_hi == t_lo:
            t_lo, t_hi = t_lo - 1, t_hi + 1
        pad = (t_hi - t_lo) * 0.04
        return t_lo - pad, t_hi + pad, ticks
    if axis.scale == "linear":
        t_lo, t_hi, tick_values = _linear_ticks(lo, hi, axis)
    else:
        t_lo, t_hi, tick_values = _log_ticks(lo, hi, axis.scale)
    return t_lo, t_hi, [(t, axis.fmt(t)) for t in tick_values]


def _legend(
    entries: list[tuple[str, str, bool]], width: float, x0: float, y0: float
) -> tuple[list[str], float]:
    """Legend items laid out in rows under the title; returns the SVG parts and its height."""
    parts: list[str] = []
    x, y = x0, y0
    for name, color, dashed in entries:
        item_w = 36 + 6.6 * len(name)
        if x + item_w > width and x > x0:
            x, y = x0, y + 16
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(
            f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 18:.1f}" y2="{y - 4:.1f}" '
            f'stroke="{color}" stroke-width="2.5"{dash}/>'
            f'<text x="{x + 22:.1f}" y="{y:.1f}">{escape(name)}</text>'
        )
        x += item_w
    return parts, (y - y0 + 16) if entries else 0.0


def line_chart(
    title: str,
    x_axis: Axis,
    y_axis: Axis,
    series: Sequence[Series],
    *,
    markers: Sequence[Marker] = (),
    bands: Sequence[Band] = (),
    width: int = 640,
    height: int = 320,
) -> str:
    """An SVG document fragment; '' when there is nothing to plot."""
    xs = [x for s in series for x, _ in s.points] + [x for b in bands for x, _, _ in b.points]
    ys = [y for s in series for _, y in s.points]
    ys += [v for b in bands for _, lo, hi in b.points for v in (lo, hi)]
    xs = [x for x in xs if _usable(x, x_axis.scale)]
    ys = [y for y in ys if _usable(y, y_axis.scale)]
    if not xs or not ys:
        return ""
    xs += [m.at for m in markers if m.axis == "x" and _usable(m.at, x_axis.scale)]
    ys += [m.at for m in markers if m.axis == "y" and _usable(m.at, y_axis.scale)]

    colors = [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]
    # A series with nothing to draw (say, failed probes without a memory reading) would
    # only add a legend entry that points at nothing.
    drawn = [
        i
        for i, s in enumerate(series)
        if any(_usable(x, x_axis.scale) and _usable(y, y_axis.scale) for x, y in s.points)
    ]
    series, colors = [series[i] for i in drawn], [colors[i] for i in drawn]
    legend_entries = [(s.name, c, s.dashed) for s, c in zip(series, colors, strict=True)]
    legend_entries += [(b.name, b.color, False) for b in bands]
    legend, legend_h = _legend(legend_entries, width - 10, 64, 40)
    left, right = 64, width - 18
    top, bottom = 44 + legend_h, height - 44 + legend_h
    height_total = height + legend_h

    x_lo, x_hi, x_ticks = _domain(xs, x_axis)
    y_lo, y_hi, y_ticks = _domain(ys, y_axis)
    sx = _Scaler(x_lo, x_hi, left, right, x_axis.scale)
    sy = _Scaler(y_lo, y_hi, bottom, top, y_axis.scale)

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} '
        f'{height_total:.0f}" role="img" aria-label="{escape(title)}">',
        f'<text class="title" x="{left}" y="20">{escape(title)}</text>',
        *legend,
    ]
    out += _grid(x_ticks, y_ticks, sx, sy, (left, right, top, bottom))
    out += _axis_labels(x_axis.label, y_axis.label, (left, right, top, bottom), height_total)
    for band in bands:
        out.append(_band(band, sx, sy, x_axis.scale, y_axis.scale))
    for s, color in zip(series, colors, strict=True):
        out.append(_series(s, color, sx, sy, x_axis, y_axis))
    for row, marker in enumerate(markers):
        out.append(_marker(marker, row, sx, sy, (left, right, top, bottom), x_axis, y_axis))
    out.append("</svg>")
    return "".join(out)


Box = tuple[float, float, float, float]  # left, right, top, bottom


def _grid(
    x_ticks: list[tuple[float, str]],
    y_ticks: list[tuple[float, str]],
    sx: _Scaler,
    sy: _Scaler,
    box: Box,
) -> list[str]:
    left, right, top, bottom = box
    parts = [
        f'<rect class="plot" x="{left}" y="{top:.1f}" width="{right - left}" '
        f'height="{bottom - top:.1f}"/>'
    ]
    for value, label in x_ticks:
        px = sx(value)
        parts.append(
            f'<line class="grid" x1="{px:.1f}" y1="{top:.1f}" x2="{px:.1f}" y2="{bottom:.1f}"/>'
            f'<text class="tick" x="{px:.1f}" y="{bottom + 14:.1f}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    for value, label in y_ticks:
        py = sy(value)
        parts.append(
            f'<line class="grid" x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>'
            f'<text class="tick" x="{left - 5}" y="{py + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<polyline class="axis" points="{left},{top:.1f} {left},{bottom:.1f} '
        f'{right},{bottom:.1f}"/>'
    )
    return parts


def _axis_labels(x_label: str, y_label: str, box: Box, height: float) -> list[str]:
    left, right, top, bottom = box
    mid_y = (top + bottom) / 2
    return [
        f'<text class="label" x="{(left + right) / 2:.1f}" y="{height - 8:.1f}" '
        f'text-anchor="middle">{escape(x_label)}</text>',
        f'<text class="label" x="14" y="{mid_y:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {mid_y:.1f})">{escape(y_label)}</text>',
    ]


def _band(band: Band, sx: _Scaler, sy: _Scaler, x_scale: Scale, y_scale: Scale) -> str:
    pts = [
        (x, lo, hi)
        for x, lo, hi in band.points
        if _usable(x, x_scale) and _usable(lo, y_scale) and _usable(hi, y_scale)
    ]
    if len(pts) < 2:
        return ""
    upper = [f"{sx(x):.1f},{sy(hi):.1f}" for x, _, hi in pts]
    lower = [f"{sx(x):.1f},{sy(lo):.1f}" for x, lo, _ in reversed(pts)]
    return (
        f'<polygon class="band" fill="{band.color}" points="{" ".join(upper + lower)}">'
        f"<title>{escape(band.name)}</title></polygon>"
    )


def _series(s: Series, color: str, sx: _Scaler, sy: _Scaler, x_axis: Axis, y_axis: Axis) -> str:
    keep = [
        i
        for i, (x, y) in enumerate(s.points)
        if _usable(x, x_axis.scale) and _usable(y, y_axis.scale)
    ]
    coords = [(sx(s.points[i][0]), sy(s.points[i][1])) for i in keep]
    parts: list[str] = [f'<g stroke="{color}" fill="{color}">']
    if s.line and len(coords) > 1:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        joined = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="line" points="{joined}"{dash}/>')
    if s.dots:
        for i, (px, py) in zip(keep, coords, strict=True):
            x, y = s.points[i]
            tip = (
                s.tips[i]
                if s.tips is not None and i < len(s.tips)
                else (f"{s.name}: {x_axis.fmt(x)}, {y_axis.fmt(y)}")
            )
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5"><title>{escape(tip)}</title></circle>'
            )
    parts.append("</g>")
    return "".join(parts)


def _marker(
    m: Marker, row: int, sx: _Scaler, sy: _Scaler, box: Box, x_axis: Axis, y_axis: Axis
) -> str:
    """A reference line; `row` staggers labels so neighbouring markers stay readable."""
    left, right, top, bottom = box
    scale = x_axis.scale if m.axis == "x" else y_axis.scale
    if not _usable(m.at, scale):
        return ""
    if m.axis == "x":
        px = sx(m.at)
        # Near the right edge the label goes on the left of its line so it stays inside.
        flip = px > right - 7 * len(m.label) - 8
        tx, anchor = (px - 4, "end") if flip else (px + 4, "start")
        return (
            f'<g class="marker"><line x1="{px:.1f}" y1="{top:.1f}" x2="{px:.1f}" '
            f'y2="{bottom:.1f}" stroke="{m.color}"/>'
            f'<text x="{tx:.1f}" y="{top + 12 + 13 * row:.1f}" text-anchor="{anchor}" '
            f'fill="{m.color}">{escape(m.label)}</text></g>'
        )
    py = sy(m.at)
    return (
        f'<g class="marker"><line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" '
        f'stroke="{m.color}"/><text x="{right - 4}" y="{py - 4:.1f}" text-anchor="end" '
        f'fill="{m.color}">{escape(m.label)}</text></g>'
    )
