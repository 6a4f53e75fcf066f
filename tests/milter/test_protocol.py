"""The milter codec against the byte layouts of libmilter protocol version 6."""

from __future__ import annotations

import asyncio
import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zegel.milter import protocol as p


def frame(code: bytes, data: bytes = b"") -> bytes:
    return struct.pack("!I", len(data) + 1) + code + data


def read_all(data: bytes, max_size: int = p.DEFAULT_MAX_PACKET) -> list[tuple[bytes, bytes] | None]:
    async def go() -> list[tuple[bytes, bytes] | None]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        out: list[tuple[bytes, bytes] | None] = []
        while True:
            packet = await p.read_packet(reader, max_size=max_size)
            out.append(packet)
            if packet is None:
                return out

    return asyncio.run(go())


def test_flag_values_match_mfdef() -> None:
    assert int(p.SMFIF_ADDHDRS) == 0x01 and int(p.SMFIF_CHGHDRS) == 0x10
    assert int(p.SMFIF_QUARANTINE) == 0x20 and int(p.SMFIF_SETSYMLIST) == 0x100
    assert int(p.SMFIP_NOCONNECT) == 0x01 and int(p.SMFIP_NOEOH) == 0x40
    assert int(p.SMFIP_NR_HDR) == 0x80 and int(p.SMFIP_SKIP) == 0x400
    assert int(p.SMFIP_NR_CONN) == 0x1000 and int(p.SMFIP_NR_BODY) == 0x80000
    assert int(p.SMFIP_HDR_LEADSPC) == 0x100000
    assert [int(s) for s in p.MacroStage] == [0, 1, 2, 3, 4, 5, 6]
    assert (p.SMFIC_OPTNEG, p.SMFIC_CONNECT, p.SMFIC_BODYEOB, p.SMFIC_QUIT_NC) == (b"O", b"C", b"E", b"K")
    assert (p.SMFIR_INSHEADER, p.SMFIR_CHGHEADER, p.SMFIR_REPLYCODE, p.SMFIR_QUARANTINE) == (b"i", b"m", b"y", b"q")


def test_packet_framing_counts_the_code_byte() -> None:
    assert p.encode_packet(b"c") == b"\x00\x00\x00\x01c"
    assert p.encode_packet(b"H", b"mx\0") == b"\x00\x00\x00\x04Hmx\0"
    assert read_all(frame(b"H", b"a\0") + frame(b"N")) == [(b"H", b"a\0"), (b"N", b""), None]


def test_optneg_from_the_mta() -> None:
    data = struct.pack("!III", 6, 0x1FF, 0x1FFFFF)
    command = p.decode_command(b"O", data)
    assert command == p.OptNeg(6, p.ActionFlag(0x1FF), p.ProtocolFlag(0x1FFFFF), {})
    assert p.encode_command(command) == frame(b"O", data)


def test_optneg_reply_with_macro_lists() -> None:
    reply = p.OptNeg(6, p.ActionFlag.ADDHDRS | p.ActionFlag.CHGHDRS, p.ProtocolFlag.NR_HDR,
                     {p.MacroStage.ENVFROM: ("i", "{auth_authen}"), p.MacroStage.CONNECT: ("j",)})
    wire = p.encode_response(reply)
    expected = (struct.pack("!III", 6, 0x11, 0x80) + struct.pack("!I", 0) + b"j\0"
                + struct.pack("!I", 2) + b"i {auth_authen}\0")
    assert wire == frame(b"O", expected)
    assert p.decode_response(b"O", expected) == reply


def test_connect_layouts() -> None:
    inet = b"mail.example.org\0" + b"4" + struct.pack("!H", 25) + b"192.0.2.1\0"
    assert p.decode_command(b"C", inet) == p.Connect("mail.example.org", "4", 25, "192.0.2.1")
    assert p.encode_command(p.Connect("mail.example.org", "4", 25, "192.0.2.1")) == frame(b"C", inet)
    # Sendmail prefixes IPv6 addresses with "IPv6:".
    inet6 = b"h\0" + b"6" + struct.pack("!H", 587) + b"IPv6:2001:db8::1\0"
    assert p.decode_command(b"C", inet6) == p.Connect("h", "6", 587, "2001:db8::1")
    assert p.decode_command(b"C", b"localhost\0U") == p.Connect("localhost", "U", None, "")
    unix = b"localhost\0L" + struct.pack("!H", 0) + b"/run/x\0"
    assert p.decode_command(b"C", unix).family == "L"


