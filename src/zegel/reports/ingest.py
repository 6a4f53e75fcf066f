"""Ingesting received reports (domain-owner side).

Accepts aggregate reports (RFC 9990 and RFC 7489 Appendix C XML; bare, .gz, .zip or as
attachments of an .eml), failure reports (RFC 6591 ARF, RFC 9991), SMTP TLS reports (RFC 8460
JSON) and delivery status notifications for our own sent reports (bounces -> suppression).

Hostile input is bounded: documents with a DTD are refused before parsing (no entity
expansion, no external entities), the XML parser never touches the network or resolves
entities, compressed data is decompressed incrementally up to a cap, and files, attachments
and zip members over their size limits are refused. One file is read at a time, so memory
stays bounded however many files a maildir holds.
"""

from __future__ import annotations

import binascii
import calendar
import contextlib
import email.parser
import email.policy
import email.utils
import functools
import hashlib
import imaplib
import importlib
import io
import ipaddress
import json
import os
import quopri
import re
import socket
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from zegel.reports.model import (
    RFC9990_NAMESPACE,
    AggregateReport,
    FailureReport,
    ParsedAggregate,
    PolicyPublished,
    RecordFields,
    ReportMetadata,
    TlsPolicySummary,
    TlsReport,
    domain_of,
)
from zegel.reports.store import IngestSession, ReportStore, StoreRejected

# lxml ships no type information (and lxml-stubs is not a dependency): use it as Any.
etree: Any = importlib.import_module("lxml.etree")


# Counts beyond this are not real mail volumes; they would also overflow BIGINT sums.
MAX_COUNT = 10**12


class ReportError(ValueError):
    """A file or part is not an acceptable report; the message says why, in one line."""

    def __init__(self, message: str) -> None:
        # Parsers' messages (lxml's, zlib's) may hold newlines or control characters: one line.
        line = " ".join("".join(c if c.isprintable() else " " for c in message[:400]).split())
        super().__init__(line)


@dataclass(frozen=True)
class Limits:
    """Bounds on hostile or broken input (bytes)."""

    max_file: int = 50 * 1024 * 1024  # a file or mail message as read
    max_attachment: int = 25 * 1024 * 1024  # one decoded MIME part
    max_decompressed: int = 100 * 1024 * 1024  # what one gzip stream or zip member may expand to
    max_zip_members: int = 50
    max_depth: int = 3  # containers inside containers (eml -> zip -> gz -> xml)


@dataclass(frozen=True)
class IngestResult:
    """What happened to one report (or one file without any)."""

    source: str
    kind: str  # aggregate | failure | tls | bounce | unknown
    status: str  # stored | duplicate | rejected | suppressed | skipped
    detail: str = ""
    repairs: str = ""  # stored after repairing broken XML: what was repaired (see repair_xml)

    def line(self) -> str:
        return f"{self.source}: {self.status} {self.kind}" + (f": {self.detail}" if self.detail else "")


@dataclass
class IngestStats:
    files: int = 0
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0
    suppressed: int = 0
    skipped: int = 0
    recovered: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, result: IngestResult) -> None:
        if result.status in ("stored", "duplicate", "rejected", "suppressed", "skipped"):
            setattr(self, result.status, getattr(self, result.status) + 1)
        if result.repairs and result.status == "stored":
            self.recovered += 1
        if result.status == "stored":
            self.by_kind[result.kind] = self.by_kind.get(result.kind, 0) + 1


# --- XML --------------------------------------------------------------------------------------

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False, "no_network": True, "huge_tree": False, "load_dtd": False,
    "dtd_validation": False, "remove_comments": True, "remove_pis": True, "collect_ids": False,
}
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def xml_parser() -> Any:
    """A hardened lxml parser (see :func:`parse_xml`); one thread may reuse it for many
    documents, which saves setting up libxml2's parser context for each."""
    return etree.XMLParser(**_PARSER_OPTIONS)


def parse_xml(data: bytes, parser: Any = None) -> Any:
    """Parse untrusted XML with entity expansion, DTDs and network access refused. ``parser``
    (from :func:`xml_parser`) is used by one thread only; without it a new one is made."""
    if _DTD.search(data, 0, 1 << 16) or b"<!ENTITY" in data:
        raise ReportError("XML with a DTD or entity declarations refused")
    try:
        root = etree.fromstring(data, parser if parser is not None else xml_parser())
    except etree.XMLSyntaxError as exc:
        raise ReportError(f"not well-formed XML: {exc.msg or exc}") from None
    if root is None:
        raise ReportError("empty XML document")
    return root


def _localname(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return (tag.rpartition("}")[2] if tag[:1] == "{" else tag).strip().lower()


def _normalize_tags(root: Any) -> str:
    """Drop namespaces and fold element names to lower case in one pass, so every reporter's
    dialect (no namespace, RFC 9990's, the old draft's, a wrong one) reads the same.
    Returns the root's original namespace."""
    namespace = root.tag[1:].partition("}")[0] if root.tag[:1] == "{" else ""
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str):
            continue
        name = tag.rpartition("}")[2] if tag[:1] == "{" else tag
        if not name.islower():
            name = name.lower()
        if name is not tag:
            element.tag = name
    return namespace


# Numbers in reports: ASCII digits only (str.isdigit and float() also take other scripts'
# digits, "1_000", "inf" and "nan"), bounded length before matching.
_DECIMAL = re.compile(r"[0-9]{1,40}(?:\.[0-9]{0,40})?")


def _decimal(text: str, what: str) -> float:
    """A non-negative decimal number written in ASCII digits, or ReportError."""
    value = text.strip()
    if len(value) > 81 or not _DECIMAL.fullmatch(value):
        raise ReportError(f"bad {what} {value[:20]!r}")
    return float(value)


