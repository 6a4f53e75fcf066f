"""pyspf (PyPI ``pyspf``, module ``spf``) as a real peer, asking a loopback TestDnsServer.

pyspf resolves through ``dns.resolver.query()``, i.e. dnspython's default resolver; pointing that
at the test server is the peer's own DNS configuration (the approach of bench/bench_spf.py). Here
it is swapped in for the duration of one check only and the previous default put back, so nothing
else in the test process (zegel's resolver has its own configuration) sees it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dns.resolver

# tests/ is a package, so tests/spf is ``tests.spf`` and ``spf`` here is pyspf itself.
import spf
from zegel.dns.testserver import TestDnsServer

assert hasattr(spf, "check2"), f"'spf' is not pyspf but {spf.__file__}"

# The text pyspf gives for `fail` when the domain supplies no usable exp= explanation.
PYSPF_DEFAULT_FAIL_EXPLANATION: str = spf.EXPLANATIONS["fail"]


@dataclass(frozen=True)
class PeerResult:
    result: str
    # For `fail`: the domain's exp= text, or None when pyspf fell back to its default text.
    explanation: str | None


@contextmanager
def pyspf_dns(server: TestDnsServer, timeout: float) -> Iterator[None]:
    """dnspython's default resolver (pyspf's DNS) asks only ``server``, uncached, for one check."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    previous = dns.resolver.default_resolver
    dns.resolver.default_resolver = resolver
    try:
        yield
    finally:
        dns.resolver.default_resolver = previous


def pyspf_check(server: TestDnsServer, ip: str, mail_from: str, helo: str, *,
                timeout: float = 0.4) -> PeerResult:
    """pyspf's RFC 7208 check_host for MAIL FROM (or postmaster@HELO when it is empty).

    ``timeout`` bounds each DNS lookup (pyspf's per-lookup mode, ``querytime=0``), so a query the
    server never answers becomes pyspf's temperror quickly.
    """
    with pyspf_dns(server, timeout), warnings.catch_warnings():
        # pyspf calls the deprecated dns.resolver.query(); that is the peer's business.
        warnings.simplefilter("ignore", DeprecationWarning)
        result, _code, explanation = spf.query(i=ip, s=mail_from, h=helo, timeout=timeout,
                                               querytime=0).check()
    text = str(explanation) if result == "fail" else None
    if text == PYSPF_DEFAULT_FAIL_EXPLANATION:
        text = None
    return PeerResult(str(result), text)
