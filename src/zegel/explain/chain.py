"""The Received chain: which server took the message from the internet, and whose
Authentication-Results can therefore be trusted (RFC 8601 sections 5 and 7.1; RFC 5321 4.4).

Received fields are prepended, so the top ones were written by the recipient's own
infrastructure. Walking down from the top, a hop is internal while its client is a private
address, a host of an organisation already seen receiving, or a recognised inbound gateway; the
first hop whose client is outside is the one that took the message from the internet. Fields
above it, or right at it (before the next older Received), were written after the message
arrived, by that receiving infrastructure; anything below could have come with the message.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Final

from publicsuffixlist import PublicSuffixList

MAX_RECEIVED = 64
MAX_RECEIVED_LENGTH = 4096
# Addresses only a receiving organisation's own network uses (RFC 1918, RFC 6598, RFC 4193,
# loopback, link-local). Documentation ranges (RFC 5737, RFC 3849) count as public here.
_INTERNAL_NETWORKS: Final = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "0.0.0.0/8", "fc00::/7", "fe80::/10", "::1/128", "::/128",
))


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    domains: tuple[str, ...]  # organisational domains of its hosts and authserv-ids
    gateway: bool = False  # an inbound filtering service in front of the mailbox server
    # Writes its Authentication-Results just below its own Received field (and, RFC 8601
    # section 5, removes any that claim its name on arrival). Any other receiver's results
    # count only above the Received field of the hop that took the message from the internet.
    results_below: bool = False


# The big mailbox providers and gateways, as their published headers name their hosts.
PROVIDERS: Final[tuple[Provider, ...]] = (
    Provider("google", "Gmail / Google Workspace", ("google.com", "gmail.com", "googlemail.com"), results_below=True),
    Provider("microsoft", "Microsoft 365 / Outlook.com / Exchange Online",
             ("outlook.com", "office365.com", "exchangelabs.com", "hotmail.com", "microsoft.com", "live.com")),
    Provider("yahoo", "Yahoo / AOL", ("yahoo.com", "yahoo.net", "yahoodns.net", "aol.com", "aolmail.com"),
             results_below=True),
    Provider("apple", "Apple iCloud", ("icloud.com", "me.com", "mac.com", "apple.com", "icloud-mail-production.svc.kube")),
    Provider("fastmail", "Fastmail", ("messagingengine.com", "fastmail.com", "fastmail.fm")),
    Provider("proton", "Proton Mail", ("protonmail.ch", "protonmail.com", "proton.me", "proton.ch")),
    Provider("kpn", "KPN", ("kpnmail.nl", "kpn.com", "kpnxchange.com", "kpnmail.com")),
    Provider("xs4all", "XS4ALL", ("xs4all.nl", "xs4all.net")),
    Provider("ziggo", "Ziggo", ("as9143.net", "ziggo.nl", "upcmail.net", "chello.nl")),
    Provider("mimecast", "Mimecast", ("mimecast.com", "mimecast.co.za", "mimecast-offshore.com"), gateway=True),
    Provider("proofpoint", "Proofpoint", ("pphosted.com", "ppe-hosted.com", "ppops.net", "proofpoint.com"),
             gateway=True),
)
_BY_DOMAIN: Final = {domain: provider for provider in PROVIDERS for domain in provider.domains}


@functools.lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def organisation(host: str) -> str:
    """The provider key of ``host``, or its registrable domain (lower case, no trailing dot)."""
    name = host.strip().strip(".").lower()
    if not name or len(name) > 253:
        return ""
    labels = name.split(".")
    for start in range(len(labels) - 1):
        provider = _BY_DOMAIN.get(".".join(labels[start:]))
        if provider is not None:
            return provider.key
    return _psl().privatesuffix(name) or name


def provider_named(key: str) -> Provider | None:
    return next((p for p in PROVIDERS if p.key == key), None)


@dataclass(frozen=True)
class Received:
    """One Received field: who connected (``helo``, ``rdns``, ``ip``) and who received (``by``)."""

    index: int  # position of the field in the header section, top (0) to bottom
    by: str
    helo: str
    rdns: str
    ip: str
    has_from: bool

    def client_public(self) -> bool:
        try:
            address = ipaddress.ip_address(self.ip)
        except ValueError:
            return bool(self.helo or self.rdns)
        return not any(address in network for network in _INTERNAL_NETWORKS if network.version == address.version)

    def to_dict(self) -> dict[str, str]:
        return {"by": self.by, "helo": self.helo, "rdns": self.rdns, "ip": self.ip}


_IP_CHARS: Final = frozenset("0123456789abcdefABCDEF.:")


def _ip_in(text: str) -> str:
    """The IP address in a Received comment or word (``[192.0.2.1]``, ``(192.0.2.1)``, ``IPv6:...``)."""
    for raw in text.replace("[", " ").replace("]", " ").replace("(", " ").replace(")", " ").split():
        candidate = raw.strip(";,")
        if candidate[:5].lower() == "ipv6:":
            candidate = candidate[5:]
        if not candidate or not _IP_CHARS.issuperset(candidate) or (
                not candidate[0].isdigit() and ":" not in candidate):
            continue  # cheap test first: most words are host names
        candidate = candidate.rsplit(":", 1)[0] if candidate.count(":") == 1 else candidate  # port
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return ""


def parse_received(index: int, value: str) -> Received:
    """Read ``from HELO (rDNS [IP]) by HOST ...; date`` in its common variants, linearly."""
    text = value[:MAX_RECEIVED_LENGTH].rpartition(";")[0] or value[:MAX_RECEIVED_LENGTH]
    words: list[str] = []
    comments: list[tuple[int, str]] = []  # (number of words before it, text)
    position = 0
    # Words outside comments, and each top-level comment (nested ones included) as one text.
    # str.find jumps between parentheses: linear, and cheap on the long plain stretches.
    while position < len(text):
        opening = text.find("(", position)
        if opening == -1:
            words.extend(text[position:].split())
            break
        words.extend(text[position:opening].split())
        depth = 1
        cursor = opening + 1
        next_open = next_close = opening
        while depth and cursor < len(text):
            # Search again only past a parenthesis already used, so each is found once.
            if next_open != -1 and next_open < cursor:
                next_open = text.find("(", cursor)
            if next_close < cursor:
                next_close = text.find(")", cursor)
            if next_close == -1:
                cursor = len(text)  # unclosed: the rest is comment
                break
            if next_open != -1 and next_open < next_close:
                depth += 1
                cursor = next_open + 1
            else:
                depth -= 1
                cursor = next_close + 1
        if depth == 0:
            comments.append((len(words), text[opening + 1:cursor - 1]))
        position = cursor
    lowered = [w.lower() for w in words]
    has_from = bool(lowered) and lowered[0] == "from"
    by_at = lowered.index("by") if "by" in lowered else -1
    by = words[by_at + 1].strip(";").lower() if 0 <= by_at < len(words) - 1 else ""
    helo = ""
    rdns = ""
    ip = ""
    if has_from and len(words) > 1:
        first = words[1]
        from_comments = [c for n, c in comments if n <= (by_at if by_at >= 0 else len(words))]
        ip = _ip_in(first) if first.startswith("[") or _ip_in(first) == first else ""
        helo = "" if ip else first.lower().rstrip(".")
        for comment in from_comments:
            parts = comment.replace("=", " ").split()
            lowered_parts = [p.lower() for p in parts]
            for marker in ("ehlo", "helo"):
                if not helo and marker in lowered_parts[:-1]:
                    helo = lowered_parts[lowered_parts.index(marker) + 1].strip("\"[]").rstrip(".")
            if not ip:
                ip = _ip_in(comment)
            name = lowered_parts[0].rstrip(".") if lowered_parts else ""
            if not rdns and "." in name and name not in ("ehlo", "helo") and not _ip_in(name):
                rdns = name
    return Received(index, by, helo, rdns, ip, has_from)


@dataclass(frozen=True)
class Chain:
    """The receiving side of a message's Received chain."""

    received: tuple[Received, ...]
    entry: Received | None  # the hop that took the message from the internet
    zone_end: int  # header fields with an index below this were written by the receivers
    receivers: frozenset[str]  # organisations (provider keys or registrable domains) receiving

    @property
    def providers(self) -> tuple[Provider, ...]:
        return tuple(p for p in PROVIDERS if p.key in self.receivers)


