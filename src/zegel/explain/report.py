"""The entry points for ``zegel explain`` and ``POST /api/explain``: one report, one JSON shape."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zegel.explain.lookalike import LookalikeDetector, default_detector
from zegel.explain.received import ReceivedReport, explain_header_section
from zegel.explain.texts import text


def explain_message(
    message: bytes,
    *,
    trusted_ids: Iterable[str] = (),
    seen: Iterable[str] = (),
    source: str = "message.eml",
) -> ReceivedReport:
    """The report on a pasted message or header section.

    Raises :class:`zegel.explain.NotAMessage` for input that is not one (``not_message_line``
    gives the one line to show). ``seen``: domains the recipient corresponds with, checked for
    look-alikes besides the shipped list; ``source``: the file name used in the suggested
    ``zegel verify`` command.
    """
    known = [d for d in seen if d.strip()]
    detector = LookalikeDetector(known) if known else default_detector()
    return explain_header_section(message, trusted_ids=trusted_ids, detector=detector, source=source)


def explain_json(
    message: bytes,
    *,
    lang: str = "en",
    trusted_ids: Iterable[str] = (),
    seen: Iterable[str] = (),
    source: str = "message.eml",
) -> dict[str, Any]:
    """The JSON object ``zegel explain --json`` prints (raises NotAMessage like explain_message)."""
    return explain_message(message, trusted_ids=trusted_ids, seen=seen, source=source).to_dict(lang)


def not_message_line(code: str, lang: str = "en") -> str:
    """The one line for input that is not a message: ``this is not an email message (...)``."""
    return text(lang, "not_message", what=text(lang, f"not_message.{code}"))
