"""Shared benchmark helpers: timing loops and the side-by-side table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Row:
    """One measured figure: zegel's value beside a peer's, in the same run."""

    area: str
    metric: str
    unit: str
    zegel: float
    peer: str = ""
    peer_value: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer_value is None or self.peer_value == 0 or self.zegel == 0:
            return None
        return self.zegel / self.peer_value if self.higher_is_better else self.peer_value / self.zegel


def rate(func: Callable[[], object], *, min_seconds: float = 1.0, min_runs: int = 3) -> float:
    """Calls per second of ``func`` over at least ``min_seconds``."""
    func()  # warm-up
    runs = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < min_seconds or runs < min_runs:
        func()
        runs += 1
        elapsed = time.perf_counter() - started
    return runs / elapsed


def median_seconds(func: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def print_table(rows: list[Row], console: Console | None = None) -> None:
    # Wide enough for every column even when stdout is a file or a CI log, not a terminal.
    console = console or Console(width=220)
    table = Table(title="zegel benchmarks (same run, same data, one core)")
    for column in ("area", "metric", "zegel", "peer", "peer value", "ratio", "note"):
        table.add_column(column, justify="right" if column in ("zegel", "peer value", "ratio") else "left")
    for row in rows:
        ratio = row.ratio
        table.add_row(
            row.area,
            row.metric,
            f"{row.zegel:,.1f} {row.unit}",
            row.peer or "-",
            f"{row.peer_value:,.1f} {row.unit}" if row.peer_value is not None else "-",
            f"{ratio:.1f}x" if ratio is not None else "-",
            row.note,
        )
    console.print(table)