def read_chain(received_fields: list[tuple[int, str]], header_count: int) -> Chain:
    """The chain from ``(field index, value)`` of every Received field, top to bottom."""
    hops = tuple(parse_received(i, v) for i, v in received_fields[:MAX_RECEIVED])
    if not hops:
        return Chain((), None, 0, frozenset())
    receivers: set[str] = set()
    gateways = {p.key for p in PROVIDERS if p.gateway}
    for number, hop in enumerate(hops):
        if hop.by and not _ip_in(hop.by):
            receivers.add(organisation(hop.by))
        client_orgs = {organisation(name) for name in (hop.rdns, hop.helo) if name and not _ip_in(name)}
        # A hand-over between two of the receiver's own machines: a single-label receiving
        # name and no client address recorded (an internet hop records the client's IP).
        handover = bool(hop.by) and "." not in hop.by and not _ip_in(hop.by) and not hop.ip
        if handover:
            receivers.update(client_orgs)
        internal = (
            not hop.has_from
            or handover
            or not hop.client_public()
            or bool(client_orgs & receivers)
            or bool(client_orgs & gateways)
        )
        if internal and number + 1 < len(hops):
            continue
        if internal:
            # Every hop looked internal (a message sent inside one organisation).
            return Chain(hops, hop, header_count, frozenset(receivers))
        zone_end = hops[number + 1].index if number + 1 < len(hops) else header_count
        return Chain(hops, hop, zone_end, frozenset(receivers))
    return Chain(hops, None, 0, frozenset(receivers))  # pragma: no cover - the loop always returns
