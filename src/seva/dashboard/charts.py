"""Geometry of the status page's bar charts, drawn as inline SVG on the server.

The page must read at a glance without JavaScript, so the bars are computed here and the
template only places them. ``static/status.js`` redraws the same bars from the stream with
the same arithmetic; the constants travel to it as ``data-`` attributes on each ``<svg>``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    key: str
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class BarChart:
    """Horizontal bars, one row per item: label on the left, count after the bar."""

    width: int
    height: int
    label_width: int
    plot_width: int
    row_height: int
    bar_height: int
    bars: list[Bar]


@dataclass(frozen=True, slots=True)
class ColumnChart:
    """Vertical columns along a time axis (the 24 hours of the day)."""

    width: int
    height: int
    plot_top: int
    plot_height: int
    column_width: float
    step: float
    peak: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]


def bar_chart(
    items: list[tuple[str, str, int]],
    *,
    width: int = 480,
    label_width: int = 120,
    value_width: int = 56,
    row_height: int = 34,
    bar_height: int = 24,
) -> BarChart:
    """``items`` are ``(key, label, value)``; the longest bar spans the plot width."""
    plot_width = width - label_width - value_width
    peak = max((value for _, _, value in items), default=0) or 1
    bars = [
        Bar(
            key=key,
            label=label,
            value=value,
            x=label_width,
            y=index * row_height + (row_height - bar_height) / 2,
            width=round(plot_width * value / peak, 1),
            height=bar_height,
        )
        for index, (key, label, value) in enumerate(items)
    ]
    return BarChart(
        width=width,
        height=max(1, len(items)) * row_height,
        label_width=label_width,
        plot_width=plot_width,
        row_height=row_height,
        bar_height=bar_height,
        bars=bars,
    )


def hour_chart(values: list[int], *, width: int = 480, height: int = 220) -> ColumnChart:
    """One column per hour; the tallest hour fills the plot, labels every three hours."""
    plot_top, axis = 24, 24
    plot_height = height - plot_top - axis
    step = width / max(1, len(values))
    column_width = round(step * 0.7, 1)
    peak = max(values, default=0)
    scale = peak or 1
    bars = []
    for hour, value in enumerate(values):
        tall = round(plot_height * value / scale, 1)
        bars.append(
            Bar(
                key=str(hour),
                label=f"{hour:02d}:00",
                value=value,
                x=round(hour * step + (step - column_width) / 2, 1),
                y=round(plot_top + plot_height - tall, 1),
                width=column_width,
                height=tall,
            )
        )
    ticks = [(round(hour * step + step / 2, 1), f"{hour:02d}") for hour in range(0, len(values), 3)]
    return ColumnChart(
        width=width,
        height=height,
        plot_top=plot_top,
        plot_height=plot_height,
        column_width=column_width,
        step=round(step, 3),
        peak=peak,
        bars=bars,
        ticks=ticks,
    )
