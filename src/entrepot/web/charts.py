"""Bar charts drawn on the server as SVG: no script, no chart library, readable without sight.

:func:`bar_chart` turns a series of :class:`Bar` into one ``<figure>``: an
SVG with a ``<title>`` and ``<desc>`` (read by screen readers), a y axis
with three labelled ticks on a rounded scale, x labels every few bars, one
``<rect>`` per bar carrying its own ``<title>`` (the browser shows it on
hover), and a ``<figcaption>`` saying in words what the chart shows — the
total, the busiest bar, the bars without data.  Colours come from the
stylesheet through classes (the dashboard's CSP allows no inline style).

Every text is escaped here, so the result is :class:`~markupsafe.Markup`
and may be put in a template as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from entrepot.units import format_size

__all__ = ["Bar", "bar_chart", "count_text", "nice_ceiling", "size_text"]

#: The drawing's size in SVG units (it scales to its box).
WIDTH, HEIGHT = 720, 220
#: Room for the y labels (left), the x labels (bottom), the last x label (right).
_LEFT, _BOTTOM, _TOP, _RIGHT = 84, 26, 10, 24


@dataclass(frozen=True)
class Bar:
    """One bar: its label (hover text and summary), its value (``None``: no data), and the
    x-axis label written under it, if any."""

    label: str
    value: float | None
    tick: str | None = None


def count_text(value: float) -> str:
    """``12345`` → ``12,345``; fractions keep one decimal."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


#: ``1536`` → ``1.5 KiB``.
size_text = format_size


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at least ``value`` (1 for nothing): a round top."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power * (1 + 1e-9):
            return step * power
    raise AssertionError("unreachable")


def bar_chart(
    title: str,
    bars: Sequence[Bar],
    *,
    unit: Callable[[float], str] = count_text,
    ident: str,
    cumulative: bool = True,
) -> Markup:
    """One chart as a ``<figure>``; ``ident`` makes its element ids unique in the page.

    ``cumulative`` bars (files per hour) are summed in the summary; others (a
    depth) are not: the summary gives the last known value instead.
    """
    values = [bar.value for bar in bars if bar.value is not None]
    top = nice_ceiling(max(values, default=0.0))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _BOTTOM - _TOP
    right = WIDTH - _RIGHT
    step = plot_w / max(len(bars), 1)
    gap = min(2.0, step * 0.2)
    summary = _summary(title, bars, unit, cumulative)
    key = escape(ident)
    parts = [
        f'<figure class="chart" id="{key}">',
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{key}-title {key}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{key}-title">{escape(title)}</title>',
        f'<desc id="{key}-desc">{escape(summary)}</desc>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="chart-grid" x1="{_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="chart-label" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(unit(top * fraction))}</text>"
        )
    baseline = _TOP + plot_h
    for index, bar in enumerate(bars):
        x = _LEFT + index * step
        if bar.tick is not None:
            parts.append(
                f'<text class="chart-label" x="{x + step / 2:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{escape(bar.tick)}</text>'
            )
        if bar.value is None:
            hover, height, css = f"{bar.label}: no data", 0.0, "chart-bar chart-empty"
        else:
            hover, height, css = f"{bar.label}: {unit(bar.value)}", plot_h * bar.value / top, ""
        # A bar of nothing is still drawn one unit high: its hover text stays reachable.
        height = max(height, 1.0)
        parts.append(
            f'<rect class="{css or "chart-bar"}" x="{x + gap / 2:.1f}" '
            f'y="{baseline - height:.1f}" width="{max(step - gap, 0.5):.1f}" '
            f'height="{height:.1f}"><title>{escape(hover)}</title></rect>'
        )
    parts.append(
        f'<line class="chart-axis" x1="{_LEFT}" y1="{baseline}" x2="{right}" y2="{baseline}"/>'
    )
    parts.append(
        f'<line class="chart-axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{baseline}"/>'
    )
    parts.append("</svg>")
    parts.append(f'<figcaption class="chart-summary">{escape(summary)}</figcaption>')
    parts.append("</figure>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def _summary(
    title: str, bars: Sequence[Bar], unit: Callable[[float], str], cumulative: bool
) -> str:
    """The chart in one sentence: total (or last value), peak, and the bars without data."""
    known = [bar for bar in bars if bar.value is not None]
    if not known:
        return f"{title}: no data."
    peak = max(known, key=lambda bar: bar.value or 0.0)
    if cumulative:
        total = sum(bar.value or 0.0 for bar in known)
        text = f"{title}: {unit(total)} in all over {len(bars)} bars"
    else:
        last = known[-1]
        text = f"{title}: {unit(last.value or 0.0)} at {last.label}"
    if peak.value:
        text += f"; the highest is {peak.label} with {unit(peak.value)}"
    else:
        text += "; every bar is zero"
    missing = len(bars) - len(known)
    if missing:
        text += f"; {missing} without data"
    return text + "."
