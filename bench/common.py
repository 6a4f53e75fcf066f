"""Shared benchmark helpers: timing loops and the side-by-side table."""

from __future__ import annotations

import os
import platform
import statistics
import sys
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


def environment() -> str:
    """What the figures were measured on. The interpreter matters: Debian's python3 (what
    `make` and the service install use on Debian) is built with profile-guided optimisation; a
    plain source build such as pyenv's default is not, and costs zegel about a fifth more CPU."""
    return (f"{platform.python_implementation()} {platform.python_version()} ({os.path.realpath(sys.executable)}), "
            f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}")


def print_table(rows: list[Row], console: Console | None = None) -> None:
    # Wide enough for every column even when stdout is a file or a CI log, not a terminal.
    console = console or Console(width=220)
    table = Table(title="zegel benchmarks (same run, same data, one core)", caption=environment())
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
