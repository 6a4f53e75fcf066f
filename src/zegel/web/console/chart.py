"""Geometry of the dashboard's SVG charts (the templates draw them; no script needed)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from zegel.monitor.dashboard import Point

WIDTH, HEIGHT, PAD = 640.0, 180.0, 28.0


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    bars: tuple[Bar, ...]
    rate_line: str  # SVG polyline points of the pass rate (0-100% on the full height)
    max_messages: int
    width: float = WIDTH
    height: float = HEIGHT
    pad: float = PAD

    @property
    def plot_bottom(self) -> float:
        return self.height - self.pad

    @property
    def threshold_y(self) -> float:
        return self.pad + (self.height - 2 * self.pad) * (1 - 0.98)


def day_label(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d")


def timeline_chart(points: Sequence[Point]) -> Chart | None:
    """Message volume as bars and the DMARC pass rate as a line, one slot per day."""
    if not points:
        return None
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    slot = inner_w / len(points)
    top = max(p.messages for p in points) or 1
    bars, line = [], []
    for index, point in enumerate(points):
        x = PAD + index * slot
        h = inner_h * point.messages / top
        label = day_label(point.day)
        bars.append(Bar(round(x + slot * 0.1, 1), round(PAD + inner_h - h, 1), round(max(1.0, slot * 0.8), 1),
                        round(h, 1), label, f"{label}: {point.messages} messages, {point.pass_rate:.1%} pass DMARC"))
        line.append(f"{x + slot / 2:.1f},{PAD + inner_h * (1 - point.pass_rate):.1f}")
    return Chart(tuple(bars), " ".join(line), top)
