"""DMARC policy records: RFC 9989 section 4.7/4.8, with the RFC 7489 tags RFC 9989 dropped.

``parse_record`` turns the text of one TXT record into a frozen ``DmarcRecord``. It raises
``DmarcRecordError`` only when the text is not a usable DMARC record at all (no leading
``v=DMARC1``, broken tag-list syntax, a duplicated tag). Invalid *values* are not fatal: RFC 9989
section 4.8 says syntax errors in the remainder of the record are discarded in favour of the
defaults, so the record keeps the default and says what it ignored in ``warnings``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Policy = Literal["none", "quarantine", "reject"]
POLICIES: tuple[Policy, ...] = ("none", "quarantine", "reject")

# Tags RFC 9989 registers as active (section 9.3) and those it moved to "historic" (RFC 7489 only).
RFC9989_TAGS = frozenset({"v", "p", "sp", "np", "psd", "t", "adkim", "aspf", "rua", "ruf", "fo"})
RFC7489_ONLY_TAGS = frozenset({"pct", "rf", "ri"})
KNOWN_TAGS = RFC9989_TAGS | RFC7489_ONLY_TAGS

# One warning list must stay small even for a 64 KB garbage record.
MAX_WARNINGS = 50

_VERSION_RE = re.compile(r"v[ \t]*=[ \t]*DMARC1[ \t]*(?:;|$)")
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_URI_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# RFC 7489 section 6.4 / RFC 9989 obs-dmarc-report-size: "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]
_SIZE_RE = re.compile(r"!([0-9]+)([kmgtKMGT]?)$")
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class DmarcRecordError(ValueError):
    """The text is not a usable DMARC record; ``reason`` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RecordIssue:
    """A problem or remark about a record. ``code`` is stable for scripts (and the audit)."""

    code: str
    message: str
    tag: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "tag": self.tag}


