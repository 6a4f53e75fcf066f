"""Conversion between dnspython rdatasets and zegel's typed records, shared by the zone overlay,
the resolver and the test server."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SPF
import dns.rdtypes.ANY.TXT
import dns.zone

from zegel.dns.answer import Answer, MxRecord, Status
from zegel.dns.names import InvalidName, to_dns_name

# A record value given in code: TXT as str/bytes or a list of strings (one multi-string record),
# MX as (preference, host), anything else as its zone-file text.
RecordValue = str | bytes | Sequence[str] | Sequence[bytes] | tuple[int, str]
RecordSpec = Mapping[str, Iterable[tuple[str, RecordValue]]]

# name -> rdtype -> rdataset
NodeMap = dict[dns.name.Name, dict[int, dns.rdataset.Rdataset]]


class ZoneError(ValueError):
    """A zone file or record specification that cannot be loaded (one-line message)."""


def _target_text(name: dns.name.Name) -> str:
    if name == dns.name.root:
        return ""
    return name.to_text(omit_final_dot=True).lower()


def rdataset_records(rdataset: dns.rdataset.Rdataset) -> tuple[tuple[Any, ...], tuple[tuple[bytes, ...], ...]]:
    """Typed records of one rdataset, and for TXT the raw character-strings."""
    rdtype = rdataset.rdtype
    if rdtype == dns.rdatatype.TXT:
        strings = tuple(tuple(rd.strings) for rd in rdataset)
        texts = tuple(b"".join(parts).decode("utf-8", "replace") for parts in strings)
        return texts, strings
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return tuple(rd.address for rd in rdataset), ()
    if rdtype == dns.rdatatype.MX:
        return tuple(MxRecord(rd.preference, _target_text(rd.exchange)) for rd in rdataset), ()
    if rdtype in (dns.rdatatype.PTR, dns.rdatatype.CNAME, dns.rdatatype.NS):
        return tuple(_target_text(rd.target) for rd in rdataset), ()
    return tuple(rd.to_text() for rd in rdataset), ()


def answer_from_rdataset(name: str, rdtype: str, rdataset: dns.rdataset.Rdataset) -> Answer[Any]:
    records, strings = rdataset_records(rdataset)
    return Answer(name, rdtype, Status.ANSWER, records, int(rdataset.ttl), txt_strings=strings)


def _txt_rdata(value: RecordValue, rdtype: dns.rdatatype.RdataType = dns.rdatatype.TXT) -> dns.rdata.Rdata:
    if isinstance(value, (str, bytes)):
        raw = value.encode() if isinstance(value, str) else value
        # One character-string holds at most 255 octets (RFC 1035 3.3); split longer values.
        parts: list[bytes] = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    else:
        parts = [p.encode() if isinstance(p, str) else bytes(p) for p in value]
    if rdtype == dns.rdatatype.SPF:
        return dns.rdtypes.ANY.SPF.SPF(dns.rdataclass.IN, rdtype, parts)
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, rdtype, parts)


def make_rdata(rdtype_text: str, value: RecordValue) -> dns.rdata.Rdata:
    rdtype = dns.rdatatype.from_text(rdtype_text.upper())
    if rdtype in (dns.rdatatype.TXT, dns.rdatatype.SPF):
        return _txt_rdata(value, rdtype)
    if rdtype == dns.rdatatype.MX and isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int):
        text = f"{value[0]} {value[1]}"
    elif isinstance(value, str):
        text = value
    else:
        raise ZoneError(f"bad value for {rdtype_text}: {value!r}")
    if rdtype in (dns.rdatatype.MX, dns.rdatatype.CNAME, dns.rdatatype.PTR, dns.rdatatype.NS) and not text.endswith("."):
        text += "."
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False)


def nodes_from_spec(spec: RecordSpec, default_ttl: int = 300) -> NodeMap:
    nodes: NodeMap = {}
    for name, entries in spec.items():
        try:
            owner = to_dns_name(name)
        except InvalidName as exc:
            raise ZoneError(str(exc)) from None
        node = nodes.setdefault(owner, {})
        for rdtype_text, value in entries:
            try:
                rdata = make_rdata(rdtype_text, value)
            except (dns.exception.DNSException, ValueError) as exc:
                raise ZoneError(f"{name} {rdtype_text}: {exc}") from None
            rdataset = node.get(rdata.rdtype)
            if rdataset is None:
                rdataset = dns.rdataset.Rdataset(dns.rdataclass.IN, rdata.rdtype)
                rdataset.update_ttl(default_ttl)
                node[rdata.rdtype] = rdataset
            rdataset.add(rdata)
    return nodes


DEFAULT_ZONE_TTL = 300
_HAS_TTL_OR_SOA = re.compile(r"^\s*\$TTL\b|\bSOA\b", re.I | re.M)
_LINE_NUMBER = re.compile(r":(\d+):")


_FIRST_ORIGIN = re.compile(r"^\$ORIGIN[ \t]+(\S+)", re.I | re.M)
_ABSOLUTE_SOA_OWNER = re.compile(r"^(\S+\.)[ \t]+(?:\S+[ \t]+){0,2}SOA\b", re.I | re.M)


def _own_origin(text: str) -> dns.name.Name | None:
    """The origin a zone file gives itself: its first ``$ORIGIN``, else an absolute SOA owner."""
    found = _FIRST_ORIGIN.search(text) or _ABSOLUTE_SOA_OWNER.search(text)
    return to_dns_name(found.group(1)) if found else None


def nodes_from_zone_text(text: str, *, origin: str | None = None, filename: str = "<zone>") -> NodeMap:
    """Parse RFC 1035 master-file text. Without $ORIGIN, names are taken as absolute; without
    $TTL or an SOA (a draft holding a few records), records get DEFAULT_ZONE_TTL."""
    zone_origin = to_dns_name(origin) if origin else dns.name.root
    added_lines = 0
    if not _HAS_TTL_OR_SOA.search(text):
        text = f"$TTL {DEFAULT_ZONE_TTL}\n{text}"
        added_lines = 1
    try:
        try:
            zone = dns.zone.from_text(
                text, origin=zone_origin, relativize=False, check_origin=False, filename=filename
            )
        except ValueError as exc:
            if origin is not None or "non-origin SOA" not in str(exc):
                raise
            # A whole zone file, SOA included (a provider's export, a BIND file): read it at
            # its own origin, its first $ORIGIN or else the SOA's owner.
            zone = dns.zone.from_text(
                text, origin=_own_origin(text), relativize=False, check_origin=False, filename=filename
            )
    except dns.exception.DNSException as exc:
        message = str(exc)
        if added_lines:  # report the line numbers of the file as written
            message = _LINE_NUMBER.sub(lambda m: f":{int(m.group(1)) - added_lines}:", message, count=1)
        raise ZoneError(f"{filename}: {message}") from None
    except (ValueError, UnicodeError) as exc:
        raise ZoneError(f"{filename}: {exc}") from None
    nodes: NodeMap = {}
    for owner, node in zone.nodes.items():
        absolute = owner if owner.is_absolute() else owner.derelativize(zone_origin)
        target = nodes.setdefault(absolute.canonicalize(), {})
        for rdataset in node.rdatasets:
            target[rdataset.rdtype] = rdataset
    return nodes


def nodes_from_zone_file(path: str) -> NodeMap:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ZoneError(f"cannot read zone file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ZoneError(f"zone file {path} is not UTF-8 text") from None
    return nodes_from_zone_text(text, filename=path)


def merge(into: NodeMap, other: NodeMap) -> None:
    for owner, rdatasets in other.items():
        into.setdefault(owner.canonicalize(), {}).update(rdatasets)