def parse_timestamp(text: str) -> int:
    """Seconds since the epoch from what reporters actually send: integers (also with a
    fraction or in milliseconds) and ISO 8601 / RFC 5322 dates."""
    value = text.strip()
    if not value:
        raise ReportError("empty date")
    if len(value) > 64:
        raise ReportError(f"unreadable date {value[:40]!r}")
    if _DECIMAL.fullmatch(value):
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000
        if not 0 <= number < 1e10:
            raise ReportError(f"date out of range: {value[:40]!r}")
        return int(number)
    if not value.isascii():
        raise ReportError(f"unreadable date {value[:40]!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise ReportError(f"unreadable date {value[:40]!r}") from None
    try:
        if parsed.tzinfo is None:
            return calendar.timegm(parsed.timetuple())
        return int(parsed.timestamp())
    except (OverflowError, ValueError, OSError):
        raise ReportError(f"date out of range: {value[:40]!r}") from None


def _count(text: str) -> int:
    if 0 < len(text) <= 15 and text.isdigit() and text.isascii():  # the usual case: exact as int(float())
        value = int(text)
    else:
        value = int(_decimal(text, "record count")) if text else 1
    if value > MAX_COUNT:
        raise ReportError(f"implausible record count {value}")
    return value


def _tls_count(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ReportError(f"bad session count {str(value)[:20]!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not 0 <= value <= MAX_COUNT:  # also refuses nan and inf
            raise ReportError(f"bad session count {str(value)[:20]!r}")
        number = int(value)
    else:
        number = int(_decimal(value, "session count"))
    if not 0 <= number <= MAX_COUNT:
        raise ReportError(f"implausible session count {str(number)[:20]}")
    return number


def _ip(text: str) -> str:
    text = text.strip()
    # Fast paths (nearly every row): inet_pton accepts exactly the dotted-quad form, and
    # inet_ntop writes the RFC 5952 canonical IPv6 text, as ipaddress does (same stored form).
    try:
        if ":" not in text:
            socket.inet_pton(socket.AF_INET, text)
            return text
        if "%" not in text and "[" not in text:
            canonical = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
            if "." not in canonical:  # glibc writes ::/96 and ::ffff:0:0/96 dotted; ipaddress does not
                return canonical
    except OSError:
        pass
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        raise ReportError(f"bad source_ip {text[:60]!r}") from None


_T = TypeVar("_T")

# The element names a <record> is read by (``AggregateParser`` prefixes them with the namespace).
_RECORD_TAGS = ("record", "row", "identifiers", "auth_results", "source_ip", "count", "policy_evaluated",
                "disposition", "dkim", "spf", "reason", "header_from", "envelope_from", "envelope_to", "domain",
                "result", "selector", "scope", "human_result", "type", "comment")


class AggregateParser:
    """Parses aggregate reports. Kept for a whole ingest run, by one thread: it reuses one
    hardened XML parser and remembers the element names of each namespace it has seen, so
    rows are matched by comparing whole tags."""

    def __init__(self) -> None:
        self._tags: dict[str, tuple[str, ...]] = {}
        self._parser = xml_parser()
        # What a plain record says besides its IP and count, by its text: reports repeat the
        # same results, identifiers and auth results row after row (bounded, see _plain_fields).
        self._plain_rows: dict[tuple[str, ...], tuple[Any, ...]] = {}

    def parse(self, data: bytes | Any) -> ParsedAggregate:
        """Parse one aggregate report, RFC 9990 or RFC 7489 format, tolerating real-world quirks:
        missing optional elements, wrong or missing namespaces, odd dates, extra whitespace,
        mixed case. Raises ReportError with the reason when it is not usable."""
        repairs: tuple[str, ...] = ()
        if isinstance(data, bytes):
            plain = _read_plain(data)  # never a DTD: "<!" is outside the plain subset
            if plain is not None:
                return _plain_aggregate(*plain, self._plain_rows)
            try:
                root = parse_xml(data, self._parser)
            except ReportError as error:
                repaired, repairs = repair_xml(data)
                if not repairs:
                    raise
                try:
                    root = parse_xml(repaired, self._parser)
                except ReportError:
                    raise error from None
        else:
            root = data
        if _localname(root.tag) != "feedback":
            raise ReportError(f"not a DMARC aggregate report (root element <{_localname(root.tag) or '?'}>)")
        namespace = root.tag[1:].partition("}")[0] if root.tag[:1] == "{" else ""
        prefix = f"{{{namespace}}}" if namespace else ""
        tags = self._record_tags(prefix)
        parts = _top_level(root, prefix, tags[0])
        if parts is None:
            # Reports in one namespace (or none) with lower-case names are read as they are; any
            # other dialect (mixed namespaces, upper case) is rewritten to plain names first.
            _normalize_tags(root)
            prefix = ""
            tags = self._record_tags(prefix)
            parts = _top_level(root, prefix, tags[0])
            if parts is None:  # cannot happen after normalizing; kept as a defined failure
                raise ReportError("unreadable element names")
        meta, policy_el, version, elements = parts
        metadata, policy = _parse_head(meta, policy_el, prefix)
        records = tuple([_record_fields(element, tags) for element in elements])
        # np alone proves nothing (RFC 9091 added it and reporters put it in RFC 7489 reports).
        is_9990 = namespace == RFC9990_NAMESPACE or any(
            value is not None for value in (policy.testing, policy.discovery_method)
        ) or bool(metadata.generator)
        return ParsedAggregate(metadata, policy, "rfc9990" if is_9990 else "rfc7489", version or "1.0", records,
                               repairs)

    def _record_tags(self, prefix: str) -> tuple[str, ...]:
        tags = self._tags.get(prefix)
        if tags is None:
            tags = tuple(prefix + name for name in _RECORD_TAGS)
            if len(self._tags) < 16:  # a handful of namespaces in practice; stays small regardless
                self._tags[prefix] = tags
        return tags


def _plain_aggregate(namespace: str, version: str | None, fields: dict[str, str], errors: list[str],
                     when: dict[str, str] | None, policy_fields: dict[str, str], records: list[Any],
                     known: dict[tuple[str, ...], tuple[Any, ...]]) -> ParsedAggregate:
    metadata, policy = _head_of(fields, errors, when, policy_fields)
    rows = []
    for match in records:
        source_ip, count, *rest = match.group(1, 2, 3, 4, 5, 6, 7, 9)
        key = tuple(rest)
        found = known.get(key)
        if found is None:
            if len(known) >= _MAX_KNOWN_ROWS:
                known.clear()
            found = known[key] = _plain_fields(*rest)
        rows.append((_ip(source_ip.strip()), _count(count.strip()), *found))
    is_9990 = namespace == RFC9990_NAMESPACE or any(
        value is not None for value in (policy.testing, policy.discovery_method)
    ) or bool(metadata.generator)
    return ParsedAggregate(metadata, policy, "rfc9990" if is_9990 else "rfc7489", (version or "").strip() or "1.0",
                           tuple(rows))


def _top_level(root: Any, prefix: str, record_tag: str) -> tuple[Any, Any, str, list[Any]] | None:
    """(first <report_metadata>, first <policy_published>, first <version>'s text, the <record>
    elements) in one pass over the root's children; None when a child is not a lower-case name
    in ``prefix``'s namespace (the document is then normalized and read again)."""
    meta_tag, policy_tag, version_tag = prefix + "report_metadata", prefix + "policy_published", prefix + "version"
    meta = policy = version = None
    records = []
    for child in root:
        tag = child.tag
        if tag == record_tag:
            records.append(child)
        elif not isinstance(tag, str) or not tag.startswith(prefix) or not tag.islower():
            return None
        elif tag == meta_tag:
            if meta is None:
                meta = child
        elif tag == policy_tag:
            if policy is None:
                policy = child
        elif tag == version_tag and version is None:
            version = child.text or ""
    return meta, policy, version.strip() if version else "", records


# The three kinds of broken XML real reporters send (and parsedmarc reads), each repaired only
# after the document failed to parse as it is; the stored report records what was repaired.
_ADDRESS_AS_TAG = re.compile(rb"<(email|extra_contact_info)>[ \t\r\n]{0,100}<([^<>\s@]{1,320}@[^<>\s]{1,320})>"
                             rb"[ \t\r\n]{0,100}</\1>")
_STRAY_LESS_THAN = re.compile(rb"<([a-z_]{1,40})>([^<>]{0,320})<([^<>\s/!?][^<>\s]{0,320})</\1>")
_XML_DECLARATION = re.compile(rb"<\?xml[^>]{0,200}\?>")
_ENCODING_DECLARED = re.compile(rb"encoding=[\"']([A-Za-z0-9._-]{1,40})[\"']")
_MAX_BAD_BYTES = 10_000
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")


def repair_xml(data: bytes) -> tuple[bytes, tuple[str, ...]]:
    """(repaired document, what was repaired) for a report that does not parse as it is."""
    repairs: list[str] = []
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    declaration = _XML_DECLARATION.match(head)
    declared = _ENCODING_DECLARED.search(declaration.group(0)) if declaration else None
    if declared is None or declared.group(1).lower().replace(b"_", b"-") in (b"utf-8", b"utf8"):
        fixed, bad = _utf8_with_cp1252(data)
        if bad:
            data = fixed
            repairs.append(f"{bad} byte(s) not valid UTF-8 read as Windows-1252")
    data, addresses = _ADDRESS_AS_TAG.subn(rb"<\1>\2</\1>", data)
    if addresses:
        repairs.append(f"{addresses} mail address(es) written as a tag read as text")
    data, strays = _STRAY_LESS_THAN.subn(rb"<\1>\2&lt;\3</\1>", data)
    if strays:
        repairs.append(f"{strays} stray '<' in element text read as text")
    body = head[declaration.end():].lstrip() if declaration else head
    if body[:1] == b"<" and not body[1:9].lower().startswith(b"feedback") and b":feedback" not in body[:40].lower():
        # An aggregate wrapped in another element (an unclosed <xs:schema> around it): read the
        # <feedback> element alone.
        lowered = data.lower()
        start, end = lowered.find(b"<feedback"), lowered.rfind(b"</feedback>")
        if 0 < start < end:
            name = body[1:].split(maxsplit=1)  # empty when only white space follows "<" in the head
            wrapper = (name[0] if name else b"?").split(b">")[0][:40].decode("ascii", "replace")
            prefix = declaration.group(0) + b"\n" if declaration else b""
            data = prefix + data[start:end + len(b"</feedback>")]
            repairs.append(f"<feedback> read out of a wrapping <{wrapper}> element")
    return data, tuple(repairs)


def _utf8_with_cp1252(data: bytes) -> tuple[bytes, int]:
    """``data`` as UTF-8 with every byte that is not valid UTF-8 read as Windows-1252 (as a
    Windows program wrote it); (unchanged, 0) when it is all valid or hopelessly not UTF-8."""
    try:
        data.decode("utf-8")
        return data, 0
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="surrogateescape")  # one pass; bad bytes -> U+DC80..U+DCFF
    bad = 0

    def as_cp1252(match: re.Match[str]) -> str:
        nonlocal bad
        raw = match.group(0).encode("utf-8", errors="surrogateescape")
        bad += len(raw)
        return raw.decode("cp1252", errors="replace")

    fixed = _ESCAPED_BYTES.sub(as_cp1252, text)
    if bad > _MAX_BAD_BYTES:
        return data, 0
    return fixed.encode("utf-8", errors="replace"), bad


def parse_aggregate(data: bytes | Any) -> AggregateReport:
    """Parse one aggregate report (see :meth:`AggregateParser.parse`) into the report model.
    For many reports, keep one :class:`AggregateParser`."""
    return AggregateParser().parse(data).report()


_PCT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{0,8})?")


def _parse_head(meta: Any, policy_el: Any, prefix: str) -> tuple[ReportMetadata, PolicyPublished]:
    if meta is None:
        raise ReportError("missing <report_metadata>")
    if policy_el is None:
        raise ReportError("missing <policy_published>")
    plen = len(prefix)
    date_tag, error_tag = prefix + "date_range", prefix + "error"
    # One pass over <report_metadata>: child name -> text (first occurrence wins), the first
    # <date_range>, every <error>.
    m: dict[str, str] = {}
    dates = None
    errors = []
    for child in meta:
        tag = child.tag
        text = child.text
        if tag == date_tag:
            if dates is None:
                dates = child
        elif tag == error_tag:
            errors.append(" ".join(text.split()) if text else "")
        name = tag[plen:]
        if name not in m:
            m[name] = text.strip() if text else ""
    return _head_of(m, errors, None if dates is None else _fields(dates, plen), _fields(policy_el, plen))


def _head_of(m: dict[str, str], errors: list[str], when: dict[str, str] | None,
             policy_fields: dict[str, str]) -> tuple[ReportMetadata, PolicyPublished]:
    """The report's metadata and published policy from its fields (child name -> stripped text,
    first occurrence), however they were read (tree walk or :func:`_read_plain`)."""
    if when is None:
        raise ReportError("missing <date_range>")
    begin, end = parse_timestamp(when.get("begin", "")), parse_timestamp(when.get("end", ""))
    if end < begin:
        begin, end = end, begin
    report_id = " ".join(m.get("report_id", "").split())
    if not report_id:
        raise ReportError("missing <report_id>")
    email_address = m.get("email", "")
    org_name = " ".join(m.get("org_name", "").split()) or domain_of(email_address) or "unknown"
    metadata = ReportMetadata(
        org_name=org_name, email=email_address, report_id=report_id, begin=begin, end=end,
        extra_contact_info=" ".join(m.get("extra_contact_info", "").split()),
        errors=tuple(errors), generator=" ".join(m.get("generator", "").split()),
    )
    pol = {name: value.lower() for name, value in policy_fields.items()}
    domain = pol.get("domain", "").rstrip(".")
    if not domain:
        raise ReportError("missing <policy_published><domain>")
    pct_text = pol.get("pct", "")
    policy = PolicyPublished(
        domain=domain, p=pol.get("p") or "none", sp=pol.get("sp") or None, np=pol.get("np") or None,
        adkim=pol.get("adkim") or None, aspf=pol.get("aspf") or None, fo=pol.get("fo") or None,
        testing=pol.get("testing") or None, discovery_method=pol.get("discovery_method") or None,
        # RFC 7489 6.3: pct is 0-100; anything else is not a usable value.
        pct=int(float(pct_text)) if _PCT.fullmatch(pct_text) and float(pct_text) <= 100 else None,
    )
    return metadata, policy


def _fields(element: Any, plen: int) -> dict[str, str]:
    """Child name (without the ``plen``-long namespace prefix) -> stripped text (first
    occurrence wins), in one pass. (Element names are always strings here: comments and
    processing instructions are dropped by the parser, documents with entities refused.)"""
    found: dict[str, str] = {}
    for child in element:
        name = child.tag[plen:]
        if name not in found:
            text = child.text
            found[name] = text.strip() if text else ""
    return found


def _record_fields(element: Any, tags: tuple[str, ...]) -> RecordFields:
    """One <record>'s fields. One walk over the children comparing whole tags (no path lookups,
    no namespace slicing): this runs once per row of every report ingested. The first <row>,
    <identifiers> and <auth_results> count; within <row> the last value wins; the first
    non-empty identifier wins; each <dkim>/<spf> in <auth_results> is one result."""
    (_, t_row, t_ids, t_auth, t_ip, t_count, t_evaluated, t_disposition, t_dkim, t_spf, t_reason,
     t_header_from, t_envelope_from, t_envelope_to, t_domain, t_result, t_selector, t_scope, t_human,
     t_type, t_comment) = tags
    row = ids = auth = None
    for child in element:
        tag = child.tag
        if tag == t_row:
            if row is None:
                row = child
        elif tag == t_ids:
            if ids is None:
                ids = child
        elif tag == t_auth and auth is None:
            auth = child
    if row is None:
        raise ReportError("a <record> without <row>")
    source_ip = count = ""
    disposition, dkim_eval, spf_eval = "none", "fail", "fail"
    reasons: list[tuple[str, str]] = []
    for child in row:
        tag = child.tag
        if tag == t_ip:
            text = child.text
            source_ip = text.strip() if text else ""
        elif tag == t_count:
            text = child.text
            count = text.strip() if text else ""
        elif tag == t_evaluated:
            for item in child:
                name = item.tag
                text = item.text
                value = text.strip() if text else ""
                if name == t_disposition:
                    disposition = value.lower() or "none"
                elif name == t_dkim:
                    dkim_eval = "pass" if value == "pass" or value.lower() == "pass" else "fail"
                elif name == t_spf:
                    spf_eval = "pass" if value == "pass" or value.lower() == "pass" else "fail"
                elif name == t_reason:
                    kind = comment = None
                    for part in item:
                        if part.tag == t_type:
                            kind = part.text if kind is None else kind
                        elif part.tag == t_comment:
                            comment = part.text if comment is None else comment
                    reasons.append(((kind or "").strip().lower() or "other", " ".join((comment or "").split())))
    header_from = envelope_from = envelope_to = ""
    if ids is not None:
        for child in ids:
            tag = child.tag
            text = child.text
            if not text:
                continue
            if tag == t_header_from:
                header_from = header_from or text.strip().lower()
            elif tag == t_envelope_from:
                envelope_from = envelope_from or text.strip().lower()
            elif tag == t_envelope_to:
                envelope_to = envelope_to or text.strip().lower()
    dkim: list[tuple[str, str, str, str]] = []
    spf: list[tuple[str, str, str, str]] = []
    if auth is not None:
        for result in auth:
            kind_tag = result.tag
            if kind_tag in (t_dkim, t_spf):
                domain = outcome = extra = human = ""
                for item in result:
                    name = item.tag
                    text = item.text
                    value = text.strip() if text else ""
                    if name == t_domain:
                        domain = value.lower()
                    elif name == t_result:
                        outcome = value.lower()
                    elif name in (t_selector, t_scope):
                        extra = value
                    elif name == t_human:
                        human = " ".join(value.split())
                if kind_tag == t_dkim:
                    dkim.append((domain, extra, outcome or "none", human))
                else:
                    spf.append((domain, extra.lower(), outcome or "none", human))
    return (_ip(source_ip), _count(count), disposition, dkim_eval, spf_eval, header_from, envelope_from,
            envelope_to, tuple(reasons), tuple(dkim), tuple(spf))


# --- plain reports without a tree ----------------------------------------------------------------
#
# Nearly every report is plain XML: UTF-8, no entities, CDATA, comments or attributes below the
# root, the schema's element order. Such a document is read by the expressions below without
# building a tree (several times faster than lxml's tree and the walk over it). They accept
# only that strict subset, in which a match is well-formed XML and each captured text is the
# element's text exactly as the parser would give it; anything else (and any document they do
# not match from start to end) goes to lxml and the tree walk, whose results are the same.
# Every quantifier is bounded or over disjoint alternatives that start with a distinct
# literal: linear time on any input.

# Possessive: what follows is always "<" (or the end), which neither can hold, so giving back
# characters never helps, and not trying to keeps a failing match linear with a small constant.
# Bounded: a longer run of white space is not a plain report (lxml's to read).
_S = r"[ \t\r\n]{0,4096}+"
# Element text: no markup, no entity or character reference, no CR (the parser would turn
# CR LF into LF), no character XML 1.0 forbids; long texts go to lxml (and its limits).
_TEXT = r"[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]{0,4096}+"
_PLAIN_HEAD = re.compile(
    r"(?:<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?P<q1>[\"'])1\.0(?P=q1)"
    r"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?P<q2>[\"'])[Uu][Tt][Ff]-?8(?P=q2))?"
    r"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?P<q3>[\"'])(?:yes|no)(?P=q3))?[ \t\r\n]*\?>)?" + _S
    + r"<feedback(?P<attributes>(?:[ \t\r\n]+xmlns(?::[A-Za-z_][A-Za-z0-9_.-]{0,40})?[ \t\r\n]*=[ \t\r\n]*"
    r"(?:\"[A-Za-z0-9:/._#?=-]{1,200}\"|'[A-Za-z0-9:/._#?=-]{1,200}')){0,8})[ \t\r\n]*>" + _S
    + r"(?:<version>(?P<version>" + _TEXT + r")</version>" + _S + r")?"
    r"<report_metadata>(?P<meta>(?:" + _S + r"(?:<(?P<mname>org_name|email|extra_contact_info|report_id|error|"
    r"generator)>" + _TEXT + r"</(?P=mname)>|<date_range>" + _S + r"<begin>" + _TEXT + r"</begin>" + _S + r"<end>"
    + _TEXT + r"</end>" + _S + r"</date_range>)){0,64})" + _S + r"</report_metadata>" + _S
    + r"<policy_published>(?P<policy>(?:" + _S + r"<(?P<pname>domain|adkim|aspf|p|sp|np|pct|fo|testing|"
    r"discovery_method)>" + _TEXT + r"</(?P=pname)>){0,32})" + _S + r"</policy_published>" + _S)
_PLAIN_ATTRIBUTE = re.compile(r"(xmlns(?::[A-Za-z_][A-Za-z0-9_.-]*)?)[ \t\r\n]*=[ \t\r\n]*[\"']([^\"']*)")
_PLAIN_META_ITEM = re.compile(r"<([a-z_]+)>(" + _TEXT + r")</\1>|<date_range>" + _S + r"<begin>(" + _TEXT
                              + r")</begin>" + _S + r"<end>(" + _TEXT + r")</end>")
_PLAIN_ITEM = re.compile(r"<([a-z_]+)>(" + _TEXT + r")</\1>")
_PLAIN_RECORD = re.compile(
    r"<record>" + _S + r"<row>" + _S + r"<source_ip>(" + _TEXT + r")</source_ip>" + _S + r"<count>(" + _TEXT
    + r")</count>" + _S + r"<policy_evaluated>" + _S + r"<disposition>(" + _TEXT + r")</disposition>" + _S
    + r"<dkim>(" + _TEXT + r")</dkim>" + _S + r"<spf>(" + _TEXT + r")</spf>((?:" + _S + r"<reason>" + _S + r"<type>"
    + _TEXT + r"</type>(?:" + _S + r"<comment>" + _TEXT + r"</comment>)?" + _S + r"</reason>){0,16})" + _S
    + r"</policy_evaluated>" + _S + r"</row>" + _S
    + r"<identifiers>((?:" + _S + r"<(?P<idname>header_from|envelope_from|envelope_to)>" + _TEXT
    + r"</(?P=idname)>){0,8})" + _S + r"</identifiers>" + _S
    + r"<auth_results>((?:" + _S + r"<(?P<kind>dkim|spf)>(?:" + _S + r"<(?P<item>domain|selector|scope|result|"
    r"human_result)>" + _TEXT + r"</(?P=item)>){0,8}" + _S + r"</(?P=kind)>){0,32})" + _S + r"</auth_results>"
    + _S + r"</record>" + _S)
_PLAIN_REASON = re.compile(r"<type>(" + _TEXT + r")</type>(?:" + _S + r"<comment>(" + _TEXT + r")</comment>)?")
_PLAIN_AUTH = re.compile(r"<(dkim|spf)>|<([a-z_]+)>(" + _TEXT + r")</\2>")
_PLAIN_NAMESPACES = frozenset({RFC9990_NAMESPACE, "http://dmarc.org/dmarc-xml/0.1", "http://www.w3.org/2001/XMLSchema",
                                "http://www.w3.org/2001/XMLSchema-instance"})
_PLAIN_END = re.compile(r"</feedback>" + _S)


def _read_plain(data: bytes) -> tuple[str, str | None, dict[str, str], list[str], dict[str, str] | None,
                                      dict[str, str], list[Any]] | None:
    """(namespace, version text, metadata fields, errors, date range fields, policy fields, record
    matches) of a plain report (see above); None for anything else."""
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    elif data[:1] not in (b"<", b" ", b"\t", b"\r", b"\n"):
        return None  # UTF-16 and other encodings: lxml's
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = _PLAIN_HEAD.match(text)
    if head is None:
        return None
    records = []
    position = head.end()
    while True:
        record = _PLAIN_RECORD.match(text, position)
        if record is None:
            break
        records.append(record)
        position = record.end()
    if not _PLAIN_END.fullmatch(text, position):
        return None
    namespace = ""
    declared = set()
    for name, value in _PLAIN_ATTRIBUTE.findall(head.group("attributes")):
        prefix = name[6:]
        # Namespaces in XML 1.0 3: each attribute once; the xml/xmlns prefixes are reserved.
        # Only the namespaces reporters use: the parser refuses some other values (libxml2
        # checks the URI's syntax), and the plain reader must never accept what it refuses.
        if name in declared or prefix[:3].lower() == "xml" or value not in _PLAIN_NAMESPACES:
            return None
        declared.add(name)
        if not prefix:
            namespace = value
    fields: dict[str, str] = {}
    errors: list[str] = []
    when: dict[str, str] | None = None
    for name, value, begin, end in _PLAIN_META_ITEM.findall(head.group("meta")):
        if not name:  # <date_range>: the first one counts
            if when is None:
                when = {"begin": begin.strip(), "end": end.strip()}
            name, value = "date_range", ""
        elif name == "error":
            errors.append(" ".join(value.split()))
        if name not in fields:
            fields[name] = value.strip()
    policy: dict[str, str] = {}
    for name, value in _PLAIN_ITEM.findall(head.group("policy")):
        if name not in policy:
            policy[name] = value.strip()
    return namespace, head.group("version"), fields, errors, when, policy, records


_MAX_KNOWN_ROWS = 10_000


def _plain_fields(disposition: str, dkim_eval: str, spf_eval: str, reason_block: str, ids_block: str,
                  auth_block: str) -> tuple[Any, ...]:
    """The fields after IP and count of a record matched by ``_PLAIN_RECORD`` (from its texts),
    read as :func:`_record_fields` reads them."""
    disposition = disposition.strip().lower() or "none"
    dkim_eval = dkim_eval.strip()
    dkim_eval = "pass" if dkim_eval == "pass" or dkim_eval.lower() == "pass" else "fail"
    spf_eval = spf_eval.strip()
    spf_eval = "pass" if spf_eval == "pass" or spf_eval.lower() == "pass" else "fail"
    reasons = tuple((kind.strip().lower() or "other", " ".join(comment.split()))
                    for kind, comment in _PLAIN_REASON.findall(reason_block)) if reason_block else ()
    header_from = envelope_from = envelope_to = ""
    for name, text in _PLAIN_ITEM.findall(ids_block):
        if not text:
            continue
        if name == "header_from":
            header_from = header_from or text.strip().lower()
        elif name == "envelope_from":
            envelope_from = envelope_from or text.strip().lower()
        else:
            envelope_to = envelope_to or text.strip().lower()
    dkim: list[tuple[str, str, str, str]] = []
    spf: list[tuple[str, str, str, str]] = []
    kind = ""
    domain = outcome = extra = human = ""
    for opened, name, text in _PLAIN_AUTH.findall(auth_block):
        if opened:
            if kind == "dkim":
                dkim.append((domain, extra, outcome or "none", human))
            elif kind:
                spf.append((domain, extra.lower(), outcome or "none", human))
            kind = opened
            domain = outcome = extra = human = ""
        elif name == "domain":
            domain = text.strip().lower()
        elif name == "result":
            outcome = text.strip().lower()
        elif name == "human_result":
            human = " ".join(text.split())
        else:  # selector or scope
            extra = text.strip()
    if kind == "dkim":
        dkim.append((domain, extra, outcome or "none", human))
    elif kind:
        spf.append((domain, extra.lower(), outcome or "none", human))
    return (disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, tuple(dkim),
            tuple(spf))


# --- TLS reports (RFC 8460) ---------------------------------------------------------------------


def parse_tls_report(data: bytes) -> TlsReport:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"not valid JSON: {str(exc)[:120]}") from None
    except RecursionError:
        # json's C scanner counts nesting against the recursion limit: refuse, one line.
        raise ReportError("JSON nested too deeply") from None
    if not isinstance(doc, dict) or "policies" not in doc:
        raise ReportError("not an SMTP TLS report (no \"policies\")")
    dates = _json_object(doc.get("date-range"))
    policies = []
    for item in _json_list(doc.get("policies")):
        if not isinstance(item, dict):
            continue
        policy, summary = _json_object(item.get("policy")), _json_object(item.get("summary"))
        details = tuple(
            (_json_text(d.get("result-type", "unknown"))[:64], _tls_count(d.get("failed-session-count", 0)))
            for d in _json_list(item.get("failure-details")) if isinstance(d, dict)
        )
        policies.append(TlsPolicySummary(
            policy_type=_json_text(policy.get("policy-type", ""))[:16],
            policy_domain=_json_text(policy.get("policy-domain", "")).lower()[:255],
            successful=_tls_count(summary.get("total-successful-session-count", 0)),
            failed=_tls_count(summary.get("total-failure-session-count", 0)), failure_details=details))
    report_id = _json_text(doc.get("report-id") or "")
    if not report_id:
        raise ReportError("SMTP TLS report without report-id")
    try:
        begin = parse_timestamp(_json_text(dates.get("start-datetime", "")))
        end = parse_timestamp(_json_text(dates.get("end-datetime", "")))
    except ReportError as exc:
        raise ReportError(f"SMTP TLS report date-range: {exc}") from None
    return TlsReport(organization=_json_text(doc.get("organization-name") or "unknown"), report_id=report_id,
                     begin=begin, end=end, contact=_json_text(doc.get("contact-info") or ""), policies=tuple(policies))


