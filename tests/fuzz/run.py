"""`make fuzz`: run every fuzz target for ZEGEL_FUZZ_SECONDS (default 600) with fresh seeds.

Each target (a test function in tests/fuzz/test_fuzz_*.py) is run in batches: one pytest run
of ZEGEL_FUZZ_EXAMPLES examples (default 2000) under the long profile with a new random
``--hypothesis-seed``, repeated until the target's budget is spent. A test beside them that draws no examples (a
deterministic sweep) runs once. A failing or hanging batch
is a finding: its seed and output are printed (rerun it with the printed command), the target
stops, the others go on, and the exit status is 1.

    python -m tests.fuzz.run [--seconds N] [--list] [SUBSTRING ...]
"""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-x"]


def targets() -> list[str]:
    listed = subprocess.run([*PYTEST, "--collect-only", "tests/fuzz"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "ZEGEL_FUZZ": "long"}, check=False)
    return [line.split("[")[0] for line in listed.stdout.splitlines()
            if "::" in line and "/test_fuzz_" in line]


def draws_examples(target: str) -> bool:
    """Whether a target is a Hypothesis test (fresh seeds find new inputs); a deterministic
    sweep beside them gives the same run every time, so it runs once."""
    path, _, name = target.partition("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return bool(getattr(getattr(module, name, None), "is_hypothesis_test", False))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("ZEGEL_FUZZ_SECONDS", "600")),
                        help="time budget per target (default: $ZEGEL_FUZZ_SECONDS or 600)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("only", nargs="*", help="run only targets whose id contains one of these")
    args = parser.parse_args()
    chosen = [t for t in dict.fromkeys(targets()) if not args.only or any(s in t for s in args.only)]
    if args.list or not chosen:
        print("\n".join(chosen) or "no fuzz targets found", file=sys.stdout if chosen else sys.stderr)
        return 0 if chosen else 2
    env = {**os.environ, "ZEGEL_FUZZ": "long"}
    findings: list[str] = []
    for index, target in enumerate(chosen, 1):
        started = time.monotonic()
        batches = 0
        once = not draws_examples(target)
        while (once and batches == 0) or (not once and time.monotonic() - started < args.seconds):
            seed = secrets.randbits(64)
            command = [*PYTEST, f"--hypothesis-seed={seed}", target]
            left = args.seconds - (time.monotonic() - started)
            try:
                run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                     timeout=max(left, 0) + 300, check=False)
            except subprocess.TimeoutExpired:
                findings.append(f"{target}: batch with seed {seed} did not finish (a hang is a finding)")
                break
            batches += 1
            if run.returncode != 0:
                print(run.stdout[-6000:], run.stderr[-2000:], sep="\n", file=sys.stderr)
                findings.append(f"{target}: failed with seed {seed}: ZEGEL_FUZZ=long {' '.join(command[1:])}")
                break
        elapsed = time.monotonic() - started
        kind = "deterministic, run once" if once else f"{batches} batch(es)"
        print(f"[{index}/{len(chosen)}] {target}: {kind} in {elapsed:.0f}s", flush=True)
    for finding in findings:
        print(f"FINDING {finding}", file=sys.stderr)
    print(f"{len(chosen)} target(s), {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
