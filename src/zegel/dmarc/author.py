"""The Author Domain(s): the domain(s) of the RFC5322.From header field, from raw message bytes.

RFC 7489 section 6.6.1 / RFC 9989 section 5.3.1 leave the odd cases to the receiver; zegel's
choices (docs/dmarc.md, docs/security.md):

- no From field, or From fields without any domain (``From: undisclosed-recipients:;``,
  ``From: alice``): no Author Domain — ``evaluate_message`` gives ``permerror`` (RFC 5322 3.6
  requires exactly one From field with at least one mailbox);
- several From fields, or one with several mailboxes: every distinct domain is an Author Domain
  and each is evaluated; the strictest outcome wins (RFC 7489 6.6.1);
- a mailbox whose domain is a literal (``user@[192.0.2.1]``) or not a valid DNS name gives no
  domain and is reported in ``problems``.

Any of these makes :attr:`AuthorDomains.unknown` true: the receiver pipeline then matches the
``author_unknown`` policy outcome (reject by default, RFC 7489 6.6.1), whatever DMARC said about
the domains that were found.

The From value is read by :func:`parse_address_list`, a single left-to-right scan with no
recursion and no size cliff: time is linear in the value, comments nest to any depth, and a
display name of any length does not hide the address behind it. The standard library's
``email.utils.getaddresses`` is never used on attacker input (it recurses per comment level).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from zegel.dmarc.discovery import normalize_domain
from zegel.rfc5322 import first_blank_line

# Bounds that keep a hostile header block from costing unbounded time: From fields beyond the
# first MAX_FROM_FIELDS are counted, not parsed (the message is author_unknown anyway).
MAX_FROM_FIELDS = 20
# Mailboxes kept per From value; beyond it the value is author_unknown.
MAX_MAILBOXES = 100


@dataclass(frozen=True, slots=True)
class AuthorDomains:
    """What the From header field(s) of a message say. ``domains``: distinct A-label domains in
    order of appearance; ``problems``: one line per oddity (empty for a normal message);
    ``unattributed``: some of the From text could not be read as a mailbox with a valid domain
    (a syntax error, a literal or single-label domain, a field without a mailbox, fields past
    the cap), so ``domains`` may not name every author a mail client would show."""

    domains: tuple[str, ...]
    addresses: tuple[str, ...]
    field_count: int
    problems: tuple[str, ...] = ()
    unattributed: bool = False

    @property
    def domain(self) -> str | None:
        """The single Author Domain, or None when there are zero or several."""
        return self.domains[0] if len(self.domains) == 1 else None

    @property
    def unknown(self) -> bool:
        """No single, cleanly parsed Author Domain: the ``author_unknown`` policy outcome."""
        return self.domain is None or bool(self.problems)


@dataclass(frozen=True, slots=True)
class AddressList:
    """The mailboxes of one From (or any address-list) header value.

    ``addresses``: each mailbox's addr-spec (``local@domain``; comments and display names
    removed, quoted local parts kept with their quotes); ``problems``: one line per syntax
    error found (empty for a well-formed value)."""

    addresses: tuple[str, ...]
    problems: tuple[str, ...] = ()


# Runs of characters with no meaning to the address-list grammar (RFC 5322 3.4), taken in one
# regex step each: the scan below then handles one special character at a time. Every pattern
# here is a single character class (or a class then a fixed character): linear, no backtracking.
_PLAIN_RUN = re.compile(r'[^"()<>,:;\\\x00-\x08\x0a-\x1f\x7f \t]+')
_QUOTED_RUN = re.compile(r'[^"\\\x00-\x08\x0a-\x1f\x7f]+')
_COMMENT_RUN = re.compile(r'[^()\\\x00-\x08\x0a-\x1f\x7f]+')
_WSP_RUN = re.compile(r"[ \t]+")
_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,75}\?[bBqQ]\?")


def parse_address_list(value: str) -> AddressList:
    """Parse a From header value (RFC 5322 3.4 address-list, with the obsolete forms of 4.4).

    Linear time and no recursion whatever the input: comments may nest to any depth (RFC 5322
    3.2.2) and are skipped with a counter; quoted strings, angle addresses, groups and obs-route
    (``<@a,@b:user@dom>``) are handled. Never raises. Control characters (NUL included) and
    unterminated quotes, comments or angle brackets are reported in ``problems``; a mailbox that
    is an encoded-word (RFC 2047 5 forbids one in an addr-spec) is reported too.
    """
    addresses: list[str] = []
    problems: list[str] = []
    text: list[str] = []        # the current mailbox outside <...>, comments removed
    angle: list[str] | None = None  # inside <...>
    angle_addr: str | None = None   # the finished <...> of the current mailbox
    spaced = False  # white space or a comment after a word of the address being read
    several_words = False
    position, length = 0, len(value)

    def problem(line: str) -> None:
        if line not in problems:
            problems.append(line)

    def finish_mailbox() -> None:
        nonlocal text, angle_addr, spaced, several_words
        if angle_addr is not None:
            address = angle_addr
            if not address:
                problem("empty angle address <>")
        else:
            address = "".join(text)
        candidates = [address]
        if several_words:
            # An addr-spec is one word (RFC 5322 3.4.1): "ceo@bank.example x" or
            # "ceo@bank.example(c).evil.example" must not become an address at another domain,
            # so each word with an "@" is taken.
            problem("an address of several words")
            words = address.split(" ")
            candidates = [w for w in words if "@" in w.strip("@")] or ["".join(words)]
        text, angle_addr, spaced, several_words = [], None, False, False
        for candidate in candidates:
            if not candidate:
                continue
            if len(addresses) >= MAX_MAILBOXES:
                problem(f"more than {MAX_MAILBOXES} mailboxes")
                return
            addresses.append(candidate)

    while position < length:
        char = value[position]
        target = angle if angle is not None else text
        if char in " \t":
            # Folding white space separates words; inside an addr-spec it is CFWS and dropped.
            blanks = _WSP_RUN.match(value, position)
            position = blanks.end() if blanks is not None else position + 1
            spaced = spaced or bool(target)
            continue
        if char not in "(<>,:;" and spaced:
            several_words = True
            spaced = False
            target.append(" ")  # a word boundary, resolved in finish_mailbox
        plain = _PLAIN_RUN.match(value, position)
        if plain is not None:
            if angle is None and angle_addr is not None:
                problem("text after an angle address")
            target.append(plain.group())
            position = plain.end()
            continue
        if char == '"':
            # RFC 5322 3.2.4 quoted-string; quoted-pairs are kept as they are.
            end = position + 1
            closed = False
            while end < length:
                run = _QUOTED_RUN.match(value, end)
                if run is not None:
                    end = run.end()
                    continue
                special = value[end]
                if special == '"':
                    closed = True
                    end += 1
                    break
                if special == "\\":
                    end += 2
                    continue
                problem("control character in a quoted string")
                end += 1
            if not closed:
                problem("unterminated quoted string")
            target.append(value[position:min(end, length)])
            position = end
            continue
        if char == "(":
            # RFC 5322 3.2.2: comments nest; a depth counter, not recursion.
            depth, end = 1, position + 1
            while end < length and depth:
                run = _COMMENT_RUN.match(value, end)
                if run is not None:
                    end = run.end()
                    continue
                special = value[end]
                if special == "(":
                    depth += 1
                elif special == ")":
                    depth -= 1
                elif special == "\\":
                    end += 1
                else:
                    problem("control character in a comment")
                end += 1
            if depth:
                problem("unterminated comment")
            position = end
            spaced = spaced or bool(target)  # a comment separates words, like white space
            continue
        position += 1
        if char == "<":
            if angle is not None:
                problem("'<' inside an angle address")
                continue
            if angle_addr is not None:
                problem("two angle addresses in one mailbox")
            if any("@" in part for part in text if not part.startswith('"')):
                # ceo@bank.example <x@attacker.example>: '@' is not atext (RFC 5322 3.2.3)
                problem("an address in an unquoted display name")
            angle, text = [], []  # what came before is the display name
            spaced = several_words = False
        elif char == ">":
            if angle is None:
                problem("'>' without '<'")
                continue
            angle_addr, angle, spaced = "".join(angle), None, False
        elif char == ",":
            if angle is not None:
                angle.append(char)  # obs-route: <@a,@b:user@dom>
                continue
            finish_mailbox()
        elif char == ":":
            if angle is not None:
                angle.clear()  # the end of an obs-route (RFC 5322 4.4)
                continue
            if angle_addr is not None or any("@" in part for part in text):
                problem("':' after an address")
                finish_mailbox()  # keep the address: its domain is still evaluated
            text, spaced, several_words = [], False, False  # a group's display name ends here (RFC 5322 3.4)
        elif char == ";":
            if angle is not None:
                problem("';' inside an angle address")
                continue
            finish_mailbox()  # the end of a group
        elif char == ")":
            problem("')' without '('")
        elif char == "\\":
            problem("quoted-pair outside a quoted string or comment")
            target.append(value[position : position + 1])
            position += 1
        else:
            problem("control character in the From field" if char != "\x00" else "NUL in the From field")
    if angle is not None:
        problem("unterminated angle address")
        angle_addr = "".join(angle)
    finish_mailbox()
    for address in addresses:
        if _ENCODED_WORD.search(address):
            problem(f"encoded-word used as an address: {address[:80]!r}")
    return AddressList(tuple(addresses), tuple(problems))


def header_block(message: bytes) -> bytes:
    """The header section: everything before the first empty line (CRLF or bare LF)."""
    end = first_blank_line(message)
    return message[:end] if end != -1 else message


@functools.lru_cache(maxsize=64)
def _field_pattern(name: bytes) -> re.Pattern[bytes] | None:
    if not name or any(c < 33 or c > 126 or c == 58 for c in name):
        return None  # not a field name (RFC 5322 3.6.8): header_fields reads line by line
    # Matched at a LF (the block gets one in front), in the lower-cased block: the name,
    # optional blanks and a colon; then the value with its continuation lines, which start
    # with a space or a tab (RFC 5322 2.2, 2.2.3).
    return re.compile(rb"\n" + re.escape(name) + rb"[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")


def header_fields(block: bytes, name: bytes) -> list[bytes]:
    """Unfolded values of every field called ``name`` (case-insensitive), in order."""
    wanted = name.lower()
    pattern = _field_pattern(wanted)
    if pattern is None:
        return _header_fields_by_line(block, wanted)  # not a field name (RFC 5322 3.6.8)
    needle = b"\n" + wanted
    # Candidate lines are found with bytes.find (ASCII case folding, like bytes.lower); offsets
    # in ``lowered`` are one past those in ``block``.
    lowered = b"\n" + block.lower()
    values: list[bytes] = []
    position = lowered.find(needle)
    while position != -1:
        match = pattern.match(lowered, position)
        if match is not None:
            value = block[match.start(1) - 1 : match.end(1) - 1]
            if b"\n" in value:
                value = b"".join(line.rstrip(b"\r") for line in value.split(b"\n"))
            elif value.endswith(b"\r"):
                value = value.rstrip(b"\r")  # the one line's CR(s): what the join above gives
            values.append(value)
        position = lowered.find(needle, position + 1)
    return values


def _header_fields_by_line(block: bytes, wanted: bytes) -> list[bytes]:
    values: list[bytes] = []
    current: list[bytes] | None = None
    for line in block.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        if current is not None:
            values.append(b"".join(current))
            current = None
        field_name, colon, value = line.partition(b":")
        if colon and field_name.rstrip(b" \t").lower() == wanted:
            current = [value]
    if current is not None:
        values.append(b"".join(current))
    return values


def address_domain(address: str) -> tuple[str | None, str | None]:
    """The author domain of one addr-spec, or None and why it is none (RFC 7489 6.6.1)."""
    local, at, host = address.rpartition("@")
    if not at or not local:
        return None, f"mailbox {address!r} has no domain"
    if any(c in local for c in '@<>'):
        # A quoted local part holding another address ("ceo@bank.example"@attacker.example, or
        # what an MTA makes of an unterminated quote) shows one domain and authenticates another.
        return None, f"mailbox {address!r} has an address inside its local part"
    host = host.strip().rstrip(".")
    if host.startswith("["):
        return None, f"mailbox {address!r} uses an address literal, not a domain"
    domain = normalize_domain(host)
    if not domain:
        return None, f"mailbox {address!r} has an invalid domain"
    if "." not in domain:
        # A single label is no author domain (it is what remains when an MTA cuts a value at a NUL).
        return None, f"mailbox {address!r} has a single-label domain"
    return domain, None


# A From value up to this size is memoized with what it yields (the usual single From field).
MEMO_FROM_BYTES = 1024


def author_domains(message: bytes) -> AuthorDomains:
    """Extract the RFC5322.From domain(s) of a raw message (linear time, never raises)."""
    fields = header_fields(header_block(message), b"from")
    if len(fields) == 1 and len(fields[0]) <= MEMO_FROM_BYTES:
        return _single_from(fields[0])
    return _from_fields(fields)


# Pure (the raw value in, an immutable AuthorDomains out), and a receiver sees the same few From
# values over and over: memoized, bounded in entries and in key size.
@functools.lru_cache(maxsize=4096)
def _single_from(raw: bytes) -> AuthorDomains:
    return _from_fields([raw])


def _from_fields(fields: list[bytes]) -> AuthorDomains:
    problems: list[str] = []
    if not fields:
        return AuthorDomains((), (), 0, ("no From header field",))
    if len(fields) > 1:
        problems.append(f"{len(fields)} From header fields (RFC 5322 allows one)")
    domains: list[str] = []
    addresses: list[str] = []
    unattributed = len(fields) > MAX_FROM_FIELDS
    for raw in fields[:MAX_FROM_FIELDS]:
        # RFC 6532 allows UTF-8 in header fields; anything else is kept as replacement characters.
        parsed = parse_address_list(raw.decode("utf-8", "replace"))
        problems.extend(p for p in parsed.problems if p not in problems)
        unattributed = unattributed or bool(parsed.problems)
        if not parsed.addresses:
            problems.append("From field without a mailbox")
            unattributed = True
            continue
        for mailbox in parsed.addresses:
            addresses.append(mailbox)
            domain, problem = address_domain(mailbox)
            if problem:
                problems.append(problem)
                unattributed = True
            if domain and domain not in domains:
                domains.append(domain)
    if len(addresses) > 1 and len(fields) == 1:
        problems.append(f"From field holds {len(addresses)} mailboxes")
    if len(domains) > 1:
        problems.append(f"several author domains: {', '.join(domains)}")
    return AuthorDomains(tuple(domains), tuple(addresses), len(fields), tuple(problems), unattributed)
