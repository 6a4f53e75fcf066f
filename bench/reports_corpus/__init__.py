"""The benchmark corpus of aggregate reports: generated at bench time, never committed.

``generate(directory, count)`` writes ``count`` synthetic reports in five real reporters'
styles (see :mod:`zegel.reports.corpus`), of mixed sizes (mostly 1-5 rows, some tens, a few
hundreds) and forms (.xml.gz, .zip, plain .xml, and .eml with a gzip attachment).
"""

from __future__ import annotations

from pathlib import Path

from zegel.reports.corpus import write_corpus

DEFAULT_COUNT = 5000


def generate(directory: Path, count: int = DEFAULT_COUNT, *, seed: int = 2026) -> list[Path]:
    return write_corpus(directory, count, seed=seed)
