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


def _commands() -> list[tuple[str, ...]]:
    """Every command path: each subcommand and the commands of each group, recursively."""
    import click

    from zegel.cli import cli

    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        found.append(path)
        if isinstance(command, click.Group):
            context = click.Context(command, info_name=path[-1] if path else "zegel")
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                if sub is not None:
                    walk(sub, (*path, name))

    walk(cli, ())
    return found


def test_help_texts_are_plain_text() -> None:
    """Docstrings become --help: reStructuredText markup (``x``, :func:) must not reach a user."""
    from click.testing import CliRunner

    from zegel.cli import cli

    runner = CliRunner()
    paths = _commands()
    assert len(paths) > 30  # the groups were walked, not just the top level
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        for markup in ("``", ":func:", ":class:", ":meth:"):
            assert markup not in result.output, f"zegel {' '.join(path)} --help shows {markup!r}"