def _json_object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _json_text(value: object) -> str:
    """A scalar as text; containers (which RFC 8460 never puts where text belongs) as empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


# --- decompression ----------------------------------------------------------------------------


_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_FEED = 1 << 16  # input fed per call: what zlib hands back as unused is never bigger than this


def gunzip_capped(data: bytes, cap: int) -> bytes:
    """Decompress (possibly multi-member) gzip, refusing output beyond ``cap`` bytes.

    Linear in the input however many members it has: input is fed from an offset in bounded
    slices, so no member copies the rest of the file. As gzip(1) does, NUL padding between
    members is skipped and anything after the last member that is not another gzip member
    (Mimecast appends CRLF) is ignored (RFC 1952 2.2: a file is a series of members)."""
    view = memoryview(data)
    size = len(data)
    out = bytearray()
    pos = 0
    members = 0
    while pos < size:
        while pos < size and data[pos] == 0:
            pos += 1
        if pos >= size:
            break
        if data[pos:pos + 2] != _GZIP_MAGIC:
            if members:
                break  # trailing garbage, ignored as gzip(1) does
            raise ReportError("corrupt gzip data: no gzip header")
        decoder = zlib.decompressobj(wbits=31)
        while not decoder.eof:
            if pos >= size:
                raise ReportError("truncated gzip data")
            fed = view[pos:pos + _GZIP_FEED]
            try:
                piece = decoder.decompress(fed, max(1, cap + 1 - len(out)))
            except zlib.error as exc:
                raise ReportError(f"corrupt gzip data: {exc}") from None
            out += piece
            if len(out) > cap:
                raise ReportError(f"gzip expands beyond the {cap // (1 << 20)} MiB limit (decompression bomb?)")
            pos += len(fed) - len(decoder.unconsumed_tail) - len(decoder.unused_data)
        members += 1
    if not members:
        raise ReportError("empty gzip data")
    return bytes(out)


def unzip_capped(data: bytes, limits: Limits) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        # Not ZipInfo.is_dir(): it indexes the name, and an archive may name a member "".
        members = [info for info in archive.infolist() if not info.filename.endswith("/")]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError,
            IndexError) as exc:
        raise ReportError(f"corrupt zip archive: {str(exc)[:120]}") from None
    if len(members) > limits.max_zip_members:
        raise ReportError(f"zip archive with {len(members)} members refused (limit {limits.max_zip_members})")
    cap = limits.max_decompressed
    for info in members:
        if info.file_size > cap:
            raise ReportError(f"zip member {info.filename!r} expands beyond the {cap // (1 << 20)} MiB limit (decompression bomb?)")
        out = bytearray()
        try:
            with archive.open(info) as member:  # the declared size may lie: count what comes out
                while chunk := member.read(1 << 16):
                    out += chunk
                    if len(out) > cap:
                        raise ReportError(f"zip member {info.filename!r} expands beyond the limit (decompression bomb?)")
        except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError, RuntimeError, ValueError, EOFError,
                struct.error, IndexError) as exc:
            raise ReportError(f"corrupt zip member {info.filename[:80]!r}: {str(exc)[:120]}") from None
        yield info.filename, bytes(out)


# --- email ---------------------------------------------------------------------------------------

_REPORT_TYPES = ("application/gzip", "application/x-gzip", "application/zip", "application/x-zip-compressed",
                 "application/x-zip", "text/xml", "application/xml", "application/tlsrpt+json",
                 "application/tlsrpt+gzip", "application/json", "application/octet-stream")
_REPORT_NAME = re.compile(r"\.(xml|gz|gzip|zip|json)$", re.IGNORECASE)


def _header_fields(part: Message) -> Message:
    """The fields of a message/feedback-report or message/delivery-status part."""
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding in ("base64", "quoted-printable") and isinstance(payload, list) and len(payload) == 1:
        # RFC 2046 5.2.4 allows only 7bit, 8bit or binary on message/*, but Netease base64-encodes
        # its message/feedback-report part: the parser then saw one header-less body. Decode it.
        inner = payload[0]
        body = inner.get_payload() if isinstance(inner, Message) and not inner.keys() else None
        if isinstance(body, str):
            raw = body.encode("ascii", errors="replace")
            try:
                decoded = binascii.a2b_base64(raw) if encoding == "base64" else quopri.decodestring(raw)
            except (binascii.Error, ValueError):
                decoded = b""
            return _parse_headers(decoded)
    if isinstance(payload, list):
        merged = Message()
        for block in payload:
            if isinstance(block, Message):
                for name, value in block.items():
                    merged[name] = value
        return merged
    return _parse_headers(part.get_payload(decode=True))


def _parse_headers(payload: object) -> Message:
    text = payload if isinstance(payload, bytes) else b""
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(text)


def _first(fields: Message, name: str) -> str:
    value = fields.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def parse_failure_report(message: Message, raw: bytes) -> FailureReport:
    """An RFC 6591 authentication failure report (multipart/report; report-type=feedback-report)."""
    feedback = next((p for p in message.walk() if p.get_content_type() == "message/feedback-report"), None)
    if feedback is None:
        raise ReportError("multipart/report without a message/feedback-report part")
    fields = _header_fields(feedback)
    feedback_type = _first(fields, "Feedback-Type").lower()
    if not feedback_type:
        raise ReportError("feedback report without Feedback-Type")
    arrival = _first(fields, "Arrival-Date") or _first(fields, "Received-Date")
    try:
        arrival_time: int | None = parse_timestamp(arrival) if arrival else None
    except ReportError:
        arrival_time = None
    original = next((p for p in message.walk()
                     if p.get_content_type() in ("message/rfc822", "text/rfc822-headers")), None)
    message_id = subject = ""
    if original is not None:
        inner = original.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            headers = inner[0]
        else:
            headers = _parse_headers(original.get_payload(decode=True))
        message_id, subject = _first(headers, "Message-ID"), _first(headers, "Subject")
    source_ip = _first(fields, "Source-IP")
    try:
        source_ip = str(ipaddress.ip_address(source_ip)) if source_ip else ""
    except ValueError:
        source_ip = ""
    return FailureReport(
        reporter=email.utils.parseaddr(str(message.get("From", "")))[1].lower(),
        feedback_type=feedback_type, auth_failure=_first(fields, "Auth-Failure").lower(),
        reported_domain=_first(fields, "Reported-Domain").lower().rstrip("."), source_ip=source_ip,
        arrival_time=arrival_time, original_mail_from=_first(fields, "Original-Mail-From").strip("<>"),
        original_rcpt_to=_first(fields, "Original-Rcpt-To").strip("<>"),
        identity_alignment=_first(fields, "Identity-Alignment").lower(),
        dkim_domain=_first(fields, "DKIM-Domain").lower(), message_id=message_id, subject=subject,
        digest=hashlib.sha256(raw).hexdigest(),
    )


def bounced_addresses(message: Message) -> list[tuple[str, str]]:
    """Permanently failed recipients of an RFC 3464 delivery status notification."""
    status_part = next((p for p in message.walk() if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        return []
    payload = status_part.get_payload()
    blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else [_header_fields(status_part)]
    failed = []
    for block in blocks:
        recipient = _first(block, "Final-Recipient") or _first(block, "Original-Recipient")
        action, status = _first(block, "Action").lower(), _first(block, "Status")
        # RFC 3464 2.3.3/2.3.4: action "failed" with a permanent (5.x.x) status is a hard bounce.
        if recipient and action == "failed" and status.startswith("5"):
            address = recipient.partition(";")[2].strip().strip("<>") or recipient
            failed.append((address.lower(), f"{status} {_first(block, 'Diagnostic-Code')}".strip()))
    return failed


# --- the ingester ----------------------------------------------------------------------------------


class Ingester:
    """Ingests files, maildirs and IMAP mailboxes into a :class:`ReportStore`."""

    def __init__(self, store: ReportStore, *, limits: Limits | None = None, commit_every: int = 200) -> None:
        self.store = store
        self.limits = limits or Limits()
        self.stats = IngestStats()
        self._session: IngestSession | None = None
        self.commit_every = commit_every
        self._aggregates = AggregateParser()

    def __enter__(self) -> Ingester:
        self._session = IngestSession(self.store, batch=self.commit_every)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._session is not None:
            self._session.close(commit=exc[0] is None)
            self._session = None

    def _db(self) -> IngestSession:
        if self._session is None:
            raise RuntimeError("use the Ingester as a context manager")
        return self._session

    # --- entry points ---

    def ingest_paths(self, paths: Iterable[str | Path]) -> Iterator[IngestResult]:
        """Files, and directories recursively. Files are taken in batches (up to 64 files or
        16 MiB of report documents): all of a batch is read and unpacked, then its aggregate
        reports parsed, then stored, each stage in one tight loop (several times fewer cache
        misses than one file at a time); results come per file, in order, as before."""
        batch: list[list[IngestResult | _Pending]] = []
        held = 0
        for target in self._files(paths):
            items = self._read_file(target, defer=True)
            batch.append(items)
            held += sum(len(item.data) for item in items if isinstance(item, _Pending))
            if len(batch) >= _BATCH_FILES or held >= _BATCH_BYTES:
                yield from self._finish_batch(batch)
                batch, held = [], 0
        yield from self._finish_batch(batch)

    @staticmethod
    def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
        for path in paths:
            target = path if isinstance(path, Path) else Path(path)
            if target.is_dir():
                for directory, subdirs, files in os.walk(target):
                    subdirs.sort()
                    for name in sorted(files):
                        yield Path(directory) / name
            else:
                yield target

    def _finish_batch(self, batch: list[list[IngestResult | _Pending]]) -> Iterator[IngestResult]:
        results = self._complete([item for items in batch for item in items])
        for result in results:
            yield self._note(result)

    def ingest_maildir(self, maildir: str | Path) -> Iterator[IngestResult]:
        root = Path(maildir)
        if not (root / "cur").is_dir() and not (root / "new").is_dir():
            yield self._note(IngestResult(str(root), "unknown", "rejected", "not a maildir (no cur/ or new/)"))
            return
        for sub in ("new", "cur"):
            folder = root / sub
            if not folder.is_dir():
                continue
            with os.scandir(folder) as entries:  # lazily: a maildir may hold 100,000 messages
                for entry in entries:
                    if entry.is_file():
                        yield from self.ingest_file(Path(entry.path), as_email=True)

    def ingest_file(self, path: Path, *, as_email: bool = False) -> Iterator[IngestResult]:
        for result in self._complete(self._read_file(path, as_email=as_email)):
            yield self._note(result)

    def _read_file(self, path: Path, *, as_email: bool = False, defer: bool = False) -> list[IngestResult | _Pending]:
        """One file's results; with ``defer``, its aggregate documents set aside (see _complete)."""
        self.stats.files += 1
        source = str(path)
        try:
            with open(path, "rb") as handle:  # one open and fstat: no second lookup of the path
                size = os.fstat(handle.fileno()).st_size
                if size > self.limits.max_file:
                    raise ReportError(f"file of {size} bytes refused (limit {self.limits.max_file})")
                # Sized by the fstat (a read bounded only by the limit would allocate all of it);
                # a file that grew since, or a device, is read on to the limit.
                data = handle.read(size + 1)
                if len(data) > size:
                    data += handle.read(self.limits.max_file + 1 - len(data))
            if len(data) > self.limits.max_file:
                raise ReportError(f"file of more than {self.limits.max_file} bytes refused")
        except OSError as exc:
            return [IngestResult(source, "unknown", "rejected", f"cannot read: {exc.strerror or exc}")]
        except ReportError as exc:
            return [IngestResult(source, "unknown", "rejected", str(exc))]
        return self._read_bytes(data, source, source, as_email=as_email, defer=defer)

    def _read_bytes(self, data: bytes, source: str, name: str, *, as_email: bool = False,
                    defer: bool = False) -> list[IngestResult | _Pending]:
        results = list(self._dispatch(data, source, name, depth=0, as_email=as_email, defer=defer))
        return results or [IngestResult(source, "unknown", "rejected", "no report found")]

    def ingest_bytes(self, data: bytes, source: str, *, as_email: bool = False, name: str = "") -> Iterator[IngestResult]:
        """Ingest one file's bytes; every failure becomes a ``rejected`` result, never an exception
        (except the database itself being unavailable)."""
        for result in self._complete(self._read_bytes(data, source, name or source, as_email=as_email)):
            yield self._note(result)

    def ingest_imap(self, url: str, *, password: str | None = None, mark_seen: bool = True,
                    oauth2_token: str | None = None, ca_file: str | None = None) -> Iterator[IngestResult]:
        """``imaps://user@host[:port]/MAILBOX``, or ``imap://`` with STARTTLS required (never a
        cleartext password). Logs in with the password (from the URL or ``password``) or, for
        Microsoft 365 and Gmail, with an OAuth2 access token (XOAUTH2). Unseen messages are
        fetched one at a time (bounded memory) and marked seen once ingested."""
        with open_imap(url, password=password, oauth2_token=oauth2_token, ca_file=ca_file) as mailbox:
            yield from self.ingest_mailbox(mailbox, label=url_mailbox(url), mark_seen=mark_seen)

    def ingest_mailbox(self, mailbox: Any, *, label: str, mark_seen: bool = True) -> Iterator[IngestResult]:
        """Ingest the unseen (or, without ``mark_seen``, all) messages of a logged-in imap_tools
        mailbox with its folder selected."""
        conn = mailbox.client
        try:
            status, found = conn.uid("SEARCH", "UNSEEN" if mark_seen else "ALL")
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ReportError(f"IMAP search: {exc}") from None
        uids = found[0].split() if status == "OK" and found and found[0] else []
        for uid in uids:
            where = f"imap:{label}/{uid.decode(errors='replace')}"
            try:
                status, sized = conn.uid("FETCH", uid, "(RFC822.SIZE)")
                match = re.search(rb"RFC822\.SIZE (\d{1,20})", sized[0] if sized and isinstance(sized[0], bytes) else b"")
                if match and int(match.group(1)) > self.limits.max_file:
                    yield self._note(IngestResult(where, "unknown", "rejected", f"message of {match.group(1).decode()} bytes refused"))
                    continue
                status, fetched = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            except (imaplib.IMAP4.error, OSError) as exc:
                raise ReportError(f"IMAP fetch: {exc}") from None
            raw = next((item[1] for item in fetched if isinstance(item, tuple)), None) if status == "OK" else None
            if not isinstance(raw, bytes):
                yield self._note(IngestResult(where, "unknown", "rejected", "fetch failed"))
                continue
            self.stats.files += 1
            yield from self.ingest_bytes(raw, where, as_email=True)
            if mark_seen:  # a rejected message is marked too: it would be rejected again next time
                with contextlib.suppress(imaplib.IMAP4.error, OSError):
                    conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")

    def ingest_graph(self, mailbox: Any, *, mark_read: bool = True) -> Iterator[IngestResult]:
        """Unread messages of a Microsoft 365 mailbox through Graph (a
        :class:`zegel.reports.graph.GraphMailbox`), each marked read once ingested."""
        from zegel.reports.graph import GraphError

        try:
            for message, raw in mailbox.unread():
                self.stats.files += 1
                yield from self.ingest_bytes(raw, f"graph:{mailbox.folder}/{message.id[-16:]}", as_email=True)
                if mark_read:
                    mailbox.mark_read(message)
        except GraphError as exc:
            raise ReportError(f"Microsoft Graph: {exc}") from None

    def ingest_mbox(self, path: str | Path) -> Iterator[IngestResult]:
        """Every message of an mbox file, read one at a time."""
        import mailbox

        try:
            box = mailbox.mbox(str(path), create=False)
            keys = box.iterkeys()
            for key in keys:
                where = f"{path}#{key}"
                try:
                    raw = box.get_bytes(key)
                except (OSError, ValueError, KeyError) as exc:
                    yield self._note(IngestResult(where, "unknown", "rejected", f"unreadable message: {exc}"))
                    continue
                self.stats.files += 1
                if len(raw) > self.limits.max_file:
                    yield self._note(IngestResult(where, "unknown", "rejected", f"message of {len(raw)} bytes refused"))
                    continue
                yield from self.ingest_bytes(raw, where, as_email=True)
        except (OSError, mailbox.Error) as exc:
            raise ReportError(f"cannot read mbox {path}: {exc}") from None

    # --- internals ---

    def _note(self, result: IngestResult) -> IngestResult:
        self.stats.add(result)
        return result

    def _dispatch(self, data: bytes, source: str, name: str, *, depth: int, as_email: bool = False,
                  defer: bool = False) -> Iterator[IngestResult | _Pending]:
        if depth > self.limits.max_depth:
            yield IngestResult(source, "unknown", "rejected", "containers nested too deeply")
            return
        try:
            head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
            if data[:2] == b"\x1f\x8b":
                inner = gunzip_capped(data, self.limits.max_decompressed)
                yield from self._dispatch(inner, source, _GZ_SUFFIX.sub("", name), depth=depth + 1, defer=defer)
            elif data[:4] == b"PK\x03\x04":
                for member, content in unzip_capped(data, self.limits):
                    yield from self._dispatch(content, f"{source} [{member}]" if depth == 0 else source, member,
                                              depth=depth + 1, defer=defer)
            elif not as_email and head.startswith(b"<"):
                yield _Pending(data, source) if defer else self._store_aggregate(self._aggregates.parse(data), source)
            elif not as_email and head.startswith(b"{"):
                yield self._store_tls(parse_tls_report(data), source)
            elif _looks_like_email(head):
                yield from self._email(data, source, depth, defer)
            elif depth == 0 and not as_email and not _may_hold_report(name) and _is_text(data):
                # A stray script, zone file or note beside the reports: not a hostile report.
                what = "an empty file" if not data.strip() else "not XML, JSON, gzip, zip or a mail message"
                yield IngestResult(source, "unknown", "skipped", f"not a report ({what})")
            elif not data.strip():
                raise ReportError("empty file (RFC 7489 Appendix C: a report is a <feedback> XML document)")
            else:
                raise ReportError("unrecognised content (not XML, JSON, gzip, zip or a mail message)")
        except _UNREADABLE as exc:
            yield _rejection(source, exc)

    def _email(self, data: bytes, source: str, depth: int, defer: bool = False) -> Iterator[IngestResult | _Pending]:
        message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
        content_type = message.get_content_type()
        report_type = str(message.get_param("report-type", "") or "").lower()
        has_feedback = any(part.get_content_type() == "message/feedback-report" for part in message.walk())
        if has_feedback or (content_type == "multipart/report" and report_type == "feedback-report"):
            # Netease sends multipart/mixed around the RFC 6591 parts: the part, not the outer
            # type, makes it a failure report.
            yield self._store_failure(parse_failure_report(message, data), source)
            return
        if content_type == "multipart/report" and report_type == "delivery-status":
            bounced = bounced_addresses(message)
            for address, reason in bounced:
                self._db().suppress(address, reason or "bounced")
                yield IngestResult(source, "bounce", "suppressed", address)
            if not bounced:
                yield IngestResult(source, "bounce", "rejected", "delivery status notification without a permanent failure")
            return
        found = False
        for part in message.walk():
            if part.is_multipart():
                continue
            part_type = part.get_content_type()
            filename = part.get_filename() or ""
            if part_type not in _REPORT_TYPES and not _REPORT_NAME.search(filename):
                continue
            if part_type == "application/octet-stream" and not _REPORT_NAME.search(filename):
                continue
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes) or not payload.strip():
                continue
            found = True
            if len(payload) > self.limits.max_attachment:
                yield IngestResult(source, "unknown", "rejected",
                                   f"attachment {filename or part_type} of {len(payload)} bytes refused")
                continue
            label = f"{source} [{filename}]" if filename else source
            yield from self._dispatch(payload, label, filename or part_type, depth=depth + 1, defer=defer)
        if not found:
            if content_type == "multipart/report":
                raise ReportError("multipart/report without a message/feedback-report part (RFC 6591 2 and "
                                  "RFC 5965 2 require one): a plain-text notice, not a failure report")
            raise ReportError("mail message without a report attachment (RFC 7489 7.2.1.1: an aggregate "
                              "report travels as an XML, gzip or zip attachment)")

    def _complete(self, items: list[IngestResult | _Pending]) -> list[IngestResult]:
        """Parse the aggregate documents set aside by a deferred :meth:`_dispatch` (all of them,
        then store them in order), each failing alone as it would have there."""
        parse = self._aggregates.parse
        parsed = [_guarded(item.source, functools.partial(parse, item.data))
                  for item in items if isinstance(item, _Pending)]
        results: list[IngestResult] = []
        reports = iter(parsed)
        for item in items:
            if not isinstance(item, _Pending):
                results.append(item)
                continue
            report = next(reports)
            if isinstance(report, ParsedAggregate):
                results.append(_guarded(item.source, functools.partial(self._store_aggregate, report, item.source)))
            else:
                results.append(report)
        return results

    def _store_aggregate(self, report: ParsedAggregate, source: str) -> IngestResult:
        added = self._db().add_aggregate(report, source)
        detail = f"{report.metadata.org_name} {report.metadata.report_id} {report.policy.domain}"
        return IngestResult(source, "aggregate", "stored" if added else "duplicate", detail, "; ".join(report.repairs))

    def _store_failure(self, report: FailureReport, source: str) -> IngestResult:
        added = self._db().add_failure(report, source)
        return IngestResult(source, "failure", "stored" if added else "duplicate", report.reported_domain)

    def _store_tls(self, report: TlsReport, source: str) -> IngestResult:
        added = self._db().add_tls(report, source)
        return IngestResult(source, "tls", "stored" if added else "duplicate", f"{report.organization} {report.report_id}")


