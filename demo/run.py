"""``make demo``: run every demo step (demo/steps/NN-*.py, in order) on shipped sample data.

No network: every step uses the shipped zone files with the resolver offline.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    steps = sorted((HERE / "steps").glob("[0-9][0-9]-*.py"))
    if not steps:
        print("demo: no steps found", file=sys.stderr)
        return 1
    for step in steps:
        title = step.stem.split("-", 1)[1].replace("-", " ")
        print(f"\n=== {title} " + "=" * max(0, 70 - len(title)), flush=True)
        runpy.run_path(str(step), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
