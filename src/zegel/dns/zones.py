"""Zone-file overlay: answers from local RFC 1035 master files before the network.

Semantics (documented in docs/dns.md): a (name, type) that the zone files hold is answered
from them; a CNAME in the files is followed. Anything else goes to the network, unless the
resolver is offline, in which case the files are the whole world: a name they hold without
that type is NODATA, any other name NXDOMAIN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dns.name
import dns.rdatatype

from zegel.dns.answer import Answer, Status
from zegel.dns.records import NodeMap, ZoneError, answer_from_rdataset, merge, nodes_from_zone_file

MAX_CNAME_CHAIN = 8


@dataclass(frozen=True, slots=True)
class FollowCname:
    """The overlay holds a CNAME for the name but not the target's records."""

    target: str


class ZoneOverlay:
    def __init__(self, nodes: NodeMap | None = None) -> None:
        self._nodes: NodeMap = {}
        self._existing: set[dns.name.Name] = set()  # owners and their ancestors (empty non-terminals)
        if nodes:
            self.add_nodes(nodes)

    @classmethod
    def from_files(cls, paths: Iterable[str]) -> ZoneOverlay:
        overlay = cls()
        for path in paths:
            overlay.add_nodes(nodes_from_zone_file(str(path)))
        return overlay

    def add_nodes(self, nodes: NodeMap) -> None:
        merge(self._nodes, nodes)
        for owner in nodes:
            name = owner.canonicalize()
            while name != dns.name.root and name not in self._existing:
                self._existing.add(name)
                name = name.parent()

    def __bool__(self) -> bool:
        return bool(self._nodes)

    def names_under(self, suffix: str) -> list[str]:
        """Owner names in the files that end in ``.suffix`` (lower case, no trailing dot), e.g.
        the DKIM selectors a draft holds under ``_domainkey.example.nl``."""
        parent = dns.name.from_text(suffix, origin=dns.name.root).canonicalize()
        return sorted(owner.to_text(omit_final_dot=True) for owner in self._nodes
                      if owner != parent and owner.is_subdomain(parent))

    def lookup(self, name: str, rdtype: str, *, offline: bool) -> Answer[Any] | FollowCname | None:
        """An answer, a CNAME to follow, or None when the network should be asked."""
        owner = dns.name.from_text(name, origin=dns.name.root).canonicalize()
        code = dns.rdatatype.from_text(rdtype)
        node = self._nodes.get(owner)
        if node is not None:
            rdataset = node.get(code)
            if rdataset is not None:
                return answer_from_rdataset(name, rdtype, rdataset)
            cname = node.get(dns.rdatatype.CNAME)
            if cname is not None and code != dns.rdatatype.CNAME:
                target = next(iter(cname)).target
                return FollowCname(target.to_text(omit_final_dot=True).lower())
        if not offline:
            return None
        if owner in self._existing:
            return Answer(name, rdtype, Status.NODATA, ttl=60, reason="offline: no such record in zone files")
        return Answer(name, rdtype, Status.NXDOMAIN, ttl=60, reason="offline: name not in zone files")


__all__ = ["MAX_CNAME_CHAIN", "FollowCname", "ZoneError", "ZoneOverlay"]