_BATCH_FILES = 64
_BATCH_BYTES = 16 << 20
_GZ_SUFFIX = re.compile(r"\.gz(ip)?$", re.IGNORECASE)
@dataclass(frozen=True)
class _Pending:
    """An aggregate report's document set aside by a deferred :meth:`Ingester._dispatch`."""

    data: bytes
    source: str


# What ends one file (or one report of it) with a rejected result; StoreError (the database
# itself unavailable) is not among them: that stops the run.
_UNREADABLE = (ReportError, StoreRejected, RecursionError, MemoryError, ArithmeticError, LookupError, TypeError,
               ValueError, AttributeError, UnicodeError, EOFError, zlib.error)


def _rejection(source: str, exc: BaseException) -> IngestResult:
    if isinstance(exc, ReportError | StoreRejected):
        return IngestResult(source, "unknown", "rejected", str(exc))
    # No poison pill: whatever a hostile file trips over ends that file with one line.
    return IngestResult(source, "unknown", "rejected", str(ReportError(f"unreadable ({type(exc).__name__}: {exc})")))


def _guarded(source: str, work: Callable[[], _T]) -> _T | IngestResult:
    """``work()``, or the rejected result of what it raised (see ``_UNREADABLE``)."""
    try:
        return work()
    except _UNREADABLE as exc:
        return _rejection(source, exc)


