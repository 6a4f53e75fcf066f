"""``zegel dkim``: verify and sign messages, generate keys, check published key records."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import click

from zegel.cli.common import dns_options, make_resolver, print_json, read_input, usage_error
from zegel.dkim import DkimVerifier, SigningError, sign
from zegel.dkim.keys import (
    MIN_RSA_BITS,
    KeyFormatError,
    KeyRecordError,
    PrivateKey,
    domain_name,
    generate_private_key,
    load_private_key,
    parse_key_record,
    private_key_pem,
    public_key_record,
    zone_file_line,
)
from zegel.dkim.result import DkimResult
from zegel.dns import Resolver

RESULT_COLOURS = {"pass": "green", "fail": "red", "permerror": "red", "temperror": "yellow", "policy": "yellow"}


@click.group(name="dkim", context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """DKIM (RFC 6376, RFC 8301, RFC 8463 Ed25519): verify and sign messages, generate keys,
    check a published key record.

    \b
    Examples:
      zegel dkim verify message.eml
      zegel dkim verify --zone draft.zone --json - < message.eml
      zegel dkim sign --domain example.com --selector s2026 --key s2026.pem message.eml
      zegel dkim keygen --domain example.com --selector s2026 --type ed25519
      zegel dkim record s2026._domainkey.example.com
    """


# -- verify --------------------------------------------------------------------------------

@command.command("verify", short_help="Verify every DKIM signature of a message.")
@click.argument("file", default="-", metavar="[FILE|-]")
@dns_options
@click.option("--json", "as_json", is_flag=True, help="Print {\"signatures\": [...]} as JSON.")
@click.option("--max-signatures", type=click.IntRange(min=1), default=10, show_default=True,
              help="Signatures evaluated per message; further ones are reported once as neutral.")
@click.option("--ignore-expiry", is_flag=True,
              help="Do not apply x= (expiry) and t= (future date): for archived messages.")
@click.option("--now", "now", type=int, metavar="UNIX_TIME", help="Evaluate x= and t= at this time.")
@click.option("--fail-partial-body", is_flag=True,
              help="Report signatures whose l= leaves part of the body unsigned as 'policy', not 'pass'.")
def verify_command(
    file: str,
    zones: tuple[str, ...],
    nameservers: tuple[str, ...],
    offline: bool,
    timeout: float,
    as_json: bool,
    max_signatures: int,
    ignore_expiry: bool,
    now: int | None,
    fail_partial_body: bool,
) -> None:
    """Verify every DKIM-Signature of a message (FILE, or - for standard input).

    One line per signature: result, d=, s=, a=, the first 8 characters of b=, and the reason.
    Exit status: 0 when at least one signature passes, 1 otherwise, 2 on usage errors.
    """
    message = read_input(file)
    resolver = make_resolver(zones, nameservers, offline, timeout)
    verifier = DkimVerifier(
        resolver,
        max_signatures=max_signatures,
        check_times=not ignore_expiry,
        now=now,
        fail_partial_body=fail_partial_body,
    )
    results = asyncio.run(verifier.verify(message))
    if as_json:
        print_json({"signatures": [r.to_dict() for r in results]})
    else:
        for result in results:
            _print_result(result)
    sys.exit(0 if any(r.result == "pass" for r in results) else 1)


def _print_result(result: DkimResult) -> None:
    label = click.style(f"{result.result:<9}", fg=RESULT_COLOURS.get(result.result), bold=True)
    if not result.domain and not result.selector:
        click.echo(f"{label} {result.reason}")
        return
    details = f"d={result.domain} s={result.selector}"
    if result.algorithm:
        details += f" a={result.algorithm}"
    if result.header_b:
        details += f" b={result.header_b}"
    click.echo(f"{label} {details}  {result.reason}")


# -- sign ----------------------------------------------------------------------------------

def _canonicalization(value: str) -> tuple[str, str]:
    header, _, body = value.lower().partition("/")
    body = body or "simple"
    if header not in ("simple", "relaxed") or body not in ("simple", "relaxed"):
        usage_error(f"--canonicalization must be HEADER/BODY with simple or relaxed, not {value!r}")
    return header, body


@command.command("sign", short_help="Sign a message; the signed message goes to stdout.")
@click.argument("file", default="-", metavar="[FILE|-]")
@click.option("--domain", "-d", required=True, help="Signing domain (d=).")
@click.option("--selector", "-s", required=True, help="Selector (s=): the key is published at SELECTOR._domainkey.DOMAIN.")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="Private key, PEM (RSA or Ed25519; the algorithm follows the key).")
@click.option("--canonicalization", "-c", default="relaxed/relaxed", show_default=True, metavar="HEADER/BODY",
              help="simple or relaxed, for header and body.")
@click.option("--headers", metavar="NAME,NAME,...",
              help="Header fields to sign (default: the RFC 6376 section 5.4.1 list, those present).")
@click.option("--expire-in", type=click.IntRange(min=1), metavar="SECONDS", help="Add x= this many seconds ahead.")
@click.option("--identity", "-i", help="Agent or user identifier (i=), within --domain.")
def sign_command(
    file: str,
    domain: str,
    selector: str,
    key_path: str,
    canonicalization: str,
    headers: str | None,
    expire_in: int | None,
    identity: str | None,
) -> None:
    """Sign a message (FILE, or - for standard input); the signed message goes to standard output."""
    canon = _canonicalization(canonicalization)
    try:
        key = load_private_key(Path(key_path).read_bytes())
    except OSError as exc:
        usage_error(f"cannot read key {key_path}: {exc.strerror or exc}")
    except KeyFormatError as exc:
        usage_error(f"{key_path}: {exc}")
    message = read_input(file)
    names = [h.strip() for h in headers.split(",") if h.strip()] if headers else None
    try:
        field = sign(
            message, domain=domain, selector=selector, private_key=key, headers=names,
            canonicalization=canon, expire_in=expire_in, identity=identity,
        )
    except SigningError as exc:
        usage_error(f"cannot sign: {exc}")
    if b"\r\n" not in message and b"\n" in message:
        field = field.replace(b"\r\n", b"\n")  # keep a Unix file's line endings
    out = sys.stdout.buffer
    out.write(field + message)
    out.flush()


# -- keygen --------------------------------------------------------------------------------

@command.command("keygen", short_help="Generate a key and print its DNS record.")
@click.option("--domain", "-d", required=True, help="Signing domain the key is for.")
@click.option("--selector", "-s", required=True, help="Selector, e.g. s2026 or a date: a new one for every new key.")
@click.option("--type", "key_type", type=click.Choice(["rsa", "ed25519"]), default="rsa", show_default=True,
              help="rsa is verified everywhere; ed25519 (RFC 8463) is small but not verified by all receivers: "
                   "sign with both.")
@click.option("--bits", type=click.IntRange(min=MIN_RSA_BITS, max=8192), default=2048, show_default=True,
              help="RSA key size.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Directory for the private key file.")
@click.option("--testing", is_flag=True, help="Publish with t=y (testing mode).")
@click.option("--json", "as_json", is_flag=True, help="Print the paths and records as JSON.")
def keygen_command(
    domain: str, selector: str, key_type: str, bits: int, out_dir: str, testing: bool, as_json: bool
) -> None:
    """Generate a signing key: writes the private key (PEM, mode 0600) and prints the DNS record,
    as a zone-file line (split into 255-octet strings) and as one string for a web DNS panel."""
    try:
        domain = domain_name(domain.rstrip("."))
        selector = domain_name(selector)
    except ValueError as exc:
        usage_error(f"bad domain or selector: {exc}")
    name = f"{selector}._domainkey.{domain}"
    key: PrivateKey = generate_private_key(key_type, bits)
    pem = private_key_pem(key)
    path = Path(out_dir) / f"{selector}.{domain}.pem"
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        usage_error(f"{path} exists; choose a new selector for a new key (see docs/dkim.md, key rotation)")
    except OSError as exc:
        usage_error(f"cannot write {path}: {exc.strerror or exc}")
    with os.fdopen(handle, "wb") as stream:
        stream.write(pem)
    os.chmod(path, 0o600)  # also when the umask was stricter or O_CREAT ignored the mode
    record = public_key_record(key, testing=testing)
    zone_line = zone_file_line(selector, domain, record)
    if as_json:
        print_json({"private_key": str(path), "name": name, "record": record, "zone_line": zone_line})
        return
    click.echo(f"Private key written to {path} (mode 0600). Keep it secret; back it up.")
    click.echo("\nZone file line:")
    click.echo(zone_line)
    click.echo(f"\nFor a web DNS panel: type TXT, name {name} (or {selector}._domainkey), value:")
    click.echo(record)
    click.echo(f"\nCheck it once published: zegel dkim record {name}")


# -- record --------------------------------------------------------------------------------

@command.command("record", short_help="Check a published key record.")
@click.argument("name", metavar="SELECTOR._domainkey.DOMAIN")
@dns_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def record_command(
    name: str, zones: tuple[str, ...], nameservers: tuple[str, ...], offline: bool, timeout: float, as_json: bool
) -> None:
    """Check a published DKIM key record: syntax, key type and size, testing flag, that the key
    parses. Exit status 0 when a usable key is published, 1 otherwise."""
    name = name.rstrip(".")
    if "._domainkey." not in name.lower():
        usage_error(f"expected SELECTOR._domainkey.DOMAIN, got {name!r}")
    resolver = make_resolver(zones, nameservers, offline, timeout)
    report = asyncio.run(_check_record(name, resolver))
    if as_json:
        print_json(report)
    else:
        click.echo(f"{name}: {report['status']}")
        if report.get("reason"):
            click.echo(f"  {report['reason']}")
        for item in report["records"]:
            click.echo(f"  record: {item['text'][:100]}{'...' if len(item['text']) > 100 else ''}")
            for line in item["findings"]:
                click.echo(f"    - {line}")
    sys.exit(0 if report["status"] == "ok" else 1)


async def _check_record(name: str, resolver: Resolver) -> dict[str, Any]:
    answer = await resolver.txt(name)
    if answer.is_tempfail:
        return {"name": name, "status": "temperror", "reason": answer.reason, "records": []}
    if not answer.ok or not answer.records:
        return {"name": name, "status": "missing", "reason": f"no TXT record at {name} ({answer.status.value})",
                "records": []}
    records = []
    usable = False
    for text in answer.records:
        findings: list[str] = []
        item: dict[str, Any] = {"text": text, "valid": False, "findings": findings}
        try:
            key = parse_key_record(text)
        except KeyRecordError as exc:
            item["error"] = str(exc)
            findings.append(f"error: {exc}")
            records.append(item)
            continue
        item.update(valid=True, key_type=key.key_type, key_bits=key.key_bits, testing=key.testing,
                    revoked=key.revoked, flags=list(key.flags))
        ok = True
        if key.revoked:
            findings.append("revoked: p= is empty (signatures with this selector fail)")
            ok = False
        elif key.key_type == "rsa":
            if key.key_bits < MIN_RSA_BITS:
                findings.append(f"error: RSA key of {key.key_bits} bits; verifiers refuse keys under 1024 (RFC 8301)")
                ok = False
            elif key.key_bits < 2048:
                findings.append(f"warning: RSA key of {key.key_bits} bits; use 2048 (RFC 8301 recommends it)")
            else:
                findings.append(f"ok: RSA key, {key.key_bits} bits")
        else:
            findings.append("ok: Ed25519 key (RFC 8463); not every receiver verifies it: also sign with RSA")
        if key.version is None:
            findings.append("note: no v=DKIM1 (optional, but recommended as the first tag)")
        if key.testing:
            findings.append("note: t=y testing mode: receivers treat signed mail like unsigned mail")
        if key.strict:
            findings.append("note: t=s: i= must use exactly the d= domain")
        if not key.allows_email:
            findings.append(f"error: s={':'.join(key.service_types)} does not include email")
            ok = False
        if not key.allows_hash("sha256"):
            findings.append("error: h= does not allow sha256; rsa-sha1 is no longer accepted (RFC 8301)")
            ok = False
        split = [len(s) for strings in answer.txt_strings for s in strings]
        if any(size > 255 for size in split):
            findings.append("error: a TXT character-string longer than 255 octets")
        usable = usable or ok
        records.append(item)
    if len(answer.records) > 1:
        note = f"{len(answer.records)} TXT records at this name: verifiers may pick any one; publish one"
        records[0]["findings"].append(f"warning: {note}")
    return {"name": name, "status": "ok" if usable else "unusable", "records": records}
