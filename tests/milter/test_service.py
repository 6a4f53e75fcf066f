"""The milter service end to end over its socket, driven as Postfix drives it.

Real sessions over TCP/unix sockets, real DNS over the loopback test server, real DKIM peers
(dkimpy signs inbound mail and checks our outbound signatures).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.milter.conftest import AUTHSERV_ID, CLIENT_IP, Keys
from tests.milter.helpers import dkimpy_verify_all, header_values, message, sign_with_dkimpy
from tests.milter.milter_client import (
    POSTFIX_PROTOCOL,
    EomResult,
    MilterClient,
    apply_modifications,
)

from zegel.arc import validate as zegel_arc_validate
from zegel.dkim import verify as zegel_dkim_verify
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer
from zegel.milter import protocol as p
from zegel.milter.config import load_config
from zegel.milter.service import MilterService


@asynccontextmanager
async def serving(config_path: Path) -> AsyncIterator[MilterService]:
    service = MilterService(load_config(config_path))
    await service.start()
    try:
        yield service
    finally:
        service.request_stop("test over")
        await service.stop()


def run(config_path: Path, scenario: Callable[[MilterService], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with serving(config_path) as service:
            return await asyncio.wait_for(scenario(service), 60)

    return asyncio.run(main())


async def client_for(service: MilterService) -> MilterClient:
    if service.config.socket.kind == "unix":
        client = await MilterClient.connect_unix(service.config.socket.path)
    else:
        client = await MilterClient.connect("127.0.0.1", service.server.port)
    await client.optneg()
    return client


def pass_message(keys: Keys, **kwargs: Any) -> bytes:
    return sign_with_dkimpy(message("alice@pass.example", **kwargs), domain="pass.example", selector="sel",
                            key=keys.inbound_rsa)


# -- negotiation -------------------------------------------------------------------------------


def test_negotiation_asks_only_for_what_the_mta_offers(write_config: Callable[..., Path]) -> None:
    async def scenario(service: MilterService) -> None:
        client = await MilterClient.connect("127.0.0.1", service.server.port)
        reply = await client.optneg()
        assert reply.version == 6
        assert reply.actions == (p.ActionFlag.ADDHDRS | p.ActionFlag.CHGHDRS | p.ActionFlag.QUARANTINE
                                 | p.ActionFlag.SETSYMLIST)
        assert p.ProtocolFlag.HDR_LEADSPC in reply.protocol and p.ProtocolFlag.NR_HDR in reply.protocol
        # No replies to body chunks: the last chunk and end of message come in one write.
        assert p.ProtocolFlag.NR_BODY in reply.protocol and p.ProtocolFlag.SKIP not in reply.protocol
        assert "{auth_authen}" in reply.macros[p.MacroStage.ENVFROM]
        await client.close()
        # An older MTA (version 2, no v6 steps, no macro lists): we ask nothing it lacks.
        old = await MilterClient.connect("127.0.0.1", service.server.port)
        reply = await old.optneg(version=2, actions=p.ActionFlag(0x3F), protocol=p.ProtocolFlag(0x7F))
        assert reply.version == 2
        assert reply.macros == {}
        assert int(reply.protocol) & ~0x7F == 0 and int(reply.actions) & ~0x3F == 0
        result = await old.message(message("a@quar.example"), mail_from="a@quar.example")
        await old.close()
        # No SMFIR_INSHEADER before version 3: our header is appended instead.
        assert not [m for m in result.modifications if isinstance(m, p.InsertHeader)]
        assert [m for m in result.modifications if isinstance(m, p.AddHeader) and m.name == b"Authentication-Results"]

    run(write_config(), scenario)


# -- inbound -----------------------------------------------------------------------------------


def test_dmarc_pass_gets_our_results_and_forged_ones_removed(write_config: Callable[..., Path], keys: Keys) -> None:
    forged = (f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=pass.example\r\n"
              "Authentication-Results: other.example; spf=pass\r\n"
              f"Authentication-Results: {AUTHSERV_ID.upper()} (forged); dkim=pass\r\n"
              f"Authentication-Results: {AUTHSERV_ID}.; arc=pass\r\n")
    raw = pass_message(keys, extra_headers=forged)

    async def scenario(service: MilterService) -> p.Response | None:
        client = await client_for(service)
        result = await client.message(raw, client_ip=CLIENT_IP, mail_from="alice@pass.example")
        await client.close()
        # The claims of our authserv-id go (the trailing-dot one too), highest index first;
        # the other host's stays.
        deletions = [m for m in result.modifications if isinstance(m, p.ChangeHeader)]
        assert [(d.index, d.value) for d in deletions] == [(4, b""), (3, b""), (1, b"")]
        inserted = [m for m in result.modifications if isinstance(m, p.InsertHeader)]
        assert inserted[0].index == 0 and inserted[0].name == b"Authentication-Results"
        delivered = apply_modifications(raw, result)
        results = header_values(delivered, "Authentication-Results")
        assert len(results) == 2 and results[1] == "other.example; spf=pass"
        ours = " ".join(results[0].split())
        assert ours.startswith(f"{AUTHSERV_ID};")
        assert "spf=pass" in ours and "dkim=pass" in ours and "dmarc=pass" in ours
        return result.final

    assert isinstance(run(write_config(), scenario), p.Continue)


def test_spoofed_mail_from_reject_domain_gets_550(write_config: Callable[..., Path]) -> None:
    async def scenario(service: MilterService) -> p.Response | None:
        client = await client_for(service)
        result = await client.message(message("ceo@spoof.example"), mail_from="ceo@spoof.example")
        await client.close()
        assert result.modifications == []
        return result.final

    final = run(write_config(), scenario)
    assert isinstance(final, p.ReplyCode)
    assert final.code == 550 and final.text.startswith("5.7.")
    assert "spoof.example" in final.text


def test_quarantine_as_header_or_milter_action(write_config: Callable[..., Path]) -> None:
    raw = message("news@quar.example")

    async def scenario(service: MilterService) -> list[p.Response]:
        client = await client_for(service)
        result = await client.message(raw, mail_from="news@quar.example")
        await client.close()
        assert isinstance(result.final, p.Continue)
        return result.modifications

    mods = run(write_config(), scenario)
    marks = [m for m in mods if isinstance(m, p.AddHeader) and m.name == b"X-Zegel-Quarantine"]
    assert len(marks) == 1 and marks[0].value.startswith(b" yes")
    mods = run(write_config('[inbound]\nquarantine = "milter"\n', name="m2.toml"), scenario)
    assert [m for m in mods if isinstance(m, p.Quarantine)]
    assert not [m for m in mods if isinstance(m, p.AddHeader) and m.name == b"X-Zegel-Quarantine"]


def test_local_policy_tags_subject_and_tempfails_on_dns_errors(
        write_config: Callable[..., Path], dns_server: Callable[..., TestDnsServer]) -> None:
    policy = ('[on]\ndmarc_quarantine = { action = "tag_subject", tag = "[SPAM]" }\n'
              'dmarc_temperror = "tempfail"\nspf_temperror = "tempfail"\n')
    raw = message("news@quar.example", subject="Great offer")

    async def scenario(service: MilterService) -> tuple[list[p.Response], p.Response | None]:
        client = await client_for(service)
        result = await client.message(raw, mail_from="news@quar.example")
        await client.close()
        return result.modifications, result.final

    mods, final = run(write_config(policy=policy), scenario)
    assert isinstance(final, p.Continue)
    changes = [m for m in mods if isinstance(m, p.ChangeHeader) and m.name == b"Subject"]
    assert changes == [p.ChangeHeader(1, b"Subject", b" [SPAM] Great offer")]

    # A domain whose server fails: temporary DNS error -> 451 where the policy says so.
    broken = dns_server({"broken.example": [("TXT", "v=spf1 -all")]}, servfail=["broken.example", "_dmarc.broken.example"])
    raw = message("a@broken.example")

    async def tempfail(service: MilterService) -> p.Response | None:
        client = await client_for(service)
        result = await client.message(raw, mail_from="a@broken.example")
        await client.close()
        return result.final

    path = write_config(policy=policy, name="broken.toml")
    text = path.read_text().replace('nameservers = ["', f'nameservers = ["{broken.address}", "', 1)
    path.write_text(text.replace(f'["{broken.address}", "', f'["{broken.address}"]  # ', 1))
    final = run(path, tempfail)
    assert isinstance(final, p.ReplyCode) and final.code == 451 and final.text.startswith("4.")


def test_arc_sealing_of_forwarded_mail_validates(write_config: Callable[..., Path], keys: Keys,
                                                 test_dns: TestDnsServer) -> None:
    raw = pass_message(keys, to="members@lists.corp.example")
    arc = '[arc]\ndomain = "corp.example"\nselector = "arc1"\nkey = "rsa1.pem"\nrecipient_domains = ["lists.corp.example"]\n'

    async def scenario(service: MilterService) -> tuple[bytes, int]:
        client = await client_for(service)
        listed = await client.message(raw, mail_from="alice@pass.example", recipients=["members@lists.corp.example"])
        other = await client.message(raw, mail_from="alice@pass.example", recipients=["user@example.test"],
                                     connect=False)
        await client.close()
        arc_fields = sum(1 for m in other.modifications if isinstance(m, p.InsertHeader) and m.name.startswith(b"ARC-"))
        return apply_modifications(raw, listed), arc_fields

    sealed, unsealed_count = run(write_config(arc), scenario)
    assert unsealed_count == 0  # not to a listed recipient domain: not sealed
    names = [line.split(b":", 1)[0] for line in sealed.split(b"\r\n\r\n", 1)[0].split(b"\r\n") if line[:1] not in (b" ", b"\t")]
    assert names[:4] == [b"ARC-Seal", b"ARC-Message-Signature", b"ARC-Authentication-Results", b"Authentication-Results"]
    result = asyncio.run(zegel_arc_validate(sealed, resolver=Resolver([test_dns.address], timeout=1.0)))
    assert result.cv == "pass", result.reason
    assert "dmarc=pass" in " ".join(header_values(sealed, "ARC-Authentication-Results")[0].split())


def test_verdicts_are_recorded_for_dmarc_reports(write_config: Callable[..., Path], keys: Keys, tmp_path: Path) -> None:
    from zegel.reports.store import open_store

    database = f"sqlite:///{tmp_path / 'reports.db'}"
    config = write_config(f'[reports]\ndatabase = "{database}"\ndata_dir = "{tmp_path / "data"}"\n')

    async def scenario(service: MilterService) -> str:
        client = await client_for(service)
        await client.message(pass_message(keys), mail_from="alice@pass.example")
        await client.message(message("ceo@spoof.example"), mail_from="ceo@spoof.example", connect=False)
        await client.close()
        assert service.recorder is not None
        assert await asyncio.to_thread(service.recorder.flush)
        return service.metrics.render()

    metrics = run(config, scenario)  # the service stops: the recorder flushes its queue
    store = open_store(database)
    try:
        assert store.count_outcomes() == 2
    finally:
        store.close()
    # An operator sees the recording in the metrics, and would see verdicts dropped.
    assert "zegel_milter_outcomes_written_total 2\n" in metrics
    assert "zegel_milter_outcomes_dropped_total 0\n" in metrics


# -- outbound ----------------------------------------------------------------------------------


def test_trusted_network_mail_is_dual_signed_and_verifies_with_zegel_and_dkimpy(
        write_config: Callable[..., Path], test_dns: TestDnsServer) -> None:
    forged = f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=bank.example\r\n"
    raw = message("boss@corp.example", to="partner@example.net", extra_headers=forged)

    async def scenario(service: MilterService) -> bytes:
        client = await client_for(service)
        result = await client.message(raw, client_ip="10.1.2.3", mail_from="boss@corp.example")
        await client.close()
        assert isinstance(result.final, p.Continue)
        inserted = [m for m in result.modifications if isinstance(m, p.InsertHeader)]
        assert [m.name for m in inserted] == [b"DKIM-Signature", b"DKIM-Signature"]
        # Results claiming to be ours are removed from our users' mail too (it may stay local).
        assert [m for m in result.modifications if isinstance(m, p.ChangeHeader)] == [
            p.ChangeHeader(1, b"Authentication-Results", b"")]
        return apply_modifications(raw, result)

    signed = run(write_config(), scenario)
    signatures = header_values(signed, "DKIM-Signature")
    assert "a=rsa-sha256" in signatures[0] and "s=rsa1" in signatures[0]
    assert "a=ed25519-sha256" in signatures[1] and "s=ed1" in signatures[1]
    results = asyncio.run(zegel_dkim_verify(signed, resolver=Resolver([test_dns.address], timeout=1.0)))
    assert [(r.result, r.selector) for r in results] == [("pass", "rsa1"), ("pass", "ed1")]
    # dkimpy checks the RSA signature (its Ed25519 support needs the PyNaCl extra).
    assert dkimpy_verify_all(signed, test_dns.address)[0] is True


def test_authenticated_client_is_signed_and_others_are_not(write_config: Callable[..., Path]) -> None:
    raw = message("boss@corp.example")

    async def scenario(service: MilterService) -> tuple[int, int, int]:
        client = await client_for(service)
        authenticated = await client.message(raw, client_ip="203.0.113.5", mail_from="boss@corp.example",
                                             macros={"{auth_authen}": "boss", "{auth_type}": "PLAIN"})
        await client.close()
        client = await client_for(service)
        anonymous = await client.message(message("x@unsigned.example"), client_ip="10.9.9.9")
        await client.close()
        client = await client_for(service)
        # Inbound mail claiming our domain from outside is verified, never signed.
        outsider = await client.message(raw, client_ip="203.0.113.5", mail_from="boss@corp.example")
        await client.close()

        def signatures(result: Any) -> int:
            return sum(1 for m in result.modifications if isinstance(m, p.InsertHeader) and m.name == b"DKIM-Signature")

        return signatures(authenticated), signatures(anonymous), signatures(outsider)

    assert run(write_config(), scenario) == (2, 0, 0)


# -- robustness --------------------------------------------------------------------------------


def test_malformed_and_oversized_packets_end_only_that_session(write_config: Callable[..., Path], keys: Keys) -> None:
    async def scenario(service: MilterService) -> None:
        good = await client_for(service)
        bad = await client_for(service)
        await bad.send_raw(struct.pack("!I", 3) + b"L" + b"xy")  # header without NULs
        assert await bad.read() is None  # the milter closed it
        huge = await client_for(service)
        await huge.send_raw(struct.pack("!I", 50_000_000) + b"B")
        assert await huge.read() is None
        garbage = await MilterClient.connect("127.0.0.1", service.server.port)
        await garbage.send_raw(b"GET / HTTP/1.0\r\n\r\n")
        assert await garbage.read() is None
        result = await good.message(pass_message(keys), mail_from="alice@pass.example")
        assert isinstance(result.final, p.Continue)
        await good.close()
        assert service.metrics.protocol_errors == 3

    run(write_config(), scenario)


def test_tcp_sessions_acknowledge_at_once(write_config: Callable[..., Path], keys: Keys) -> None:
    """Postfix does not set TCP_NODELAY: a command tail held back by Nagle waits for our ACK,
    so the milter must not leave it to the delayed-ACK timer (TCP_QUICKACK after each read)."""
    if not hasattr(socket, "TCP_QUICKACK"):
        pytest.skip("TCP_QUICKACK is Linux-only")
    calls: list[tuple[int, int, int]] = []

    async def scenario(service: MilterService) -> None:
        client = await client_for(service)
        (session,) = service.server.sessions
        real = session._quickack
        assert real is not None

        class Spy:
            def setsockopt(self, level: int, option: int, value: int) -> None:
                calls.append((level, option, value))
                real.setsockopt(level, option, value)

        session._quickack = Spy()  # type: ignore[assignment]
        result = await client.message(pass_message(keys), mail_from="alice@pass.example")
        assert isinstance(result.final, p.Continue)
        await client.close()

    run(write_config(), scenario)
    assert calls and set(calls) == {(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)}


def test_idle_session_times_out(write_config: Callable[..., Path]) -> None:
    async def scenario(service: MilterService) -> None:
        client = await client_for(service)
        assert await client.read(wait=10.0) is None  # closed by the milter after 0.3 s of silence

    run(write_config('[timeouts]\nsession = 0.3\n'), scenario)


def test_large_bodies_are_bounded_and_oversized_ones_are_rejected(write_config: Callable[..., Path]) -> None:
    body = ("line of text " * 6 + "\r\n") * 5000  # about 400 KB

    async def scenario(service: MilterService) -> p.Response:
        client = await client_for(service)
        result = await client.message(message("a@pass.example", body=body), mail_from="a@pass.example")
        await client.close()
        assert result.modifications == []
        return result.final

    config = write_config('[inbound]\nmax_message_size = "100K"\nmemory_limit = "16K"\n')
    final = run(config, scenario)
    # Fail closed (docs/security.md): the message_too_large outcome, reject by default.
    assert isinstance(final, p.ReplyCode) and final.code == 550 and final.text.startswith("5.7.1")
    assert service_metrics_oversized(config) == 1


def service_metrics_oversized(config: Path) -> int:
    async def scenario(service: MilterService) -> int:
        client = await client_for(service)
        body = "y" * 200_000 + "\r\n"
        result = await client.message(message("a@pass.example", body=body), mail_from="a@pass.example",
                                      chunk_size=8192)
        await client.close()
        assert isinstance(result.final, p.ReplyCode)
        return service.metrics.oversized

    return int(run(config, scenario))


def test_verification_timeout_follows_on_error(write_config: Callable[..., Path]) -> None:
    raw = message("a@slow.example")

    async def scenario(service: MilterService) -> EomResult:
        client = await client_for(service)
        result = await client.message(raw, mail_from="a@slow.example")
        await client.close()
        return result

    # fail-closed by default: tempfail
    result = run(write_config('[timeouts]\nverify = 0.3\n'), scenario)
    assert isinstance(result.final, p.ReplyCode) and result.final.code == 451
    # fail-open when the operator asks: accept and add nothing
    result = run(write_config('[timeouts]\nverify = 0.3\n', top='on_error = "accept"\n', name="open.toml"), scenario)
    assert isinstance(result.final, p.Continue) and result.modifications == []


def test_unix_socket_and_many_concurrent_sessions(write_config: Callable[..., Path], tmp_path: Path, keys: Keys) -> None:
    socket_path = tmp_path / "milter.sock"
    raw = pass_message(keys)

    async def one(service: MilterService) -> p.Response | None:
        client = await client_for(service)
        result = await client.message(raw, mail_from="alice@pass.example")
        await client.close()
        return result.final

    async def scenario(service: MilterService) -> list[p.Response | None]:
        return await asyncio.gather(*(one(service) for _ in range(25)))

    finals = run(write_config(socket=f"unix:{socket_path}"), scenario)
    assert all(isinstance(f, p.Continue) for f in finals)
    assert not socket_path.exists()  # removed at shutdown


def test_graceful_shutdown_serves_open_sessions_until_quit(write_config: Callable[..., Path], keys: Keys) -> None:
    """SIGTERM: no new connections, but every open MTA connection is served to its end —
    the message in flight and a next message in the same session (Postfix does not
    reconnect within an SMTP session, so closing between messages would tempfail it)."""
    slow = message("a@slow.example")  # verification waits ~3 s on DNS

    async def main() -> tuple[p.Response | None, p.Response | None, p.Response | None, bool, int]:
        service = MilterService(load_config(write_config()))
        await service.start()
        port = service.server.port
        client = await client_for(service)
        idle = await client_for(service)
        in_flight = asyncio.create_task(client.message(slow, mail_from="a@slow.example"))
        while service.metrics.messages_in_flight == 0:  # noqa: ASYNC110 - polling a counter, no event to wait on
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        service.request_stop("test")
        stopping = asyncio.create_task(service.stop())
        await asyncio.sleep(0.1)
        refused = False
        try:
            await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            refused = True
        # The idle session is still served: a new message in it gets its answer.
        second = await idle.message(pass_message(keys), mail_from="alice@pass.example")
        await idle.close()
        first = await in_flight
        third = await client.message(pass_message(keys), mail_from="alice@pass.example", connect=False)
        await client.close()
        await stopping
        return first.final, second.final, third.final, refused, len(service.server.sessions)

    first, second, third, refused, left = asyncio.run(main())
    assert isinstance(first, p.Continue) and isinstance(second, p.Continue) and isinstance(third, p.Continue)
    assert refused
    assert left == 0


def test_shutdown_grace_period_ends_sessions_the_mta_keeps_open(write_config: Callable[..., Path]) -> None:
    async def main() -> tuple[int, bool]:
        service = MilterService(load_config(write_config("[timeouts]\nshutdown = 0.5\n")))
        await service.start()
        client = await client_for(service)
        service.request_stop("test")
        left = await service.server.shutdown(service.config.shutdown_timeout)
        closed = await client.read(wait=5.0) is None
        await service.stop()
        return left, closed

    left, closed = asyncio.run(main())
    assert left == 1 and closed


def test_metrics_endpoint(write_config: Callable[..., Path], keys: Keys) -> None:
    async def scenario(service: MilterService) -> str:
        client = await client_for(service)
        await client.message(pass_message(keys), mail_from="alice@pass.example")
        await client.message(message("ceo@spoof.example"), mail_from="ceo@spoof.example", connect=False)
        await client.close()
        assert service.metrics_server is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", service.metrics_server.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await reader.read()
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", service.metrics_server.port)
        writer.write(b"GET /other HTTP/1.1\r\n\r\n")
        other = await reader.read()
        writer.close()
        assert other.startswith(b"HTTP/1.1 404")
        return data.decode()

    text = run(write_config('[metrics]\nlisten = "127.0.0.1:0"\n'), scenario)
    assert text.startswith("HTTP/1.1 200 OK")
    assert "text/plain; version=0.0.4" in text
    assert 'zegel_milter_messages_total{direction="inbound",result="pass",action="accept"} 1' in text
    assert 'zegel_milter_messages_total{direction="inbound",result="fail",action="reject"} 1' in text
    assert 'zegel_milter_message_seconds_bucket{le="+Inf"} 2' in text
    assert "zegel_dns_cache_hit_ratio " in text


def test_protocol_flags_without_no_reply_support(write_config: Callable[..., Path], keys: Keys) -> None:
    """An MTA that offers no NR_* flags gets a reply to every step."""
    offered = POSTFIX_PROTOCOL & ~(p.ProtocolFlag.NR_CONN | p.ProtocolFlag.NR_HELO | p.ProtocolFlag.NR_MAIL
                                   | p.ProtocolFlag.NR_RCPT | p.ProtocolFlag.NR_HDR | p.ProtocolFlag.NR_EOH
                                   | p.ProtocolFlag.HDR_LEADSPC)

    async def scenario(service: MilterService) -> bytes:
        client = await MilterClient.connect("127.0.0.1", service.server.port)
        await client.optneg(protocol=offered)
        raw = pass_message(keys)
        result = await client.message(raw, mail_from="alice@pass.example")
        await client.close()
        inserted = [m for m in result.modifications if isinstance(m, p.InsertHeader)]
        # Without HDR_LEADSPC the MTA adds the space after the colon itself.
        assert not inserted[0].value.startswith(b" ")
        return apply_modifications(raw, result, leadspc=False)

    delivered = run(write_config(), scenario)
    assert "dmarc=pass" in header_values(delivered, "Authentication-Results")[0]


def test_sigterm_finishes_the_message_in_flight_and_exits_cleanly(write_config: Callable[..., Path],
                                                                   tmp_path: Path) -> None:
    """The real `zegel milter --config` process: SIGTERM mid-message, the answer still comes."""
    import signal

    from tests.milter.postfix_harness import MilterProcess, free_port

    port = free_port()
    process = MilterProcess(write_config(socket=f"inet:127.0.0.1:{port}", name="proc.toml"), port,
                            log_file=tmp_path / "milter.log").start()

    async def scenario() -> p.Response | None:
        client = await MilterClient.connect("127.0.0.1", port)
        await client.optneg()
        in_flight = asyncio.create_task(client.message(message("a@slow.example"), mail_from="a@slow.example"))
        await asyncio.sleep(1.0)  # inside verification: slow.example's DNS answers after 3 s
        assert process.process is not None
        process.process.send_signal(signal.SIGTERM)
        result = await in_flight
        await client.close()
        return result.final

    try:
        final = asyncio.run(asyncio.wait_for(scenario(), 60))
        assert process.process is not None
        assert process.process.wait(30) == 0
    finally:
        process.kill()
    assert isinstance(final, p.Continue)
    log = (tmp_path / "milter.log").read_text()
    assert "msg=\"shutting down\"" in log and "msg=stopped" in log
    assert "result=" in log and "msg_id=" in log


def test_sendmail_style_ipv6_client_and_crlf_folding(write_config: Callable[..., Path], keys: Keys) -> None:
    """Sendmail writes "IPv6:" before the address and folds with CRLF; no leading-space option."""
    offered = POSTFIX_PROTOCOL & ~p.ProtocolFlag.HDR_LEADSPC
    folded = "X-Long: first part\r\n\tsecond part\r\n"
    spf_only = message("bob@v6.example", extra_headers=folded)
    signed = sign_with_dkimpy(message("alice@pass.example", extra_headers=folded), domain="pass.example",
                              selector="sel", key=keys.inbound_rsa)

    async def scenario(service: MilterService) -> list[str]:
        out = []
        for raw, sender, ip in ((spf_only, "bob@v6.example", "2001:db8::25"), (signed, "alice@pass.example", CLIENT_IP)):
            client = await MilterClient.connect("127.0.0.1", service.server.port)
            await client.optneg(protocol=offered)
            result = await client.message(raw, client_ip=ip, mail_from=sender, ipv6_prefix=True, fold=b"\r\n")
            await client.close()
            assert isinstance(result.final, p.Continue)
            out.append(" ".join(header_values(apply_modifications(raw, result, leadspc=False), "Authentication-Results")[0].split()))
        return out

    v6, dkim_signed = run(write_config(), scenario)
    assert "spf=pass" in v6 and "dmarc=pass" in v6
    assert "dkim=pass" in dkim_signed and "dmarc=pass" in dkim_signed


def test_metrics_server_answers_only_get_metrics() -> None:
    from zegel.milter.metrics import MetricsServer, MilterMetrics

    async def main() -> list[bytes]:
        metrics = MilterMetrics()
        metrics.message("outbound", "signed", "sign", 0.003)
        server = MetricsServer(metrics, "127.0.0.1", 0)
        await server.start()
        answers = []
        for request in (b"HEAD /metrics HTTP/1.1\r\n\r\n", b"POST /metrics HTTP/1.1\r\n\r\n",
                        b"garbage\r\n\r\n", b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request)
            answers.append(await reader.read())
            writer.close()
        # A client that never finishes its request does not hold the server up.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /metr")
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", server.port)
        writer2.write(b"GET /metrics HTTP/1.1\r\n\r\n")
        answers.append(await reader2.read())
        writer.close()
        writer2.close()
        await server.stop()
        return answers

    head, post, garbage, query, concurrent = asyncio.run(main())
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
    assert post.startswith(b"HTTP/1.1 405") and garbage.startswith(b"HTTP/1.1 400")
    assert b'zegel_milter_messages_total{direction="outbound",result="signed",action="sign"} 1' in query
    assert b'zegel_milter_message_seconds_bucket{le="0.005"} 1' in concurrent


def test_trusted_forwarder_override_is_recorded_in_authentication_results(
        write_config: Callable[..., Path], keys: Keys, test_dns: TestDnsServer) -> None:
    """A DMARC failure (p=reject) delivered because a trusted forwarder's ARC chain vouches for
    it: our Authentication-Results says so instead of contradicting the action."""
    from zegel.arc import seal as zegel_arc_seal
    from zegel.dkim.keys import load_private_key

    raw = message("ceo@spoof.example", subject="Forwarded by the list")
    fields = zegel_arc_seal(raw, domain="corp.example", selector="arc1",
                            private_key=load_private_key(Keys.pem(keys.sign_rsa)),
                            authserv_id="lists.corp.example",
                            auth_results="spf=pass smtp.mailfrom=spoof.example; dmarc=pass header.from=spoof.example",
                            cv="none")
    sealed = b"".join(fields) + raw
    policy = '[arc]\ntrusted_forwarders = ["corp.example"]\naction = "accept"\n'

    async def scenario(service: MilterService) -> EomResult:
        client = await client_for(service)
        result = await client.message(sealed, mail_from="ceo@spoof.example")
        await client.close()
        return result

    result = run(write_config(policy=policy), scenario)
    assert isinstance(result.final, p.Continue)
    (ours,) = [m.value.decode() for m in result.modifications
               if isinstance(m, p.InsertHeader) and m.name == b"Authentication-Results"]
    dmarc_clause = next(c for c in " ".join(ours.split()).split(";") if c.strip().startswith("dmarc="))
    assert dmarc_clause.strip().startswith("dmarc=fail")
    assert "policy.override=trusted_forwarder" in dmarc_clause
    assert "arc=pass" in ours


def test_log_lines_name_no_empty_dkim_domain_and_rejects_say_arc_sealed(
        write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(service: MilterService) -> None:
        client = await client_for(service)
        await client.message(message("ceo@spoof.example"), mail_from="ceo@spoof.example")
        await client.close()

    with caplog.at_level("INFO", logger="zegel.milter"):
        run(write_config(), scenario)
    (line,) = [r for r in caplog.records if r.getMessage() == "message"]
    fields = line.fields  # type: ignore[attr-defined]
    assert fields["action"] == "reject"
    assert fields["dkim"] == "none"
    assert fields["arc_sealed"] == "no"


def test_reload_applies_to_the_next_message_and_refuses_a_bad_file(
        write_config: Callable[..., Path], keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    """SIGHUP's reload, in one process: an open session is kept and its next message gets
    the new authserv-id and trusted networks; a file whose key is missing is refused with
    one log line and the running configuration stays."""
    path = write_config()
    original = path.read_text()

    async def scenario(service: MilterService) -> None:
        client = await client_for(service)
        first = await client.message(pass_message(keys), mail_from="alice@pass.example")
        renamed = original.replace(f'authserv_id = "{AUTHSERV_ID}"', 'authserv_id = "mx2.zegel.test"')
        path.write_text(renamed)
        assert service.reload()
        # Same milter connection, next message: the new authserv-id.
        second = await client.message(pass_message(keys), mail_from="alice@pass.example", connect=False)
        # Now the client's network is trusted: corp.example mail from it is signed, not verified.
        trusting = renamed.replace('trusted_networks = ["10.0.0.0/8"]', f'trusted_networks = ["{CLIENT_IP}/32"]')
        path.write_text(trusting)
        assert service.reload()
        signed = await client.message(message("ceo@corp.example"), mail_from="ceo@corp.example", connect=False)
        path.write_text(trusting.replace('key = "rsa1.pem"', 'key = "missing.pem"'))
        with caplog.at_level("ERROR", logger="zegel.milter"):
            assert not service.reload()
        third = await client.message(message("ceo@corp.example"), mail_from="ceo@corp.example", connect=False)
        await client.close()
        assert service.config.authserv_id == "mx2.zegel.test" and len(service.config.signing) == 2

        def ours(result: EomResult) -> str:
            return next(m.value.decode() for m in result.modifications
                        if isinstance(m, p.InsertHeader) and m.name == b"Authentication-Results").strip()

        def signatures(result: EomResult) -> list[bytes]:
            return [m.name for m in result.modifications if isinstance(m, p.InsertHeader)]

        assert ours(first).startswith(f"{AUTHSERV_ID};")
        assert ours(second).startswith("mx2.zegel.test;")
        assert signatures(signed) == signatures(third) == [b"DKIM-Signature", b"DKIM-Signature"]

    run(path, scenario)
    refused = [r for r in caplog.records if "reload refused" in r.getMessage()]
    assert len(refused) == 1 and "missing.pem" in refused[0].fields["error"]  # type: ignore[attr-defined]


def test_a_flood_behind_a_waiting_decision_is_held_then_handled_in_order(write_config: Callable[..., Path]) -> None:
    """Packets that arrive while a decision waits for DNS queue behind it, bounded: past about
    one packet's worth the session stops reading (the kernel buffers hold the rest), and
    after the reply every queued packet is handled in order (here: a flood, then QUIT)."""
    raw = message("a@slow.example")  # slow.example's DNS answers after 3 s
    flood = (struct.pack("!I", 1) + p.SMFIC_ABORT) * 1_500_000  # 7.5 MB of 5-byte packets

    async def scenario(service: MilterService) -> tuple[int, p.Response | None, p.Response | None]:
        client = await client_for(service)
        (session,) = service.server.sessions
        for command in (p.Connect("client.example", "4", 25000, "192.0.2.10"), p.Helo("mail.example.org"),
                        p.Mail("<a@slow.example>"), p.Rcpt("<user@example.net>")):
            client.writer.write(p.encode_command(command))
        head, _, body = raw.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            client.writer.write(p.encode_command(p.Header(name, value.strip())))
        client.writer.write(p.encode_command(p.EndOfHeaders()) + p.encode_command(p.EndOfMessage(body)))
        client.writer.write(flood + p.encode_command(p.Quit()))  # no drain: the milter may stop reading
        largest = 0
        for _ in range(40):  # 2 s of the 3 s the decision waits
            await asyncio.sleep(0.05)
            largest = max(largest, len(session._unhandled))
        replies = []
        while (reply := await client.read(wait=20)) is not None and not isinstance(reply, p.Continue | p.ReplyCode):
            replies.append(reply)
        after = await client.read(wait=20)  # the flood and QUIT handled: the milter closed
        return largest, reply, after

    largest, final, after = run(write_config(), scenario)
    assert 0 < largest <= p.DEFAULT_MAX_PACKET + 1024 * 1024
    assert isinstance(final, p.Continue)  # p=none: delivered with our results
    assert after is None


@pytest.mark.parametrize("packet", [
    p.SMFIC_HELO + b"one\0two\0",  # HELO: exactly one string
    p.SMFIC_HELO + b"",
    p.SMFIC_MAIL + b"<a@example.org>",  # not NUL-terminated
    p.SMFIC_RCPT + b"",
])
def test_malformed_envelope_packets_end_the_session(write_config: Callable[..., Path], packet: bytes) -> None:
    """The envelope fast path (MAIL, RCPT, HELO without a command object) refuses what the
    decoder refuses: one log line, the session ends, the service counts a protocol error."""
    async def scenario(service: MilterService) -> tuple[p.Response | None, int]:
        client = await client_for(service)
        await client.send_raw(struct.pack("!I", len(packet)) + packet)
        return await client.read(), service.metrics.protocol_errors

    closed, errors = run(write_config(), scenario)
    assert closed is None and errors == 1


def test_packets_cut_into_many_small_reads_are_reassembled(write_config: Callable[..., Path], keys: Keys) -> None:
    """A message whose packets arrive a kilobyte at a time (a body chunk over many reads, as
    Postfix's 4 KiB writes arrive over a unix socket) gets the answer it gets sent whole."""
    raw = pass_message(keys, body=b"A line of body text for the reassembly test.\r\n" * 3000)

    async def scenario(service: MilterService) -> tuple[EomResult, list[p.Response], p.Response | None]:
        whole_client = await client_for(service)
        whole = await whole_client.message(raw, mail_from="alice@pass.example")
        await whole_client.close()
        client = await client_for(service)
        head, _, body = raw.partition(b"\r\n\r\n")
        stream = b"".join(p.encode_command(c) for c in (
            p.Connect("client.example", "4", 25000, "192.0.2.10"), p.Helo("mail.example.org"),
            p.Mail("<alice@pass.example>"), p.Rcpt("<user@example.net>")))
        for line in head.replace(b"\r\n ", b"\n ").split(b"\r\n"):
            name, _, value = line.partition(b":")
            stream += p.encode_command(p.Header(name, value.lstrip(b" ")))
        stream += p.encode_command(p.EndOfHeaders()) + p.encode_command(p.Body(body + b"\r\n"))
        stream += p.encode_command(p.EndOfMessage(b""))
        for start in range(0, len(stream), 1000):
            client.writer.write(stream[start:start + 1000])
            await client.writer.drain()
            await asyncio.sleep(0.001)  # let the milter read each piece on its own
        replies = []
        while not isinstance(reply := await client.read(), p.Continue | p.ReplyCode | None):
            replies.append(reply)
        await client.close()
        return whole, replies, reply

    whole, cut_modifications, cut_final = run(write_config(), scenario)
    assert isinstance(whole.final, p.Continue) and isinstance(cut_final, p.Continue)
    results = [m for m in cut_modifications if isinstance(m, p.InsertHeader)]
    assert results == [m for m in whole.modifications if isinstance(m, p.InsertHeader)]
    assert b"dkim=pass" in results[0].value