def test_envelope_header_body_and_macros() -> None:
    assert p.decode_command(b"H", b"client.example\0") == p.Helo("client.example")
    assert p.decode_command(b"M", b"<a@example.org>\0SIZE=10\0BODY=8BITMIME\0") == p.Mail(
        "<a@example.org>", ("SIZE=10", "BODY=8BITMIME"))
    assert p.decode_command(b"R", b"<b@example.net>\0") == p.Rcpt("<b@example.net>")
    assert p.decode_command(b"L", b"Subject\0 hello\0") == p.Header(b"Subject", b" hello")
    assert p.decode_command(b"L", b"X-Empty\0\0") == p.Header(b"X-Empty", b"")
    assert p.decode_command(b"B", b"line\r\n") == p.Body(b"line\r\n")
    assert p.decode_command(b"E", b"") == p.EndOfMessage(b"")
    assert p.decode_command(b"D", b"Mi\0ABC123\0{auth_authen}\0alice\0") == p.Macros(
        b"M", {"i": "ABC123", "{auth_authen}": "alice"})
    assert p.decode_command(b"D", b"C") == p.Macros(b"C", {})
    for code, kind in ((b"A", p.Abort), (b"Q", p.Quit), (b"K", p.QuitNewConnection), (b"N", p.EndOfHeaders),
                       (b"T", p.Data)):
        assert isinstance(p.decode_command(code, b""), kind)
    assert p.decode_command(b"U", b"XYZZY\0") == p.Unknown("XYZZY")


@pytest.mark.parametrize("code,data,message", [
    (b"O", b"\0\0\0\6", "need 12"),
    (b"C", b"no-nul", "not NUL-terminated"),
    (b"C", b"host\0", "missing address family"),
    (b"C", b"host\0X\0\0a\0", "unknown address family"),
    (b"C", b"host\x004\0", "truncated port"),
    (b"H", b"unterminated", "not NUL-terminated"),
    (b"L", b"Subject\0", "a name and a value"),
    (b"L", b"\0value\0", "a name and a value"),
    (b"D", b"", "missing command code"),
    (b"D", b"Mi\0", "a name without a value"),
    (b"M", b"", "missing address"),
    (b"Z", b"", "unknown command"),
    (b"O", struct.pack("!IIII", 6, 0, 0, 9) + b"x\0", "unknown stage"),
])
def test_malformed_commands_raise_protocol_error(code: bytes, data: bytes, message: str) -> None:
    with pytest.raises(p.ProtocolError, match=message):
        p.decode_command(code, data)


def test_read_packet_limits() -> None:
    with pytest.raises(p.PacketTooLarge):
        read_all(struct.pack("!I", 2_000_000) + b"B", max_size=1_000_000)
    with pytest.raises(p.ProtocolError, match="length 0"):
        read_all(struct.pack("!I", 0))
    with pytest.raises(p.ProtocolError, match="inside a packet"):
        read_all(struct.pack("!I", 10) + b"Bshort")
    with pytest.raises(p.ProtocolError, match="inside a packet length"):
        read_all(b"\0\0")
    assert read_all(b"") == [None]


def split_all(data: bytes, step: int, max_size: int = p.DEFAULT_MAX_PACKET) -> list[tuple[bytes, bytes]]:
    """PacketSplitter fed ``step`` bytes at a time, then the end of the stream."""
    splitter = p.PacketSplitter(max_size=max_size)
    out: list[tuple[bytes, bytes]] = []
    for start in range(0, len(data), step):
        out.extend(splitter.feed(data[start:start + step]))
        if splitter.error is not None:
            raise splitter.error
    splitter.finish()
    return out


@pytest.mark.parametrize("step", [1, 3, 7, 4096])
def test_packet_splitter_gives_what_read_packet_gives(step: int) -> None:
    stream = (frame(b"O", b"\0\0\0\x06" * 3) + frame(b"D", b"Cj\0mx\0") + frame(b"L", b"From\0 a@b\0")
              + frame(b"N") + frame(b"B", b"x" * 70_000) + frame(b"E"))
    assert split_all(stream, step) == read_all(stream)[:-1]


def test_packet_splitter_limits() -> None:
    with pytest.raises(p.PacketTooLarge):
        split_all(struct.pack("!I", 2_000_000) + b"B", 4096, max_size=1_000_000)
    with pytest.raises(p.ProtocolError, match="length 0"):
        split_all(struct.pack("!I", 0), 4096)
    with pytest.raises(p.ProtocolError, match="inside a packet"):
        split_all(struct.pack("!I", 10) + b"Bshort", 4096)
    with pytest.raises(p.ProtocolError, match="inside a packet length"):
        split_all(b"\0\0", 4096)
    assert split_all(b"", 4096) == []
    # The packets before a bad one are handed out first; the error follows.
    splitter = p.PacketSplitter(max_size=100)
    assert splitter.feed(frame(b"N") + struct.pack("!I", 1000) + b"B") == [(b"N", b"")]
    assert isinstance(splitter.error, p.PacketTooLarge)
    with pytest.raises(p.PacketTooLarge):
        splitter.feed(b"more")


