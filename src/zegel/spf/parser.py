"""SPF record parser: text -> typed AST (RFC 7208 sections 4.5, 4.6, 5, 6, 7 and 12 (ABNF)).

The whole record is parsed before evaluation (RFC 7208 4.6: a syntax error anywhere makes the
record a permerror, whatever would have matched first). Errors carry the 0-based character
position in the record text and a reason.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = [
    "MECHANISM_NAMES",
    "QUALIFIER_RESULTS",
    "A",
    "All",
    "DnsMechanism",
    "Exists",
    "Explanation",
    "Include",
    "Ip4",
    "Ip6",
    "MacroExpand",
    "MacroString",
    "Mechanism",
    "Mx",
    "Ptr",
    "Redirect",
    "SpfRecord",
    "SpfSyntaxError",
    "UnknownModifier",
    "is_spf_record",
    "parse_domain_spec",
    "parse_macro_string",
    "parse_record",
]


class SpfSyntaxError(ValueError):
    """A record that does not follow the RFC 7208 section 12 ABNF (evaluates to permerror)."""

    def __init__(self, reason: str, position: int, text: str = "",
                 fix: tuple[int, int, str] | None = None) -> None:
        self.reason = reason
        self.position = position
        self.text = text
        # (start, end, replacement): text[start:end] rewritten as the reason suggests ("did you
        # mean 'include'?"), for tools that offer the corrected record; None when nothing is sure.
        self.fix = fix
        super().__init__(f"{reason} at position {position}")


# RFC 7208 4.6.2: qualifier -> result when the mechanism matches ("+" is the default).
QUALIFIER_RESULTS: dict[str, str] = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}

# RFC 7208 7.2 / 12: macro-letter; c, r and t are allowed only in explanation text (7.2).
MACRO_LETTERS = frozenset("slodiphcrtv")
EXP_ONLY_LETTERS = frozenset("crt")
DELIMITERS = frozenset(".-+,/_=")


@dataclass(frozen=True, slots=True)
class MacroExpand:
    """One ``%{...}`` macro: letter, optional right-hand part count, reversal, delimiters."""

    letter: str  # lower-case letter
    digits: int | None
    reverse: bool
    delimiters: str  # "" means the default "."
    url_escape: bool  # upper-case letter in the record (RFC 7208 7.3)
    text: str


MacroPart = str | MacroExpand


@dataclass(frozen=True, slots=True)
class MacroString:
    """A parsed macro-string; ``parts`` alternate literal text and macros."""

    text: str
    parts: tuple[MacroPart, ...]
    # Precomputed for the hot path.
    is_literal: bool = field(init=False)
    literal: str = field(init=False)  # escapes (%% %_ %-) resolved; meaningful when is_literal
    needs_ptr: bool = field(init=False)  # expansion needs %{p}, the validated client name (DNS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_literal", all(isinstance(p, str) for p in self.parts))
        object.__setattr__(self, "literal", "".join(p for p in self.parts if isinstance(p, str)))
        object.__setattr__(self, "needs_ptr",
                           any(isinstance(p, MacroExpand) and p.letter == "p" for p in self.parts))


# -- the AST ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mechanism:
    """A directive: qualifier + mechanism (RFC 7208 4.6.2, 5)."""

    kind: ClassVar[str] = ""
    queries_dns: ClassVar[bool] = False  # counts against the 10-term limit (RFC 7208 4.6.4)
    qualifier: str
    text: str
    position: int

    @property
    def result(self) -> str:
        return QUALIFIER_RESULTS[self.qualifier]


@dataclass(frozen=True, slots=True)
class DnsMechanism(Mechanism):
    """A mechanism whose target is a domain-spec (``None``: the current domain)."""

    queries_dns: ClassVar[bool] = True
    domain_spec: MacroString | None


@dataclass(frozen=True, slots=True)
class All(Mechanism):
    kind: ClassVar[str] = "all"


@dataclass(frozen=True, slots=True)
class Include(DnsMechanism):
    kind: ClassVar[str] = "include"


@dataclass(frozen=True, slots=True)
class Exists(DnsMechanism):
    kind: ClassVar[str] = "exists"


@dataclass(frozen=True, slots=True)
class Ptr(DnsMechanism):
    kind: ClassVar[str] = "ptr"


@dataclass(frozen=True, slots=True)
class A(DnsMechanism):
    kind: ClassVar[str] = "a"
    cidr4: int = 32
    cidr6: int = 128


@dataclass(frozen=True, slots=True)
class Mx(DnsMechanism):
    kind: ClassVar[str] = "mx"
    cidr4: int = 32
    cidr6: int = 128


@dataclass(frozen=True, slots=True)
class Ip4(Mechanism):
    kind: ClassVar[str] = "ip4"
    network: ipaddress.IPv4Network
    # Precompiled for the hot path: (address & mask) == value.
    value: int = 0
    mask: int = 0


@dataclass(frozen=True, slots=True)
class Ip6(Mechanism):
    kind: ClassVar[str] = "ip6"
    network: ipaddress.IPv6Network
    value: int = 0
    mask: int = 0


@dataclass(frozen=True, slots=True)
class Redirect:
    """``redirect=`` (RFC 7208 6.1)."""

    domain_spec: MacroString
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """``exp=`` (RFC 7208 6.2)."""

    domain_spec: MacroString
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class UnknownModifier:
    """Any other ``name=value``: syntax-checked, otherwise ignored (RFC 7208 6)."""

    name: str
    value: MacroString
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class SpfRecord:
    """A parsed ``v=spf1`` record."""

    text: str
    mechanisms: tuple[Mechanism, ...]
    redirect: Redirect | None = None
    explanation: Explanation | None = None
    unknown_modifiers: tuple[UnknownModifier, ...] = ()
    has_all: bool = field(default=False)

    @property
    def dns_terms(self) -> int:
        """How many terms of this record alone count against the 10-lookup limit."""
        count = sum(1 for m in self.mechanisms if m.queries_dns)
        return count + (1 if self.redirect is not None and not self.has_all else 0)


# -- record selection -------------------------------------------------------------------

_VERSION = re.compile(r"v=spf1(?: |$)", re.IGNORECASE)


def is_spf_record(text: str) -> bool:
    """RFC 7208 4.5: the record starts with exactly "v=spf1", ended by a space or the end."""
    return _VERSION.match(text) is not None


# -- macro strings ----------------------------------------------------------------------

_MACRO_BODY = re.compile(r"([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)\}")


def parse_macro_string(text: str, *, offset: int = 0, exp: bool = False) -> MacroString:
    """Parse a macro-string (RFC 7208 7.1). ``exp``: explanation text, where c, r, t are allowed
    and any visible character or space may appear. ``offset`` shifts error positions."""
    parts: list[MacroPart] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "%":
            code = ord(ch)
            # RFC 7208 12: macro-literal = %x21-24 / %x26-7E; explanation text also allows SP (6.2).
            if not (0x21 <= code <= 0x7E or (exp and code == 0x20)):
                raise SpfSyntaxError(f"character {ch!r} not allowed", offset + i, text)
            literal.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "%":
            literal.append("%")
            i += 2
        elif nxt == "_":
            literal.append(" ")
            i += 2
        elif nxt == "-":
            literal.append("%20")
            i += 2
        elif nxt == "{":
            match = _MACRO_BODY.match(text, i + 2)
            if match is None:
                raise SpfSyntaxError("malformed macro (expected %{letter[digits][r][delimiters]})",
                                     offset + i, text)
            letter_raw, digits, reverse, delimiters = match.groups()
            letter = letter_raw.lower()
            if letter not in MACRO_LETTERS:
                raise SpfSyntaxError(f"unknown macro letter {letter_raw!r}", offset + i + 2, text)
            if letter in EXP_ONLY_LETTERS and not exp:
                # RFC 7208 7.2: c, r and t are allowed only in "exp" text.
                raise SpfSyntaxError(f"macro %{{{letter_raw}}} is allowed only in explanation text",
                                     offset + i, text)
            count: int | None = None
            if digits:
                count = int(digits) if len(digits) < 10 else 1 << 31
                if count == 0:
                    # RFC 7208 7.3: "If a DIGIT is specified, the value MUST be nonzero."
                    raise SpfSyntaxError("macro part count must be nonzero", offset + i + 3, text)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(MacroExpand(letter, count, bool(reverse), delimiters,
                                     letter_raw.isupper(), text[i:match.end()]))
            i = match.end()
        else:
            # RFC 7208 7.1: a "%" not followed by "{", "%", "-" or "_" is a syntax error.
            raise SpfSyntaxError("'%' must be followed by '{', '%', '_' or '-'", offset + i, text)
    if literal:
        parts.append("".join(literal))
    return MacroString(text, tuple(parts))


def _has_domain_end(text: str) -> bool:
    """RFC 7208 12: domain-end = ( "." toplabel [ "." ] ) / macro-expand, with
    toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ).

    Only the last label is looked at, without a regex: a search for the grammar over the whole
    text backtracks quadratically on a long label (an attacker's record is input here)."""
    body = text[:-1] if text.endswith(".") else text
    _, dot, label = body.rpartition(".")
    if not dot or not label or not label.isascii() or not label.replace("-", "").isalnum():
        return False
    if "-" in label:
        return label[0] != "-" and label[-1] != "-"
    return any(c.isalpha() for c in label)


def parse_domain_spec(text: str, *, offset: int = 0) -> MacroString:
    """domain-spec = macro-string domain-end (RFC 7208 7.1, 12). The check is syntactic, on the
    unexpanded text: it ends in a macro or in "." toplabel ["."]."""
    if not text:
        raise SpfSyntaxError("empty domain-spec", offset, text)
    spec = parse_macro_string(text, offset=offset)
    last = spec.parts[-1]
    if isinstance(last, MacroExpand):
        return spec
    if not _has_domain_end(text) or text.endswith(("%%", "%_", "%-")):
        raise SpfSyntaxError(f"domain-spec {text!r} must end in a macro or a valid top label",
                             offset, text)
    return spec


# -- terms ------------------------------------------------------------------------------

_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9\-_.]*)=")
_DIRECTIVE = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9\-_.]*)")
_DUAL_CIDR = re.compile(r"(?:/([0-9]+))?(?://([0-9]+))?$")
_IP4_NETWORK = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                          r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$")
_IP6_CHARS = re.compile(r"[0-9A-Fa-f:.]+$")


