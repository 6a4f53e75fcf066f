"""``python -m bench.reports_corpus DIR [COUNT]``: write the benchmark corpus into DIR."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.reports_corpus import DEFAULT_COUNT, generate


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2 or (len(argv) == 2 and not argv[1].isdigit()):
        print("usage: python -m bench.reports_corpus DIR [COUNT]", file=sys.stderr)
        return 2
    paths = generate(Path(argv[0]), int(argv[1]) if len(argv) == 2 else DEFAULT_COUNT)
    print(f"{len(paths)} reports, {sum(p.stat().st_size for p in paths):,} bytes in {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
