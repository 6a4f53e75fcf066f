"""The DNS layer over the real network path: TestDnsServer on loopback, zone overlay, cache."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from zegel.dns import MxRecord, Resolver, Status, ZoneError, parse_nameserver
from zegel.dns.testserver import TestDnsServer

RECORDS = {
    "example.com": [("TXT", "v=spf1 -all"), ("A", "192.0.2.1"), ("MX", (10, "mx.example.com"))],
    "mx.example.com": [("A", "192.0.2.2"), ("AAAA", "2001:db8::2")],
    "www.example.com": [("CNAME", "example.com")],
    "multi.example.com": [("TXT", ["v=spf1 ", "ip4:192.0.2.0/24 ", "-all"])],
    "big.example.com": [("TXT", "x" * 3000)],
    "a.deep.example.com": [("A", "192.0.2.9")],
    "2.2.0.192.in-addr.arpa": [("PTR", "mx.example.com")],
    "xn--bcher-kva.example": [("A", "192.0.2.77")],
    "null.example": [("MX", (0, "."))],
}

Factory = Callable[..., TestDnsServer]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_answer_types(dns_server: Factory) -> None:
    server = dns_server(RECORDS)
    resolver = Resolver([server.address])

    async def go() -> None:
        txt = await resolver.txt("example.com")
        assert txt.status is Status.ANSWER and txt.records == ("v=spf1 -all",)
        mx = await resolver.mx("EXAMPLE.com.")
        assert mx.records == (MxRecord(10, "mx.example.com"),)
        a, aaaa = await resolver.addresses("mx.example.com")
        assert a.records == ("192.0.2.2",) and aaaa.records == ("2001:db8::2",)
        ptr = await resolver.ptr("192.0.2.2")
        assert ptr.records == ("mx.example.com",)
        null = await resolver.mx("null.example")
        assert null.records == (MxRecord(0, ""),)

    run(go())


def test_multi_string_txt_is_joined_and_pieces_kept(dns_server: Factory) -> None:
    server = dns_server(RECORDS)
    resolver = Resolver([server.address])
    answer = run(resolver.txt("multi.example.com"))
    assert answer.records == ("v=spf1 ip4:192.0.2.0/24 -all",)
    assert answer.txt_strings == ((b"v=spf1 ", b"ip4:192.0.2.0/24 ", b"-all"),)


def test_nodata_nxdomain_and_empty_non_terminal_are_distinct(dns_server: Factory) -> None:
    server = dns_server(RECORDS)
    resolver = Resolver([server.address])

    async def go() -> None:
        assert (await resolver.aaaa("example.com")).status is Status.NODATA
        assert (await resolver.a("missing.example.com")).status is Status.NXDOMAIN
        # deep.example.com exists only as the parent of a.deep.example.com
        assert (await resolver.a("deep.example.com")).status is Status.NODATA

    run(go())


def test_cname_is_followed(dns_server: Factory) -> None:
    server = dns_server(RECORDS)
    answer = run(Resolver([server.address]).a("www.example.com"))
    assert answer.records == ("192.0.2.1",)


def test_timeout_and_servfail_are_temporary(dns_server: Factory) -> None:
    server = dns_server(RECORDS, drop=["slow.example.com"], servfail=["broken.example.com"])
    # Short limits only where the server drops the query on purpose: with them, a SERVFAIL
    # answered late on a loaded machine would read as a timeout.
    expecting_timeout = Resolver([server.address], timeout=0.2, lifetime=0.4)
    resolver = Resolver([server.address])

    async def go() -> None:
        slow = await expecting_timeout.txt("slow.example.com")
        assert slow.status is Status.TEMPFAIL and "timeout" in slow.reason
        broken = await resolver.txt("broken.example.com")
        assert broken.status is Status.TEMPFAIL and "SERVFAIL" in broken.reason

    run(go())
    # temporary failures are not cached: the server sees the query again
    before = server.stats.by_name.get("broken.example.com", 0)
    run(resolver.txt("broken.example.com"))
    assert server.stats.by_name["broken.example.com"] > before


def test_truncated_udp_answer_is_retried_over_tcp(dns_server: Factory) -> None:
    server = dns_server(RECORDS)
    answer = run(Resolver([server.address]).txt("big.example.com"))
    assert answer.ok and len(answer.records[0]) == 3000


def test_cache_answers_repeat_queries_without_the_network(dns_server: Factory) -> None:
    server = dns_server(RECORDS)
    resolver = Resolver([server.address])

    async def go() -> None:
        for _ in range(5):
            await resolver.txt("example.com")
            await resolver.a("missing.example.com")  # negative answers are cached too

    run(go())
    assert server.stats.by_name["example.com"] == 1
    assert server.stats.by_name["missing.example.com"] == 1
    assert resolver.stats.hits == 8


def test_cached_peeks_the_entry_query_fills_whatever_the_spelling(dns_server: Factory) -> None:
    """``cached`` gives what ``query`` would give from the cache (a final dot or capitals name
    the same entry), counting a hit as ``query`` does; before the first query None, with the
    miss left for that query to count."""
    server = dns_server(RECORDS)
    resolver = Resolver([server.address])

    async def go() -> None:
        assert resolver.cached("example.com.", "TXT") is None
        assert (resolver.stats.hits, resolver.stats.misses) == (0, 0)
        answer = await resolver.txt("example.com")
        assert (resolver.stats.hits, resolver.stats.misses) == (0, 1)
        for spelling in ("example.com", "example.com.", "EXAMPLE.Com."):
            assert resolver.cached(spelling, "txt") is answer
        assert (resolver.stats.hits, resolver.stats.misses) == (3, 1)
        assert await resolver.txt("Example.COM.") is answer
        assert resolver.cached("example..com", "TXT") is None  # invalid: left to query()

    run(go())
    assert server.stats.by_name["example.com"] == 1


def test_cache_size_is_bounded(dns_server: Factory) -> None:
    server = dns_server({f"h{i}.example": [("A", "192.0.2.1")] for i in range(20)})
    resolver = Resolver([server.address], cache_size=5)

    async def go() -> None:
        for i in range(20):
            await resolver.a(f"h{i}.example")

    run(go())
    assert len(resolver.cache) == 5


def test_concurrent_identical_queries_are_coalesced(dns_server: Factory) -> None:
    server = dns_server(RECORDS, delay=0.05)
    resolver = Resolver([server.address])

    async def go() -> list[Status]:
        answers = await asyncio.gather(*(resolver.txt("example.com") for _ in range(20)))
        return [a.status for a in answers]

    assert run(go()) == [Status.ANSWER] * 20
    assert server.stats.by_name["example.com"] == 1
    assert resolver.queries_sent == 1


def test_internationalized_names_use_idna_2008(dns_server: Factory) -> None:
    server = dns_server(RECORDS)
    answer = run(Resolver([server.address]).a("bücher.example"))
    assert answer.records == ("192.0.2.77",)


@pytest.mark.parametrize("name", ["a..b", "x" * 64 + ".example", ".".join(["abcdefghi"] * 30), ""])
def test_invalid_names_answer_nxdomain_without_network(name: str) -> None:
    resolver = Resolver(["127.0.0.1:9"], timeout=0.1, lifetime=0.1)
    answer = run(resolver.txt(name))
    assert answer.status is Status.NXDOMAIN and answer.reason
    assert resolver.queries_sent == 0


def test_garbage_reply_is_a_temporary_failure() -> None:
    """A server answering junk bytes: TEMPFAIL with a reason, no exception."""
    import socket
    import threading

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3)
    port = sock.getsockname()[1]

    def junk() -> None:
        try:
            while True:
                data, addr = sock.recvfrom(512)
                sock.sendto(data[:2] + b"\x81\x80\xff\xff\x00garbage", addr)
        except OSError:
            pass

    thread = threading.Thread(target=junk, daemon=True)
    thread.start()
    try:
        answer = run(Resolver([f"127.0.0.1:{port}"], timeout=0.2, lifetime=0.5).txt("example.com"))
        assert answer.status is Status.TEMPFAIL
    finally:
        sock.close()


ZONE = """$ORIGIN example.org.
$TTL 300
@       IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
@       IN MX 10 mail
mail    IN A 198.51.100.10
alias   IN CNAME mail
"""


def test_zone_overlay_answers_before_the_network(tmp_path: Path, dns_server: Factory) -> None:
    zone = tmp_path / "draft.zone"
    zone.write_text(ZONE)
    # live DNS has an old record for example.org and an A record the draft doesn't touch
    server = dns_server({"example.org": [("TXT", "v=spf1 -all"), ("A", "203.0.113.1")]})
    resolver = Resolver([server.address], zones=[zone])

    async def go() -> None:
        assert (await resolver.txt("example.org")).records == ("v=spf1 ip4:198.51.100.0/24 -all",)
        assert (await resolver.a("example.org")).records == ("203.0.113.1",)  # falls through
        assert (await resolver.a("alias.example.org")).records == ("198.51.100.10",)

    run(go())
    assert "example.org" in server.stats.by_name  # only the A query went out
    assert server.stats.by_name["example.org"] == 1


def test_offline_answers_only_from_zones(tmp_path: Path) -> None:
    zone = tmp_path / "z.zone"
    zone.write_text(ZONE)
    resolver = Resolver(zones=[zone], offline=True)

    async def go() -> None:
        assert (await resolver.mx("example.org")).records == (MxRecord(10, "mail.example.org"),)
        assert (await resolver.aaaa("mail.example.org")).status is Status.NODATA
        assert (await resolver.txt("elsewhere.example")).status is Status.NXDOMAIN

    run(go())
    assert resolver.queries_sent == 0


def test_zone_file_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zone"
    bad.write_text("$ORIGIN example.org.\n@ IN MX notanumber mail\n")
    with pytest.raises(ZoneError) as info:
        Resolver(zones=[bad])
    assert "bad.zone" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ZoneError, match="cannot read"):
        Resolver(zones=[tmp_path / "missing.zone"])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)),
     ("::1", ("::1", 53)), ("[::1]:5353", ("::1", 5353))],
)
def test_nameserver_specs(spec: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(spec) == expected


@pytest.mark.parametrize("spec", ["", "dns.example", "127.0.0.1:99999", "127.0.0.1:x", "[::1"])
def test_bad_nameserver_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_nameserver(spec)


def test_cancelling_one_caller_does_not_cancel_the_others(dns_server: Factory) -> None:
    server = dns_server(RECORDS, delay=0.1)
    resolver = Resolver([server.address])

    async def go() -> Status:
        first = asyncio.ensure_future(resolver.txt("example.com"))
        second = asyncio.ensure_future(resolver.txt("example.com"))
        await asyncio.sleep(0.02)
        first.cancel()
        answer = await second
        return answer.status

    assert run(go()) is Status.ANSWER
    # the waiting caller asked again itself once the caller that sent the query was cancelled
    assert server.stats.by_name["example.com"] == 2


def test_zone_without_ttl_gets_a_default_and_errors_keep_file_line_numbers(tmp_path: Path) -> None:
    draft = tmp_path / "draft.zone"
    draft.write_text('example.net. IN TXT "v=spf1 -all"\n')
    answer = run(Resolver(zones=[draft], offline=True).txt("example.net"))
    assert answer.records == ("v=spf1 -all",) and answer.ttl == 300
    broken = tmp_path / "broken.zone"
    broken.write_text('example.net. IN TXT "ok"\nexample.net. IN MX notanumber mail.example.net.\n')
    with pytest.raises(ZoneError, match=r"broken.zone:2:"):
        Resolver(zones=[broken])


def test_whole_zone_files_with_their_soa_load_at_their_own_origin(tmp_path: Path) -> None:
    """A provider's export or a BIND file has an SOA at its origin; names may be relative to a
    $ORIGIN or absolute. Both load (before, dnspython's 'non-origin SOA' stopped them)."""
    bind = tmp_path / "bind.zone"
    bind.write_text("$ORIGIN shop.example.\n$TTL 3600\n"
                    "@ IN SOA ns1 hostmaster ( 2026120501 7200 3600 1209600 300 )\n"
                    "@ IN NS ns1\nns1 IN A 192.0.2.53\n"
                    '@ IN TXT "v=spf1 mx -all"\n_dmarc IN TXT "v=DMARC1; p=reject"\n')
    export = tmp_path / "export.zone"
    export.write_text("shop.example. 300 IN SOA ns1.shop.example. hostmaster.shop.example. 1 7200 3600 1209600 300\n"
                      'shop.example. 300 IN TXT "v=spf1 -all"\n')
    for zone, spf in ((bind, "v=spf1 mx -all"), (export, "v=spf1 -all")):
        resolver = Resolver(zones=[zone], offline=True)

        async def go(resolver: Resolver = resolver) -> tuple[tuple[str, ...], Status]:
            return (await resolver.txt("shop.example")).records, (await resolver.txt("other.example")).status

        assert run(go()) == ((spf,), Status.NXDOMAIN)
    assert run(Resolver(zones=[bind], offline=True).txt("_dmarc.shop.example")).records == ("v=DMARC1; p=reject",)
    # An SOA whose origin cannot be told stays a one-line error naming the file.
    unknown = tmp_path / "unknown.zone"
    unknown.write_text("$TTL 300\nshop IN SOA ns1 hostmaster 1 2 3 4 5\n")
    with pytest.raises(ZoneError) as info:
        Resolver(zones=[unknown])
    assert "unknown.zone" in str(info.value) and "\n" not in str(info.value)