def _cidr(digits: str, limit: int, position: int, text: str) -> int:
    # RFC 7208 12: ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT); no leading zeros.
    if len(digits) > 1 and digits[0] == "0":
        raise SpfSyntaxError(f"CIDR length /{digits} has a leading zero", position, text)
    value = int(digits)
    if value > limit:
        raise SpfSyntaxError(f"CIDR length /{digits} is over {limit}", position, text)
    return value


def _split_domain_and_cidr(rest: str, position: int, text: str) -> tuple[str | None, int, int]:
    """``[":" domain-spec] [dual-cidr-length]`` for a and mx (RFC 7208 5.3, 5.4)."""
    domain: str | None = None
    if rest.startswith(":"):
        body = rest[1:]
        position += 1
    elif rest.startswith("/") or not rest:
        body = rest
    else:
        raise SpfSyntaxError("expected ':' or '/' after the mechanism name", position, text)
    match = _DUAL_CIDR.search(body)
    assert match is not None  # the pattern matches the empty suffix at least
    cidr4, cidr6 = 32, 128
    if match.group(1) is not None:
        cidr4 = _cidr(match.group(1), 32, position + match.start(1), text)
    if match.group(2) is not None:
        cidr6 = _cidr(match.group(2), 128, position + match.start(2), text)
    domain_text = body[: match.start()]
    if rest.startswith(":"):
        domain = domain_text
    elif domain_text:
        raise SpfSyntaxError("unexpected text after the mechanism name", position, text)
    return domain, cidr4, cidr6


