"""Messages and peers shared by the milter tests and the Postfix integration test."""

from __future__ import annotations

import email.utils
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import dkim as dkimpy


def message(from_addr: str, *, subject: str = "Hello", to: str = "user@example.test",
            extra_headers: str = "", body: str = "Hello,\r\n\r\nthis is a test.\r\n") -> bytes:
    text = (f"From: Sender <{from_addr}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {email.utils.formatdate()}\r\nMessage-ID: {email.utils.make_msgid(domain='zegel.test')}\r\n"
            f"{extra_headers}\r\n{body}")
    return text.encode("utf-8")


def sign_with_dkimpy(raw: bytes, *, domain: str, selector: str, key: rsa.RSAPrivateKey) -> bytes:
    """The message with a DKIM-Signature from dkimpy (the independent peer) prepended."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    signature = dkimpy.sign(raw, selector.encode(), domain.encode(), pem,
                            include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return bytes(signature) + raw


def dnsfunc_for(server_address: str) -> Any:
    """A dkimpy ``dnsfunc`` that asks the loopback test DNS server over UDP (the real network path)."""
    host, _, port = server_address.rpartition(":")

    def lookup(name: bytes | str, timeout: int = 5) -> bytes:
        qname = name.decode() if isinstance(name, bytes) else name
        query = dns.message.make_query(qname, dns.rdatatype.TXT)
        response = dns.query.udp(query, host, port=int(port), timeout=timeout)
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(b"".join(r.strings) for r in rrset)
        return b""

    return lookup


def dkimpy_verify_all(raw: bytes, server_address: str) -> list[bool]:
    """dkimpy's verdict on each DKIM-Signature of ``raw`` (index 0 is the topmost)."""
    verifier = dkimpy.DKIM(raw)
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    return [bool(verifier.verify(idx=i, dnsfunc=dnsfunc_for(server_address))) for i in range(count)]


def header_values(raw: bytes, name: str) -> list[str]:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    values: list[str] = []
    current: list[str] | None = None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and current is not None:
            current.append(line)
            continue
        if current is not None:
            values.append("\n".join(current))
            current = None
        field_name, _, value = line.partition(":")
        if field_name.strip().lower() == name.lower():
            current = [value.strip()]
    if current is not None:
        values.append("\n".join(current))
    return values