def test_response_layouts() -> None:
    assert p.encode_response(p.Continue()) == frame(b"c")
    assert p.encode_response(p.Accept()) == frame(b"a")
    assert p.encode_response(p.Tempfail()) == frame(b"t")
    assert p.encode_response(p.Skip()) == frame(b"s")
    assert p.encode_response(p.AddHeader(b"X-Test", b" yes")) == frame(b"h", b"X-Test\0 yes\0")
    assert p.encode_response(p.InsertHeader(0, b"Authentication-Results", b" mx; none")) == frame(
        b"i", b"\0\0\0\0Authentication-Results\0 mx; none\0")
    # CHGHEADER with an empty value deletes the index-th field of that name.
    assert p.encode_response(p.ChangeHeader(2, b"Authentication-Results", b"")) == frame(
        b"m", b"\0\0\0\2Authentication-Results\0\0")
    assert p.encode_response(p.Quarantine("dmarc")) == frame(b"q", b"dmarc\0")
    # libmilter reads % as a format character: it is doubled on the wire.
    wire = p.encode_response(p.ReplyCode(550, "5.7.1 100% spoofed"))
    assert wire == frame(b"y", b"550 5.7.1 100%% spoofed\0")
    assert p.decode_response(b"y", b"550 5.7.1 100%% spoofed\0") == p.ReplyCode(550, "5.7.1 100% spoofed")


def test_responses_round_trip() -> None:
    for response in (p.Continue(), p.Accept(), p.Reject(), p.Discard(), p.Progress(),
                     p.AddHeader(b"A", b"b"), p.InsertHeader(3, b"A", b"b"), p.ChangeHeader(1, b"Subject", b"x"),
                     p.Quarantine("why"), p.ReplyCode(451, "4.4.3 later")):
        wire = p.encode_response(response)
        (length,) = struct.unpack("!I", wire[:4])
        assert length == len(wire) - 4
        assert p.decode_response(wire[4:5], wire[5:]) == response


def test_bad_responses_are_refused_before_the_wire() -> None:
    with pytest.raises(ValueError):
        p.encode_response(p.AddHeader(b"Bad Name", b"x"))
    with pytest.raises(ValueError):
        p.encode_response(p.AddHeader(b"X", b"nul\0inside"))
    with pytest.raises(ValueError):
        p.encode_response(p.ReplyCode(250, "2.0.0 ok"))
    with pytest.raises(p.ProtocolError):
        p.decode_response(b"y", b"hello\0")


@settings(max_examples=400, deadline=None)
@given(code=st.sampled_from([bytes([c]) for c in b"ABCDEHKLMNOQRTUZ"]), data=st.binary(max_size=64))
def test_any_command_bytes_decode_or_raise_protocol_error(code: bytes, data: bytes) -> None:
    try:
        command = p.decode_command(code, data)
    except p.ProtocolError:
        return
    # Whatever decodes re-encodes to a packet the decoder reads back the same way.
    wire = p.encode_command(command)
    assert p.decode_command(wire[4:5], wire[5:]) == command


@settings(max_examples=300, deadline=None)
@given(code=st.sampled_from([bytes([c]) for c in b"acdhimpqrsty+-O"]), data=st.binary(max_size=64))
def test_any_response_bytes_decode_or_raise_protocol_error(code: bytes, data: bytes) -> None:
    with contextlib.suppress(p.ProtocolError):
        p.decode_response(code, data)


def test_macro_packets_merged_at_end_of_message_as_decoded_one_by_one() -> None:
    # The session keeps macro packets raw and decodes them all at once at end of message:
    # later packets win, and bytes that are not UTF-8 are replaced exactly as a per-string
    # decode would replace them (a NUL ends any partial sequence).
    from zegel.milter.server import _decode_macros, _merged_macros

    packets = [
        b"Cj\0mx.example\0{client_addr}\x00192.0.2.1\0",
        b"H",
        b"Mi\0QUEUE1\0{auth_authen}\0bob\xc3\0",
        b"Li\0QUEUE1\0\xff\xfe\0\xe2\x82\0",
        b"Ei\0QUEUE2\0",
    ]
    one_by_one: dict[str, str] = {}
    for packet in packets:
        one_by_one.update(_decode_macros(packet))
    merged = _merged_macros(packets)
    assert merged == one_by_one
    assert list(merged.items()) == list(one_by_one.items())
    assert merged["i"] == "QUEUE2" and merged["{auth_authen}"] == "bob\ufffd"
    assert _merged_macros([]) == {} and _merged_macros([b"H"]) == {}
