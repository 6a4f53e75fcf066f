"""The ``zegel`` entry point: one-line usage errors (exit 2) for every command, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zegel.cli import SUBCOMMANDS


def zegel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zegel", *args], capture_output=True, text=True, timeout=60)


def test_no_arguments_prints_help_and_succeeds() -> None:
    done = zegel()
    assert done.returncode == 0
    assert "Commands:" in done.stdout
    for name in SUBCOMMANDS:
        assert name in done.stdout


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_unknown_option_is_one_line_exit_2(name: str) -> None:
    done = zegel(name, "--no-such-option-anywhere")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zegel: ") and "--no-such-option-anywhere" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_command_has_help(name: str) -> None:
    done = zegel(name, "--help")
    assert done.returncode == 0 and "Usage: zegel " + name in done.stdout


def test_unknown_command() -> None:
    done = zegel("frobnicate")
    assert done.returncode == 2 and done.stderr.startswith("zegel: No such command")
