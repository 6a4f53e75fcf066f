"""One message as the milter collects it: envelope, header fields and a bounded body.

Memory stays bounded whatever the MTA sends:

- the body is kept in memory up to ``memory_limit`` bytes, then spooled to a temporary file
  (deleted when the message is done);
- past ``max_size`` bytes (header fields plus body) the milter stops collecting: the message
  cannot be verified, and inbound it gets the ``message_too_large`` policy outcome (reject by
  default: an unverified accept would let padding buy a spoof in, docs/security.md);
- the header section is capped too (:data:`MAX_HEADER_FIELDS` fields, :data:`MAX_HEADER_BYTES`
  bytes): a flood of tiny header fields cannot cost more memory than the bytes it carries.
  Beyond the cap the outcome is ``header_limits`` (reject by default).
"""

from __future__ import annotations

import os
import random
import secrets
import tempfile
from dataclasses import dataclass, field
from typing import IO

# Far above real mail (Postfix's header_size_limit is 100 KiB per field); beyond these the
# message is handled as oversized.
MAX_HEADER_FIELDS = 10_000
MAX_HEADER_BYTES = 4 * 1024 * 1024
# Authentication-Results fields are remembered even past the caps (to remove forged ones).
MAX_AUTH_RESULTS = 1000


@dataclass
class HeaderField:
    name: bytes
    value: bytes  # raw value as the MTA sent it (leading space kept when negotiated)


# Seeded once from the OS: a log tag needs no fresh kernel entropy (a system call) per message.
_message_ids = random.Random(secrets.randbits(128))
# Forked workers draw their own ids, not copies of the parent's sequence.
os.register_at_fork(after_in_child=lambda: _message_ids.seed(secrets.randbits(128)))


def new_message_id() -> str:
    """A short random id that tags every log line about one message."""
    return f"{_message_ids.getrandbits(48):012x}"


@dataclass
class Envelope:
    """The SMTP envelope of the message in progress."""

    mail_from: str = ""  # without angle brackets; "" for the null sender
    mail_args: tuple[str, ...] = ()
    recipients: list[str] = field(default_factory=list)


def strip_brackets(address: str) -> str:
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        return address[1:-1]
    return address


class MessageBuffer:
    """Header fields and body of one message, bounded as described in the module docstring."""

    def __init__(self, *, memory_limit: int, max_size: int, spool_dir: str | None = None,
                 leading_space_kept: bool = False) -> None:
        self.memory_limit = memory_limit
        self.max_size = max_size
        self.spool_dir = spool_dir
        self.leading_space_kept = leading_space_kept
        self.headers: list[HeaderField] = []
        self.auth_results: list[bytes] = []  # every Authentication-Results value, in order
        self.size = 0
        self.body_size = 0
        self.oversized = False
        self.oversize_reason = ""
        self.oversize_outcome = ""  # the policy outcome: message_too_large or header_limits
        self._header_bytes = 0
        # The body: its chunks in memory, or (past memory_limit) a temporary file. A list of
        # chunks, not a SpooledTemporaryFile: per message that is one append per chunk.
        self._chunks: list[bytes] = []
        self._body: IO[bytes] | None = None

    def add_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authentication-results" and len(self.auth_results) < MAX_AUTH_RESULTS:
            self.auth_results.append(value)
        if self.oversized:
            return
        field_size = len(name) + len(value) + 4
        self.size += field_size
        self._header_bytes += field_size
        if self.size > self.max_size:
            self._overflow(f"message larger than {self.max_size} bytes")
            return
        if len(self.headers) >= MAX_HEADER_FIELDS or self._header_bytes > MAX_HEADER_BYTES:
            self._overflow(f"header section over {MAX_HEADER_FIELDS} fields or {MAX_HEADER_BYTES} bytes",
                           "header_limits")
            return
        self.headers.append(HeaderField(name, value))

    def add_body(self, chunk: bytes) -> None:
        if self.oversized or not chunk:
            return
        self.size += len(chunk)
        if self.size > self.max_size:
            self._overflow(f"message larger than {self.max_size} bytes")
            return
        self.body_size += len(chunk)
        if self._body is not None:
            self._body.write(chunk)
        elif self.body_size > self.memory_limit:
            # Lives as long as the message (closed by close_body), so not a with-block.
            self._body = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115
            self._body.write(b"".join(self._chunks))
            self._body.write(chunk)
            self._chunks = []
        else:
            self._chunks.append(chunk)

    def _overflow(self, reason: str, outcome: str = "message_too_large") -> None:
        self.oversized = True
        self.oversize_reason = reason
        self.oversize_outcome = outcome
        self.close_body()

    @property
    def spooled(self) -> bool:
        return self._body is not None

    def header_bytes(self) -> bytes:
        """The header section in RFC 5322 form (CRLF line ends), without the blank line."""
        separator = b":" if self.leading_space_kept else b": "
        parts: list[bytes] = []
        for header in self.headers:
            value = header.value
            parts += (header.name, separator, to_crlf(value) if value.find(b"\n") != -1 else value, b"\r\n")
        return b"".join(parts)

    def field_bytes(self, name: bytes, value: bytes) -> bytes:
        # Without SMFIP_HDR_LEADSPC the MTA removed the space after the colon; put one back.
        separator = b":" if self.leading_space_kept else b": "
        return name + separator + to_crlf(value) + b"\r\n"

    def body_bytes(self) -> bytes:
        if self._body is None:
            return self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._body.seek(0)
        return self._body.read()

    def message_bytes(self) -> bytes:
        return self.header_bytes() + b"\r\n" + self.body_bytes()

    def close_body(self) -> None:
        self._chunks = []
        if self._body is not None:
            self._body.close()
            self._body = None

    def header_values(self, name: bytes) -> list[bytes]:
        wanted = name.lower()
        return [h.value for h in self.headers if h.name.lower() == wanted]


def to_crlf(value: bytes) -> bytes:
    """Folded header values arrive with bare LF (Postfix) or CRLF (Sendmail); give CRLF."""
    if value.find(b"\n") == -1:
        return value
    return value.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def to_lf(value: bytes) -> bytes:
    """A header value for the MTA: folding as bare LF, which Postfix and Sendmail both expect."""
    return value.replace(b"\r\n", b"\n")
