"""DNS limits for the SPF tests' resolvers against the in-process test server.

Short limits only where a query is dropped on purpose (they keep those cases fast); generous
ones elsewhere, so a loaded machine cannot turn a slow answer into a temperror.
"""

from __future__ import annotations

from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

# (per attempt at the server, per lookup)
GENEROUS = (2.0, 5.0)  # zegel.dns.Resolver's own defaults: what every other test resolver uses
EXPECTING_TIMEOUTS = (0.5, 1.0)


def limits(*, expecting_timeouts: bool) -> tuple[float, float]:
    return EXPECTING_TIMEOUTS if expecting_timeouts else GENEROUS


def drops_queries(server: TestDnsServer) -> bool:
    """Whether ``server`` leaves any query unanswered (its whole zone's cases may time out)."""
    return bool(server.drop or server.drop_types or server.drop_absent)


def resolver(server: TestDnsServer, *, expecting_timeouts: bool) -> Resolver:
    timeout, lifetime = limits(expecting_timeouts=expecting_timeouts)
    return Resolver([server.address], timeout=timeout, lifetime=lifetime)
