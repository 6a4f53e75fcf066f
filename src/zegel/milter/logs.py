"""Structured log lines: ``key=value`` text (logfmt) or one JSON object per line.

Callers pass their fields as ``extra={"fields": {...}}``; every line about a message carries
``msg_id`` (and ``queue_id`` once the MTA has given one), so one message can be followed
through the log with a single grep.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' "=\\') and value.isprintable():
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class StructuredFormatter(logging.Formatter):
    def __init__(self, fmt: str = "text") -> None:
        super().__init__()
        self.fmt = fmt

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            for key, value in extra.items():
                fields[str(key)] = "" if value is None else str(value)
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info).splitlines()[-1]
        if self.fmt == "json":
            return json.dumps(fields, ensure_ascii=False)
        return " ".join(f"{k}={_logfmt_value(str(v))}" for k, v in fields.items())


def configure_logging(level: str = "info", fmt: str = "text") -> logging.Handler:
    """Send zegel's logs to stderr (journald picks them up under systemd)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter(fmt))
    logger = logging.getLogger("zegel")
    for old in list(logger.handlers):
        if getattr(old, "_zegel_milter", False):
            logger.removeHandler(old)
    handler._zegel_milter = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(getattr(logging, level.upper(), logging.INFO))
    logger.propagate = False
    return handler