def _parse_directive(term: str, position: int, record_text: str) -> Mechanism:
    match = _DIRECTIVE.match(term)
    if match is None:
        raise SpfSyntaxError(f"not a mechanism or modifier: {term!r}", position, record_text)
    qualifier = match.group(1) or "+"
    name = match.group(2).lower()
    rest = term[match.end():]
    rest_pos = position + match.end()
    if name == "all":
        if rest:
            raise SpfSyntaxError("'all' takes no argument", rest_pos, record_text)
        return All(qualifier, term, position)
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"'{name}' needs ':' and a domain", rest_pos, record_text)
        spec = parse_domain_spec(rest[1:], offset=rest_pos + 1)
        cls = Include if name == "include" else Exists
        return cls(qualifier, term, position, spec)
    if name == "ptr":
        if not rest:
            return Ptr(qualifier, term, position, None)
        if not rest.startswith(":"):
            raise SpfSyntaxError("'ptr' takes ':' and a domain, no CIDR length", rest_pos, record_text)
        return Ptr(qualifier, term, position, parse_domain_spec(rest[1:], offset=rest_pos + 1))
    if name in ("a", "mx"):
        domain, cidr4, cidr6 = _split_domain_and_cidr(rest, rest_pos, record_text)
        target = None if domain is None else parse_domain_spec(domain, offset=rest_pos + 1)
        if name == "a":
            return A(qualifier, term, position, target, cidr4, cidr6)
        return Mx(qualifier, term, position, target, cidr4, cidr6)
    if name == "ip4":
        return _parse_ip4(qualifier, term, position, rest, rest_pos, record_text)
    if name == "ip6":
        return _parse_ip6(qualifier, term, position, rest, rest_pos, record_text)
    written, start = match.group(2), position + len(match.group(1))
    suffix, meant = _meant(name)
    fix = None
    if meant is not None:
        # redirect:x is redirect=x; inlcude:x is include:x
        end = start + len(written) + (1 if name in ("redirect", "exp") and rest.startswith(":") else 0)
        fix = (start, end, meant)
    raise SpfSyntaxError(f"unknown mechanism {written!r}{suffix}", start, record_text, fix)


