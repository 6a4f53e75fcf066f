"""Every command the reports demo prints reproduces its output when pasted into a shell at the
repository root (with ZEGEL_DATA_DIR set to a fresh directory, as the demo prints first)."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEP = ROOT / "demo" / "steps" / "50-reports.py"


def test_printed_commands_reproduce_their_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    runpy.run_path(str(STEP), run_name="__main__")
    out = capsys.readouterr().out
    owner = out.split("--- receiver side")[0]
    blocks = owner.split("\n$ ")[1:]
    commands = [block.partition("\n")[::2] for block in blocks]
    assert commands[0][0] == "export ZEGEL_DATA_DIR=$(mktemp -d)"
    printed = {line: output.strip("\n") for line, output in commands[1:]}
    assert len(printed) == 6 and "4 report(s), 1141 message(s), p=none" in owner
    env = dict(os.environ, ZEGEL_DATA_DIR=str(tmp_path / "data"), COLUMNS="80")
    for line, expected in printed.items():
        assert line.startswith("zegel reports ")
        done = subprocess.run([sys.executable, "-m", "zegel", *line.split()[1:]], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert (done.stderr + done.stdout).strip("\n") == expected, line
