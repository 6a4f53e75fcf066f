"""Run every ``bench/bench_*.py`` (or the areas named on the command line) and print one table.

Each module has ``run() -> list[Row]``. Benchmarks pin themselves to one core where the OS
allows, so figures compare like with like.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback
from pathlib import Path

from bench.common import Row, print_table


def main(argv: list[str]) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    here = Path(__file__).parent
    areas = sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = argv or areas
    rows: list[Row] = []
    failed = []
    for area in wanted:
        if area not in areas:
            print(f"bench: unknown area {area!r} (have: {', '.join(areas)})", file=sys.stderr)
            return 2
        print(f"bench: running {area} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.bench_{area}")
            rows.extend(module.run())
        except Exception:
            failed.append(area)
            traceback.print_exc()
    print_table(rows)
    if failed:
        print(f"bench: failed areas: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