MECHANISM_NAMES = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")  # RFC 7208 5


def _meant(name: str) -> tuple[str, str | None]:
    """(' (did you mean 'include'?)', 'include') for a misspelt mechanism ("inlcude", "ipv4"),
    (' (redirect is a modifier: ...)', 'redirect=') for a modifier written like a mechanism,
    else ('', None). Short names only: an attacker's long term costs no quadratic comparison."""
    if name in ("redirect", "exp"):  # modifiers (RFC 7208 6) written like a mechanism
        return f" ({name} is a modifier: write '{name}=')", f"{name}="
    if not 3 <= len(name) <= 20:
        return "", None
    close = difflib.get_close_matches(name, MECHANISM_NAMES, n=1, cutoff=0.75)
    return (f" (did you mean {close[0]!r}?)", close[0]) if close else ("", None)


def _parse_ip4(qualifier: str, term: str, position: int, rest: str, rest_pos: int,
               record_text: str) -> Ip4:
    if not rest.startswith(":"):
        raise SpfSyntaxError("'ip4' needs ':' and an address", rest_pos, record_text)
    body = rest[1:]
    address, slash, length = body.partition("/")
    if not _IP4_NETWORK.match(address):
        raise SpfSyntaxError(f"bad IPv4 address {address!r}", rest_pos + 1, record_text)
    prefix = 32
    if slash:
        if not length.isdigit() or not length.isascii():
            raise SpfSyntaxError(f"bad CIDR length {length!r}", rest_pos + 2 + len(address), record_text)
        prefix = _cidr(length, 32, rest_pos + 2 + len(address), record_text)
    # RFC 7208 5.6: host bits in the address are ignored (compare the masked prefix).
    network = ipaddress.IPv4Network((address, prefix), strict=False)
    return Ip4(qualifier, term, position, network, int(network.network_address), int(network.netmask))


