"""``zegel milter --import-opendkim``: real OpenDKIM configuration files in, zegel TOML out,
and the TOML passes ``--check-config`` with the same keys."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from zegel.cli import cli
from zegel.milter.config import config_from_toml


@dataclass(frozen=True)
class Imported:
    output: str  # the TOML as printed
    data: dict[str, Any]  # that TOML, parsed
    skipped: list[str]  # its "# not imported:" lines, without that prefix


def _import(conf: Path) -> Imported:
    """``zegel milter --import-opendkim CONF``, which must succeed."""
    result = CliRunner().invoke(cli, ["milter", "--import-opendkim", str(conf)])
    assert result.exit_code == 0, result.output
    skipped = [line.removeprefix("# not imported: ") for line in result.output.splitlines()
               if line.startswith("# not imported: ")]
    return Imported(result.output, tomllib.loads(result.output), skipped)


def _key(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # OpenDKIM's opendkim-genkey writes the traditional "BEGIN RSA PRIVATE KEY" form.
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))


def _debian_layout(root: Path) -> Path:
    """The layout Debian's and most tutorials' OpenDKIM setups use: refile tables, one TrustedHosts."""
    keys = root / "keys"
    for domain in ("example.nl", "shop.example.nl"):
        (keys / domain).mkdir(parents=True)
        _key(keys / domain / "mail2026.private")
    (root / "key.table").write_text(
        "# name  domain:selector:keyfile\n"
        f"mail2026._domainkey.example.nl example.nl:mail2026:{keys}/example.nl/mail2026.private\n"
        f"mail2026._domainkey.shop.example.nl shop.example.nl:mail2026:{keys}/shop.example.nl/mail2026.private\n"
        f"other example.org:sel:{keys}/example.nl/mail2026.private\n")
    (root / "signing.table").write_text(
        "*@example.nl mail2026._domainkey.example.nl\n"
        "*@shop.example.nl mail2026._domainkey.shop.example.nl\n"
        "*@*.example.nl mail2026._domainkey.example.nl   # subdomains: not expressible\n"
        "*@brand.example mail2026._domainkey.example.nl\n")
    (root / "TrustedHosts").write_text("127.0.0.1\n::1\nlocalhost\n192.0.2.0/24\n*.example.nl\n")
    conf = root / "opendkim.conf"
    conf.write_text(
        "# /etc/opendkim.conf as a postmaster wrote it\n"
        "Syslog\t\t\tyes\n"
        "UMask\t\t\t007\n"
        "Mode                    sv\n"
        "Canonicalization        relaxed/simple\n"
        "AuthservID              mx1.example.nl\n"
        f"KeyTable                refile:{root}/key.table\n"
        f"SigningTable            refile:{root}/signing.table\n"
        f"ExternalIgnoreList      refile:{root}/TrustedHosts\n"
        f"InternalHosts           refile:{root}/TrustedHosts\n"
        "Socket                  inet:8891@localhost\n"
        "PidFile                 /run/opendkim/opendkim.pid\n")
    return conf


def test_refile_tables_become_a_signing_table_and_trusted_networks(tmp_path: Path) -> None:
    conf = _debian_layout(tmp_path)
    result = _import(conf)
    data = result.data
    assert data["authserv_id"] == "mx1.example.nl"
    assert data["socket"] == "inet:127.0.0.1:8891"
    assert data["inbound"]["verify"] is True
    assert data["outbound"]["trusted_networks"] == ["127.0.0.1/32", "::1/128", "192.0.2.0/24"]
    assert data["outbound"]["sign"] == [
        {"domain": "example.nl", "selector": "mail2026", "key": f"{tmp_path}/keys/example.nl/mail2026.private"},
        {"domain": "shop.example.nl", "selector": "mail2026",
         "key": f"{tmp_path}/keys/shop.example.nl/mail2026.private"},
    ]
    skipped = result.skipped
    assert any("*@*.example.nl" in line for line in skipped)
    assert any("*@brand.example" in line and "d=example.nl" in line for line in skipped)
    assert not any("localhost" in line for line in skipped)  # loopback, listed above
    assert any("*.example.nl" in line for line in skipped)
    # The output is a working zegel configuration: the keys load.
    config = config_from_toml(result.output, source="imported.toml", base=tmp_path)
    assert [(k.domain, k.selector, k.algorithm, k.key_bits) for k in config.signing] == [
        ("example.nl", "mail2026", "rsa", 2048), ("shop.example.nl", "mail2026", "rsa", 2048)]
    assert config.is_trusted("192.0.2.77") and not config.is_trusted("198.51.100.1")


def test_single_key_setup_plain_file_tables_and_unix_socket(tmp_path: Path) -> None:
    _key(tmp_path / "default.private")
    (tmp_path / "internal").write_text("10.1.2.0/24   # office\n! 10.1.2.99\n")
    conf = tmp_path / "opendkim.conf"
    conf.write_text("Domain example.com\nSelector default\n"
                    f"KeyFile {tmp_path}/default.private\n"
                    "InternalHosts file:internal\n"
                    "Socket local:/var/spool/postfix/opendkim/opendkim.sock\n"
                    "Mode s\n")
    result = _import(conf)
    data = result.data
    assert data["socket"] == "unix:/var/spool/postfix/opendkim/opendkim.sock"
    assert data["inbound"]["verify"] is False  # Mode s: signing only
    assert data["outbound"]["trusted_networks"] == ["10.1.2.0/24"]
    assert data["outbound"]["sign"] == [{"domain": "example.com", "selector": "default",
                                         "key": f"{tmp_path}/default.private"}]
    assert "authserv_id = \"mx.example.nl\"" in result.output  # a placeholder, said to be one
    assert "exclusions are not supported" in result.output


def test_plain_signing_table_and_no_host_lists(tmp_path: Path) -> None:
    _key(tmp_path / "k.pem")
    (tmp_path / "keys").write_text(f"k1 %:s1:{tmp_path}/k.pem\n")
    (tmp_path / "signing").write_text("example.net k1\nbob@example.net k1\n")
    conf = tmp_path / "opendkim.conf"
    conf.write_text("KeyTable file:keys\nSigningTable file:signing\n")
    result = _import(conf)
    data = result.data
    assert data["outbound"]["sign"] == [{"domain": "example.net", "selector": "s1", "key": f"{tmp_path}/k.pem"}]
    assert data["outbound"]["trusted_networks"] == ["127.0.0.1/32"]  # OpenDKIM's InternalHosts default
    assert "bob@example.net" in result.output  # one user's signature: named, not imported


def test_percent_keys_inline_keys_and_localhost(tmp_path: Path) -> None:
    """opendkim.conf(5): a KeyTable domain of "%" is the sender's domain, and so is a "%" in the
    key file's path; a third value that is not a path is the private key itself."""
    for domain in ("example.org", "example.net"):
        (tmp_path / "keys" / domain).mkdir(parents=True)
        _key(tmp_path / "keys" / domain / "mail.private")
    (tmp_path / "key.table").write_text(
        f"mail._domainkey.% %:mail:{tmp_path}/keys/%/mail.private\n"
        "inline._domainkey.example.com example.com:inline:MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n")
    (tmp_path / "signing.table").write_text(
        "*@example.org mail._domainkey.%\n*@example.net mail._domainkey.%\n"
        "*@example.com inline._domainkey.example.com\n")
    (tmp_path / "trusted").write_text("localhost\n127.0.0.1\n")
    conf = tmp_path / "opendkim.conf"
    conf.write_text("KeyTable refile:key.table\nSigningTable refile:signing.table\nInternalHosts file:trusted\n")
    result = _import(conf)
    data = result.data
    assert data["outbound"]["sign"] == [
        {"domain": "example.org", "selector": "mail", "key": f"{tmp_path}/keys/example.org/mail.private"},
        {"domain": "example.net", "selector": "mail", "key": f"{tmp_path}/keys/example.net/mail.private"}]
    assert data["outbound"]["trusted_networks"] == ["127.0.0.1/32", "::1/128"]
    skipped = result.skipped
    assert len(skipped) == 1 and "*@example.com" in skipped[0] and "private key itself" in skipped[0]
    assert "MIIE" not in result.output  # key material is never echoed
    config = config_from_toml(result.output, source="imported.toml", base=tmp_path)
    assert [(k.domain, k.selector) for k in config.signing] == [("example.org", "mail"), ("example.net", "mail")]


