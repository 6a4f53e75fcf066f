"""Route groups ``zegel web`` serves besides the public tools.

Each entry names a module with ``def extension(settings: Settings) -> Extension``; the command
imports it at start and passes the result to ``create_app``. A group adds its module here with
one line (the owner's console, for example), so the command itself needs no change.
"""

from __future__ import annotations

import importlib
import importlib.util

from zegel.web.app import Extension
from zegel.web.settings import Settings

EXTENSION_MODULES: list[str] = [
    "zegel.web.console",  # the owner's console: login, reports dashboard, monitoring, API, MCP
]


def load_extensions(settings: Settings, modules: list[str] | None = None) -> list[Extension]:
    """The extensions of every listed module that is installed, in order."""
    found = []
    for name in EXTENSION_MODULES if modules is None else modules:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        found.append(module.extension(settings))
    return found


__all__ = ["EXTENSION_MODULES", "load_extensions"]