def _parse_ip6(qualifier: str, term: str, position: int, rest: str, rest_pos: int,
               record_text: str) -> Ip6:
    if not rest.startswith(":"):
        raise SpfSyntaxError("'ip6' needs ':' and an address", rest_pos, record_text)
    body = rest[1:]
    address, slash, length = body.partition("/")
    # RFC 4291 2.2 text forms only (no zone index, no brackets).
    if not _IP6_CHARS.match(address):
        raise SpfSyntaxError(f"bad IPv6 address {address!r}", rest_pos + 1, record_text)
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        raise SpfSyntaxError(f"bad IPv6 address {address!r}", rest_pos + 1, record_text) from None
    prefix = 128
    if slash:
        if not length.isdigit() or not length.isascii():
            raise SpfSyntaxError(f"bad CIDR length {length!r}", rest_pos + 2 + len(address), record_text)
        prefix = _cidr(length, 128, rest_pos + 2 + len(address), record_text)
    network = ipaddress.IPv6Network((parsed, prefix), strict=False)
    return Ip6(qualifier, term, position, network, int(network.network_address), int(network.netmask))


_TERM = re.compile(r"[^ ]+")


def parse_record(text: str) -> SpfRecord:
    """Parse one SPF record (``v=spf1 ...``) into an :class:`SpfRecord`.

    Raises :class:`SpfSyntaxError` (a ``ValueError``) with ``.position`` and ``.reason``.
    """
    if not is_spf_record(text):
        raise SpfSyntaxError("record does not start with 'v=spf1'", 0, text)
    for index, ch in enumerate(text):
        code = ord(ch)
        # RFC 7208 3.1 and 12: US-ASCII; terms are separated by spaces only (no tabs, no controls).
        if code < 0x20 or code > 0x7E:
            what = "non-ASCII character" if code > 0x7E else "control character"
            raise SpfSyntaxError(f"{what} {ch!r}", index, text)
    mechanisms: list[Mechanism] = []
    redirect: Redirect | None = None
    explanation: Explanation | None = None
    unknown: list[UnknownModifier] = []
    has_all = False
    for match in _TERM.finditer(text, 6):
        term = match.group()
        position = match.start()
        modifier = _MODIFIER.match(term)
        if modifier is not None:
            name = modifier.group(1).lower()
            value = term[modifier.end():]
            value_pos = position + modifier.end()
            if name == "redirect":
                if redirect is not None:
                    # RFC 7208 6: redirect and exp MUST NOT appear more than once.
                    raise SpfSyntaxError("'redirect' appears more than once", position, text)
                redirect = Redirect(parse_domain_spec(value, offset=value_pos), term, position)
            elif name == "exp":
                if explanation is not None:
                    raise SpfSyntaxError("'exp' appears more than once", position, text)
                explanation = Explanation(parse_domain_spec(value, offset=value_pos), term, position)
            else:
                unknown.append(UnknownModifier(modifier.group(1), parse_macro_string(value, offset=value_pos),
                                               term, position))
            continue
        mechanism = _parse_directive(term, position, text)
        has_all = has_all or isinstance(mechanism, All)
        mechanisms.append(mechanism)
    return SpfRecord(text, tuple(mechanisms), redirect, explanation, tuple(unknown), has_all)