@dataclass(frozen=True, slots=True)
class ReportUri:
    """One rua/ruf entry (RFC 9989 section 4.6, RFC 7489 section 6.2)."""

    raw: str
    uri: str  # without the size suffix
    scheme: str  # lower-case, e.g. "mailto"
    address: str | None  # for mailto: the mailbox (local@domain), else None
    domain: str | None  # for mailto: the mailbox domain (lower-case), else None
    size_limit: int | None  # bytes, from the obsolete "!10m" suffix (RFC 7489 only)

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "scheme": self.scheme, "address": self.address, "domain": self.domain,
                "size_limit": self.size_limit}


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """A parsed DMARC policy record. Fields hold the effective values (defaults applied)."""

    text: str
    p: Policy | None  # None: absent or invalid (see p_valid)
    sp: Policy | None
    np: Policy | None
    psd: Literal["y", "n", "u"] = "u"
    t: bool = False
    adkim: Literal["r", "s"] = "r"
    aspf: Literal["r", "s"] = "r"
    rua: tuple[ReportUri, ...] = ()
    ruf: tuple[ReportUri, ...] = ()
    fo: tuple[str, ...] = ("0",)
    # RFC 7489 tags RFC 9989 dropped: None when absent (or invalid).
    pct: int | None = None
    rf: tuple[str, ...] | None = None
    ri: int | None = None
    # True when the tag was present with a value outside its grammar.
    p_invalid: bool = False
    sp_invalid: bool = False
    np_invalid: bool = False
    tags: tuple[tuple[str, str], ...] = ()  # (name, raw value) in record order
    warnings: tuple[RecordIssue, ...] = field(default=())

    @property
    def tag_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.tags)

    def has_tag(self, name: str) -> bool:
        return any(tag == name for tag, _ in self.tags)

    @property
    def pct_effective(self) -> int:
        """The RFC 7489 sampling rate (default 100)."""
        return 100 if self.pct is None else self.pct

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (used by ``zegel dmarc ... --json``)."""
        return {
            "text": self.text,
            "p": self.p, "sp": self.sp, "np": self.np, "psd": self.psd, "t": "y" if self.t else "n",
            "adkim": self.adkim, "aspf": self.aspf,
            "rua": [uri.to_dict() for uri in self.rua], "ruf": [uri.to_dict() for uri in self.ruf],
            "fo": list(self.fo), "pct": self.pct, "rf": list(self.rf) if self.rf is not None else None,
            "ri": self.ri,
            "tags": [{"name": name, "value": value} for name, value in self.tags],
            "warnings": [issue.to_dict() for issue in self.warnings],
        }

    def usable(self, mode: str = "rfc9989") -> bool:
        """Whether a receiver applies DMARC with this record (RFC 9989 4.10.1, RFC 7489 6.6.3).

        A record without a valid p (RFC 7489: absent or invalid; RFC 9989: present but invalid,
        since an absent p means p=none there), or with an invalid sp/np, is used as p=none only
        when rua holds at least one valid URI; otherwise DMARC does not apply.
        """
        broken = self.p_invalid or self.sp_invalid or (self.np_invalid and mode == "rfc9989")
        if mode == "rfc7489" and self.p is None:
            broken = True
        return not broken or bool(self.rua)

    def policy_for(self, kind: Literal["p", "sp", "np"], mode: str = "rfc9989") -> Policy:
        """The requested policy for the author domain itself (p), an existing subdomain (sp)
        or a non-existent subdomain (np, RFC 9989 only), with the fall-backs of section 4.7."""
        broken = self.p_invalid or self.sp_invalid or (self.np_invalid and mode == "rfc9989")
        if mode == "rfc7489" and self.p is None:
            broken = True
        if broken:
            return "none"  # the rua rule of RFC 9989 4.10.1 / RFC 7489 6.6.3: act as p=none
        p: Policy = self.p or "none"
        if kind == "p":
            return p
        if kind == "np" and mode == "rfc9989" and self.np is not None:
            return self.np
        return self.sp if self.sp is not None else p


def is_dmarc_record(text: str) -> bool:
    """Whether a TXT record claims to be DMARC: it starts with the v=DMARC1 tag (RFC 9989 4.7:
    the value is case-sensitive and the tag must come first). Leading blanks are tolerated."""
    return _VERSION_RE.match(text.lstrip(" \t")) is not None


def _split_tags(text: str) -> list[tuple[str, str]]:
    """RFC 6376 3.2 tag-list: tag-spec *( ";" tag-spec ) [ ";" ]; whitespace around names,
    '=' and values is ignored."""
    pairs: list[tuple[str, str]] = []
    for part in text.split(";"):
        spec = part.strip(" \t\r\n")
        if not spec:
            continue  # a trailing ";" is allowed; "a=b;;c=d" is tolerated, as most receivers do
        name, sep, value = spec.partition("=")
        name = name.strip(" \t\r\n")
        if not sep:
            raise DmarcRecordError(f"tag {_short(spec)!r} has no '=' (tag-list syntax, RFC 6376 3.2)")
        if not _TAG_NAME_RE.fullmatch(name):
            raise DmarcRecordError(f"invalid tag name {_short(name)!r}")
        pairs.append((name, value.strip(" \t\r\n")))
    return pairs


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def parse_report_uri(raw: str) -> ReportUri:
    """One DMARC URI with its optional (obsolete) size suffix; raises ValueError if invalid."""
    text = raw.strip(" \t")
    if not text:
        raise ValueError("empty URI")
    size_limit: int | None = None
    match = _SIZE_RE.search(text)
    if match:
        digits, unit = match.group(1), match.group(2).lower()
        if len(digits) > 15:
            raise ValueError(f"size limit in {_short(text)!r} is too large")
        size_limit = int(digits) * _SIZE_UNITS[unit]
        text = text[: match.start()]
    elif "!" in text:
        raise ValueError(f"{_short(text)!r}: '!' must be percent-encoded in a DMARC URI")
    scheme_match = _URI_SCHEME_RE.match(text)
    if not scheme_match:
        raise ValueError(f"{_short(text)!r} is not a URI (no scheme such as mailto:)")
    scheme = scheme_match.group(0)[:-1].lower()
    rest = text[scheme_match.end():]
    if any(ch in rest for ch in " \t\"<>\\^`{|}") or any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in rest):
        raise ValueError(f"{_short(text)!r} contains characters not allowed in a URI")
    address = domain = None
    if scheme == "mailto":
        mailbox = rest.split("?", 1)[0]
        local, at, host = mailbox.rpartition("@")
        if not at or not local or not host or "." not in host.strip("."):
            raise ValueError(f"{_short(text)!r} is not a mailto: URI with an address")
        address, domain = mailbox, host.lower().rstrip(".")
    elif not rest:
        raise ValueError(f"{_short(text)!r} has nothing after the scheme")
    return ReportUri(raw=raw.strip(" \t"), uri=text, scheme=scheme, address=address, domain=domain,
                     size_limit=size_limit)


class _Issues:
    def __init__(self) -> None:
        self.items: list[RecordIssue] = []
        self.dropped = 0

    def add(self, code: str, message: str, tag: str | None = None) -> None:
        if len(self.items) < MAX_WARNINGS:
            self.items.append(RecordIssue(code, message, tag))
        else:
            self.dropped += 1

    def result(self) -> tuple[RecordIssue, ...]:
        if self.dropped:
            return (*self.items, RecordIssue("too-many-warnings", f"{self.dropped} more warnings not shown"))
        return tuple(self.items)


def _policy(name: str, value: str, issues: _Issues) -> tuple[Policy | None, bool]:
    lowered = value.lower()  # ABNF literal strings are case-insensitive (RFC 5234 2.3)
    for policy in POLICIES:
        if lowered == policy:
            return policy, False
    # A misspelt policy ("rejct", "quarantaine") is the usual cause: name the one meant. Short
    # values only, so an attacker's long value costs no quadratic comparison.
    close = difflib.get_close_matches(lowered, POLICIES, n=1, cutoff=0.6) if len(lowered) <= 20 else []
    meant = f" (did you mean {close[0]!r}?)" if close else ""
    issues.add("invalid-value", f"{name}={_short(value)!r} is not none, quarantine or reject{meant}", name)
    return None, True


def _uri_list(name: str, value: str, issues: _Issues) -> tuple[ReportUri, ...]:
    uris: list[ReportUri] = []
    for item in value.split(","):
        try:
            uri = parse_report_uri(item)
        except ValueError as exc:
            issues.add("invalid-uri", f"{name}: {exc}; ignored", name)
            continue
        if uri.size_limit is not None:
            issues.add("obsolete-size-limit",
                       f"{name}: size limit in {uri.raw!r} is obsolete in RFC 9989 (reporters ignore it); "
                       "RFC 7489 reporters still honour it", name)
        if uri.scheme != "mailto":
            issues.add("uri-scheme", f"{name}: {uri.scheme}: URIs are not widely supported "
                       "(receivers must support only mailto:)", name)
        uris.append(uri)
        if len(uris) >= 32:
            issues.add("too-many-uris", f"{name}: more than 32 URIs; the rest ignored", name)
            break
    if not uris and value.strip():
        issues.add("no-valid-uri", f"{name} holds no valid URI", name)
    return tuple(uris)


def _fo(value: str, issues: _Issues) -> tuple[str, ...]:
    # RFC 9989 4.8 dmarc-fo: 0 and 1 are mutually exclusive; each option at most once.
    options = [item.strip(" \t") for item in value.split(":")]
    if not options or any(opt not in ("0", "1", "d", "s") for opt in options):
        issues.add("invalid-value", f"fo={_short(value)!r}: options are 0, 1, d, s separated by ':'; "
                   "using the default 0", "fo")
        return ("0",)
    if len(set(options)) != len(options) or ("0" in options and "1" in options):
        issues.add("invalid-value", f"fo={_short(value)!r}: an option repeats or 0 and 1 are combined; "
                   "using the default 0", "fo")
        return ("0",)
    return tuple(options)


def parse_record(text: str) -> DmarcRecord:
    """Parse one DMARC record (the TXT strings already joined, RFC 9989 4.5).

    Raises ``DmarcRecordError`` if it is not a DMARC record (v=DMARC1 must be the first tag) or
    its tag-list is broken (no '=', bad tag name, a tag given twice: RFC 6376 3.2).
    """
    if not isinstance(text, str):
        raise DmarcRecordError("record must be text")
    issues = _Issues()
    stripped = text.strip(" \t\r\n")
    if not stripped:
        raise DmarcRecordError("empty record")
    if text[:1] in (" ", "\t"):
        issues.add("leading-whitespace", "the record starts with whitespace; strict receivers ignore it")
    if not is_dmarc_record(stripped):
        head = stripped.split(";", 1)[0].strip()
        if re.fullmatch(r"v\s*=\s*dmarc1", head, re.IGNORECASE):
            raise DmarcRecordError(f"version {head!r} must be exactly v=DMARC1 (case-sensitive)")
        if re.match(r"v\s*=\s*DMARC1\s", head):
            raise DmarcRecordError(f"missing ';' after v=DMARC1 in {_short(head)!r}")
        raise DmarcRecordError(f"not a DMARC record: must start with v=DMARC1, found {_short(head)!r}")
    pairs = _split_tags(stripped)
    seen: set[str] = set()
    for name, _ in pairs:
        key = name.lower()
        if key in seen:
            raise DmarcRecordError(f"tag {key!r} appears more than once (RFC 6376 3.2)")
        seen.add(key)

    values: dict[str, object] = {}
    p = sp = np = None
    p_invalid = sp_invalid = np_invalid = False
    psd: Literal["y", "n", "u"] = "u"
    testing = False
    adkim: Literal["r", "s"] = "r"
    aspf: Literal["r", "s"] = "r"
    rua: tuple[ReportUri, ...] = ()
    ruf: tuple[ReportUri, ...] = ()
    fo: tuple[str, ...] = ("0",)
    pct: int | None = None
    rf: tuple[str, ...] | None = None
    ri: int | None = None

    for index, (raw_name, value) in enumerate(pairs):
        name = raw_name.lower()
        if raw_name != name:
            issues.add("tag-case", f"tag {raw_name!r} should be lower-case", name)
        if index == 0:
            continue  # v=DMARC1, checked above
        if name not in KNOWN_TAGS:
            # RFC 9989 4.7 / RFC 7489 6.3: unknown tags MUST be ignored.
            issues.add("unknown-tag", f"unknown tag {_short(raw_name)!r} is ignored", name)
            continue
        if name in RFC7489_ONLY_TAGS:
            issues.add("dropped-tag", f"{name} was removed by RFC 9989 (RFC 9989 receivers ignore it; "
                       "RFC 7489 receivers still apply it)" + ("; use t=y instead of pct=0" if name == "pct" else ""),
                       name)
        if not value:
            issues.add("empty-value", f"{name} has an empty value; ignored", name)
            if name == "p":
                p_invalid = True
            elif name == "sp":
                sp_invalid = True
            elif name == "np":
                np_invalid = True
            continue
        values[name] = value
        lowered = value.lower()
        if name == "p":
            p, p_invalid = _policy("p", value, issues)
            if index != 1:
                issues.add("p-not-second", "p is not right after v; RFC 7489 receivers expect it there", "p")
        elif name == "sp":
            sp, sp_invalid = _policy("sp", value, issues)
        elif name == "np":
            np, np_invalid = _policy("np", value, issues)
        elif name == "psd":
            if lowered in ("y", "n", "u"):
                psd = "y" if lowered == "y" else "n" if lowered == "n" else "u"
            else:
                issues.add("invalid-value", f"psd={_short(value)!r} is not y, n or u; using u", "psd")
        elif name == "t":
            if lowered in ("y", "n"):
                testing = lowered == "y"
            else:
                issues.add("invalid-value", f"t={_short(value)!r} is not y or n; using n", "t")
        elif name in ("adkim", "aspf"):
            if lowered in ("r", "s"):
                mode: Literal["r", "s"] = "s" if lowered == "s" else "r"
                if name == "adkim":
                    adkim = mode
                else:
                    aspf = mode
            else:
                issues.add("invalid-value", f"{name}={_short(value)!r} is not r or s; using r", name)
        elif name == "rua":
            rua = _uri_list("rua", value, issues)
        elif name == "ruf":
            ruf = _uri_list("ruf", value, issues)
        elif name == "fo":
            fo = _fo(value, issues)
        elif name == "pct":
            if value.isascii() and value.isdigit() and len(value) <= 3 and int(value) <= 100:
                pct = int(value)
            else:
                issues.add("invalid-value", f"pct={_short(value)!r} is not an integer 0-100; using 100", "pct")
        elif name == "rf":
            formats = tuple(item.strip(" \t").lower() for item in value.split(":"))
            if all(fmt == "afrf" for fmt in formats):
                rf = formats
            else:
                issues.add("invalid-value", f"rf={_short(value)!r}: the only registered format is afrf", "rf")
        elif name == "ri":
            if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) < 2**32:
                ri = int(value)
            else:
                issues.add("invalid-value", f"ri={_short(value)!r} is not a 32-bit unsigned integer; "
                           "using 86400", "ri")

    if "p" not in seen:
        issues.add("missing-p", "no p tag: RFC 9989 receivers treat the record as p=none; "
                   "RFC 7489 receivers apply DMARC only if rua holds a valid URI", "p")
    if "fo" in values and not ruf:
        issues.add("fo-without-ruf", "fo is ignored without a (valid) ruf tag", "fo")
    if (p_invalid or sp_invalid or np_invalid) and not rua:
        issues.add("unusable", "a policy tag is invalid and rua holds no valid URI: "
                   "receivers do not apply DMARC with this record (RFC 9989 4.10.1)")
    return DmarcRecord(
        text=text, p=p, sp=sp, np=np, psd=psd, t=testing, adkim=adkim, aspf=aspf, rua=rua, ruf=ruf,
        fo=fo, pct=pct, rf=rf, ri=ri, p_invalid=p_invalid, sp_invalid=sp_invalid, np_invalid=np_invalid,
        tags=tuple((name.lower(), value) for name, value in pairs), warnings=issues.result(),
    )