# Names that may hold a report: report extensions, none at all (maildir, IMAP), or mail files.
# Anything else whose content is not a report (a script, a zone file) is skipped, not rejected.
_REPORT_SUFFIXES = frozenset((".xml", ".gz", ".gzip", ".zip", ".json", ".eml", ".msg", ".mbox", ".txt", ".tlsrpt", ""))


def _is_text(data: bytes) -> bool:
    """Plain text (a script, a zone file, notes): no NUL, UTF-8 in its first 4 KiB."""
    head = data[:4096]
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start > len(head) - 4  # a character cut at the 4 KiB boundary
    return True


def _may_hold_report(name: str) -> bool:
    suffix = os.path.splitext(os.path.basename(name))[1].lower()
    return suffix in _REPORT_SUFFIXES or not suffix[1:].isalpha()  # "msg.1234": a maildir-style name
_HEADER_LINE = re.compile(rb"^(From [^\r\n]*\r?\n)?[A-Za-z0-9-]{1,76}:[ \t]?")


def _looks_like_email(head: bytes) -> bool:
    return bool(_HEADER_LINE.match(head))


def url_mailbox(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or "INBOX"


@contextlib.contextmanager
def open_imap(url: str, *, password: str | None = None, oauth2_token: str | None = None,
              ca_file: str | None = None, timeout: float = 30) -> Iterator[Any]:
    """A logged-in imap_tools mailbox with the URL's folder selected, over TLS only: imaps://
    (implicit TLS, RFC 8314) or imap:// with STARTTLS required; certificates are verified."""
    import ssl

    from imap_tools import MailBox, MailBoxStartTls
    from imap_tools.errors import ImapToolsError

    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ReportError(f"not an IMAP URL: {url!r} (imaps://user@host/INBOX)")
    user = unquote(parts.username or "")
    secret = unquote(parts.password) if parts.password else (password or "")
    folder = url_mailbox(url)
    try:
        port = parts.port
    except ValueError:
        raise ReportError(f"bad port in IMAP URL {url!r}") from None
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ReportError(f"CA file {ca_file}: {exc}") from None
    try:
        if parts.scheme == "imaps":
            box: Any = MailBox(parts.hostname, port or 993, timeout=timeout, ssl_context=context)
        else:
            # RFC 8314 3 and RFC 9051 11.1: never a password in cleartext. imap_tools refuses
            # to go on when STARTTLS fails or is not offered.
            box = MailBoxStartTls(parts.hostname, port or 143, timeout=timeout, ssl_context=context)
    except (ImapToolsError, imaplib.IMAP4.error, OSError, ValueError) as exc:
        if (parts.scheme == "imap" and "STARTTLS" in str(exc).upper()) or "TLS not supported" in str(exc):
            raise ReportError(f"IMAP {parts.hostname}: the server offers no working STARTTLS; refusing to send "
                              "the password in cleartext (use imaps://)") from None
        raise ReportError(f"IMAP {parts.hostname}: {exc}") from None
    try:
        if oauth2_token:
            box.xoauth2(user, oauth2_token, folder)
        else:
            box.login(user, secret, folder)
    except (ImapToolsError, imaplib.IMAP4.error, OSError) as exc:
        with contextlib.suppress(ImapToolsError, imaplib.IMAP4.error, OSError):
            box.client.shutdown()
        raise ReportError(f"IMAP {parts.hostname}: login as {user} failed: {exc}") from None
    try:
        yield box
    finally:
        with contextlib.suppress(ImapToolsError, imaplib.IMAP4.error, OSError):
            box.logout()
