"""Generate the verify benchmark corpus: bench/corpus/messages.jsonl and bench/corpus/corpus.zone.

``.venv/bin/python bench/corpus/make_corpus.py`` — deterministic: a fixed random seed, a fixed
signing clock, and TEST keys (bench/corpus/keys/, made on the first run and shipped) whose
RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic. Signing uses dkimpy, so the corpus
is independent of zegel's signer.

The mix: direct genuine mail (RSA 1024/2048, Ed25519; relaxed and simple canonicalization),
mail through sending services (own d= or only the provider's d=), unsigned and spoofed mail,
forwarded mail (SPF fails, DKIM survives), mailing lists that add a footer (with and without
an ARC seal), double signatures, bounces (null MAIL FROM), multipart messages with
attachments; SPF records with ip4, include, a and mx; DMARC p=none/quarantine/reject, strict
alignment, sp= and none at all.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

import dkim

HERE = Path(__file__).resolve().parent
KEYS = HERE / "keys"
SEED = 20261123
COUNT = 1200
SIGNED_AT = 1793610000  # 2026-11-02 09:00 UTC
DATE = "Mon, 02 Nov 2026 10:00:00 +0100"
WORDS = ["bestelling", "factuur", "levering", "afspraak", "bevestiging", "nieuwsbrief", "rekening", "pakket", "klant", "order", "invoice", "delivery", "meeting", "update", "account", "shipment", "report", "agenda", "offerte", "korting", "actie", "week", "maand", "vandaag", "morgen", "graag", "vriendelijke", "groet", "team", "service"]


@dataclass
class Domain:
    name: str
    selector: str
    key: bytes  # dkimpy private key (PEM, or base64 Ed25519 seed)
    public: str
    key_type: str
    net: str  # the /24 its own servers send from
    spf: str
    dmarc: str | None


def _rsa(name: str, bits: int) -> tuple[bytes, str]:
    path = KEYS / f"{name}.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path.read_bytes(), base64.b64encode(der).decode()


def _ed25519(name: str) -> tuple[bytes, str]:
    path = KEYS / f"{name}.ed25519"
    if not path.exists():
        seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        path.write_text(base64.b64encode(seed).decode() + "\n")
    seed = base64.b64decode(path.read_text().strip())
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(seed), base64.b64encode(public).decode()


def _txt(value: str) -> str:
    return " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))


def make_domains() -> tuple[list[Domain], list[Domain], list[Domain]]:
    senders, services, lists = [], [], []
    for j in range(3):
        key, public = _rsa(f"esp{j}", 2048)
        services.append(Domain(f"esp{j}.example", "esp", key, public, "rsa", f"198.51.{100 + j}",
                               f"v=spf1 ip4:198.51.{100 + j}.0/24 -all", "v=DMARC1; p=none"))
    for j in range(2):
        key, public = _rsa(f"list{j}", 2048)
        lists.append(Domain(f"lists{j}.example", "arc", key, public, "rsa", f"203.0.{113 + j}",
                            f"v=spf1 ip4:203.0.{113 + j}.0/24 -all", "v=DMARC1; p=none"))
    for i in range(40):
        name = f"shop{i:02d}.example"
        if i % 8 == 7:
            key, public = _ed25519(name)
            key_type = "ed25519"
        else:
            key, public = _rsa(name, 1024 if i % 8 == 6 else 2048)
            key_type = "rsa"
        net = f"10.{i}.0"
        spf = [
            f"v=spf1 ip4:{net}.0/24 -all",
            f"v=spf1 ip4:{net}.0/24 include:_spf.esp{i % 3}.example ~all",
            "v=spf1 a mx -all",
            f"v=spf1 mx ip4:{net}.0/24 include:_spf.esp{i % 3}.example ?all",
        ][i % 4]
        dmarc = [
            "v=DMARC1; p=reject; rua=mailto:dmarc@{d}",
            "v=DMARC1; p=quarantine; sp=reject",
            "v=DMARC1; p=none; rua=mailto:dmarc@{d}",
            None,
            "v=DMARC1; p=reject; adkim=s; aspf=s",
        ][i % 5]
        senders.append(Domain(name, f"s{i % 3}", key, public, key_type, net, spf,
                              dmarc.format(d=name) if dmarc else None))
    return senders, services, lists


def zone(senders: list[Domain], services: list[Domain], lists: list[Domain]) -> str:
    lines = ["; Benchmark corpus DNS data (TEST keys; generated by bench/corpus/make_corpus.py).", "$TTL 86400"]
    for d in [*senders, *services, *lists]:
        lines.append(f"{d.name}. IN TXT \"{d.spf}\"")
        lines.append(f"{d.name}. IN MX 10 mail.{d.name}.")
        lines.append(f"mail.{d.name}. IN A {d.net}.25")
        lines.append(f"{d.name}. IN A {d.net}.80")
        k = "ed25519" if d.key_type == "ed25519" else "rsa"
        lines.append(f"{d.selector}._domainkey.{d.name}. IN TXT {_txt(f'v=DKIM1; k={k}; p={d.public}')}")
        if d.dmarc:
            lines.append(f"_dmarc.{d.name}. IN TXT \"{d.dmarc}\"")
    for d in services:
        lines.append(f"_spf.{d.name}. IN TXT \"v=spf1 ip4:{d.net}.0/24 -all\"")
    return "\n".join(lines) + "\n"


def body(rng: random.Random) -> str:
    paragraphs = []
    for _ in range(rng.choice((1, 2, 3, 5, 8, 12, 30))):
        paragraphs.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60))))
    return "\n\n".join(paragraphs) + "\n"


def message(rng: random.Random, n: int, from_domain: str, subject_prefix: str = "") -> bytes:
    local = rng.choice(("info", "noreply", "factuur", "service", "jan.de.vries", "support"))
    head = (f"From: {local.title()} <{local}@{from_domain}>\nTo: klant{n}@ontvanger.example\n"
            f"Subject: {subject_prefix}{rng.choice(WORDS).title()} {n}\nDate: {DATE}\n"
            f"Message-ID: <m{n}.{rng.randrange(10**9)}@{from_domain}>\nMIME-Version: 1.0\n")
    if rng.random() < 0.06:
        boundary = f"b{n}x"
        attachment = base64.encodebytes(rng.randbytes(rng.choice((3_000, 10_000, 30_000)))).decode()
        text = (head + f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n--{boundary}\n"
                "Content-Type: text/plain; charset=utf-8\n\n" + body(rng) + f"--{boundary}\n"
                "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n" + attachment
                + f"--{boundary}--\n")
    else:
        text = head + "Content-Type: text/plain; charset=utf-8\n\n" + body(rng)
    return text.replace("\n", "\r\n").encode()


def sign(msg: bytes, d: Domain, rng: random.Random) -> bytes:
    algorithm = b"ed25519-sha256" if d.key_type == "ed25519" else b"rsa-sha256"
    canon = rng.choice(((b"relaxed", b"relaxed"), (b"relaxed", b"simple"), (b"simple", b"simple")))
    with mock.patch("time.time", return_value=SIGNED_AT):
        return dkim.sign(msg, d.selector.encode(), d.name.encode(), d.key, signature_algorithm=algorithm,
                         canonicalize=canon, include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + msg


def through_list(msg: bytes, lst: Domain) -> bytes:
    head, _, rest = msg.partition(b"\r\n\r\n")
    head = head.replace(b"Subject: ", b"Subject: [leden] ", 1)
    return head + f"\r\nList-Id: <leden.{lst.name}>".encode() + b"\r\n\r\n" + rest + \
        f"--\r\nleden mailing list: https://{lst.name}/leden\r\n".encode()


def build(rng: random.Random, n: int, senders: list[Domain], services: list[Domain], lists: list[Domain]) -> dict[str, str]:
    d = rng.choice(senders)
    esp = services[int(d.name[4:6]) % 3]
    host = rng.randrange(2, 250)
    kind = rng.choices(
        ("genuine", "esp_own", "esp_only", "unsigned", "spoofed", "forwarded", "list_footer", "list_arc",
         "double", "bounce"),
        weights=(40, 10, 8, 8, 10, 8, 6, 6, 3, 1))[0]
    ip, helo, mail_from = f"{d.net}.25", f"mail.{d.name}", f"bounce@{d.name}"
    msg = message(rng, n, d.name)
    if kind == "genuine":
        msg = sign(msg, d, rng)
        if d.spf.startswith("v=spf1 ip4") or "ip4" in d.spf:
            ip = f"{d.net}.{host}"
    elif kind == "esp_own":
        msg = sign(msg, d, rng)
        ip, helo, mail_from = f"{esp.net}.{host}", f"out.{esp.name}", f"b{n}@{esp.name}"
    elif kind == "esp_only":
        msg = sign(msg, esp, rng)
        ip, helo, mail_from = f"{esp.net}.{host}", f"out.{esp.name}", f"b{n}@{esp.name}"
    elif kind == "spoofed":
        ip, helo = f"192.0.2.{host}", "mail.example.com"
        if rng.random() < 0.3:  # a forged signature with the right selector
            msg = sign(msg, services[0], rng).replace(b"d=esp0.example", f"d={d.name}".encode(), 1)
    elif kind == "forwarded":
        msg = sign(msg, d, rng)
        ip, helo = f"203.0.200.{host}", "mx.fwd.example"
    elif kind in ("list_footer", "list_arc"):
        lst = lists[n % 2]
        signed = sign(msg, d, rng)
        msg = through_list(signed, lst)
        ip, helo, mail_from = f"{lst.net}.{host}", f"mail.{lst.name}", f"leden-bounces@{lst.name}"
        if kind == "list_arc":
            ar = (f"Authentication-Results: {lst.name}; spf=pass smtp.mailfrom={d.name}; "
                  f"dkim=pass header.d={d.name}; dmarc=pass header.from={d.name}\r\n").encode()
            msg = ar + msg
            with mock.patch("time.time", return_value=SIGNED_AT):
                seal = dkim.arc_sign(msg, lst.selector.encode(), lst.name.encode(), lst.key, lst.name.encode(),
                                     timestamp=SIGNED_AT)
            msg = b"".join(seal) + msg
    elif kind == "double":
        msg = sign(sign(msg, esp, rng), d, rng)
    elif kind == "bounce":
        msg = sign(msg, d, rng)
        mail_from = ""
    return {"kind": kind, "ip": ip, "helo": helo, "mail_from": mail_from,
            "message": base64.b64encode(msg).decode()}


def main() -> int:
    KEYS.mkdir(exist_ok=True)
    rng = random.Random(SEED)
    senders, services, lists = make_domains()
    (HERE / "corpus.zone").write_text(zone(senders, services, lists))
    with (HERE / "messages.jsonl").open("w") as out:
        for n in range(COUNT):
            out.write(json.dumps(build(rng, n, senders, services, lists), sort_keys=True) + "\n")
    print(f"wrote {COUNT} messages to {HERE / 'messages.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