def test_every_setting_that_changed_behaviour_is_imported_or_named(tmp_path: Path) -> None:
    _key(tmp_path / "k.pem")
    conf = tmp_path / "opendkim.conf"
    conf.write_text(
        "Domain example.com\nSelector s1\n"
        f"KeyFile {tmp_path}/k.pem\n"
        # run-time settings: the unit and zegel's own log take their place
        "Syslog yes\nSyslogSuccess yes\nUMask 007\nUserID opendkim\nPidFile /run/opendkim/opendkim.pid\n"
        "TrustAnchorFile /usr/share/dns/root.key\n"
        # imported
        "Nameservers 127.0.0.1, ::1,resolver.example\nDNSTimeout 3\n"
        # behaviour zegel does its own way: each named
        "SubDomains yes\nCanonicalization relaxed/simple\nOversignHeaders From,Subject,List-Id\n"
        "SignatureAlgorithm rsa-sha1\nOn-BadSignature reject\nSignHeaders From,To\n"
        # the same as zegel: nothing to say
        "OversignHeaders From\nCanonicalization relaxed/relaxed\n")
    result = _import(conf)
    data = result.data
    assert data["dns"] == {"nameservers": ["127.0.0.1", "::1"], "lifetime": 3}
    assert result.skipped == [
        "Nameservers resolver.example: not an IP address",
        "SubDomains yes: zegel signs only the From domains listed in [[outbound.sign]] "
        "(add a row for each subdomain that sends mail)",
        "SignatureAlgorithm rsa-sha1: zegel signs rsa-sha256 or ed25519-sha256, as the key's type says "
        "(never rsa-sha1: RFC 8301)",
        "On-BadSignature reject: what happens to a message is zegel's local policy (policy_file; docs/policy.md)",
        "SignHeaders From,To: no zegel equivalent (docs/milter.md lists zegel's settings)",
    ]  # the later OversignHeaders and Canonicalization lines win, as in OpenDKIM, and match zegel
    config = config_from_toml(result.output, source="imported.toml", base=tmp_path)
    assert config.nameservers == ("127.0.0.1", "::1") and config.dns_lifetime == 3.0
    conf.write_text("DNSTimeout 0\nCanonicalization simple\nOversignHeaders From, List-Id\n")
    result = _import(conf)
    assert "dns" not in result.data
    assert "# not imported: DNSTimeout 0: zegel's DNS lookups always end" in result.output
    assert "# not imported: Canonicalization simple: zegel signs relaxed/relaxed" in result.output
    assert "# not imported: OversignHeaders From, List-Id: zegel over-signs from," in result.output
    assert result.output.rstrip().endswith("not list-id")
    conf.write_text(f"Selector s1\nKeyFile {tmp_path}/k.pem\n")
    result = _import(conf)
    assert "sign" not in result.data["outbound"]
    assert "# not imported: Selector, KeyFile without Domain: OpenDKIM signs with all three or none" in result.output


def test_unreadable_files_are_one_line_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["milter", "--import-opendkim", str(tmp_path / "missing.conf")])
    assert result.exit_code == 2 and result.output.startswith("zegel: ") and len(result.output.splitlines()) == 1
    conf = tmp_path / "opendkim.conf"
    conf.write_text("KeyTable refile:/nonexistent/key.table\n")
    result = CliRunner().invoke(cli, ["milter", "--import-opendkim", str(conf)])
    assert result.exit_code == 2 and "KeyTable" in result.output
    conf.write_text("KeyTable ldap://ldap.example/dc=example\n")
    result = CliRunner().invoke(cli, ["milter", "--import-opendkim", str(conf)])
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["milter", "--import-opendkim", str(conf), "--config", str(conf)])
    assert result.exit_code == 2 and "exactly one of" in result.output
