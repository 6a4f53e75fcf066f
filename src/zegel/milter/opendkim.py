"""``zegel milter --import-opendkim /etc/opendkim.conf``: OpenDKIM's configuration as zegel TOML.

Read: ``Socket``, ``AuthservID``, ``Mode``, ``KeyTable``, ``SigningTable``, ``Domain`` /
``Selector`` / ``KeyFile`` (the one-key setup), ``InternalHosts``, ``ExternalIgnoreList`` and
``TrustedHosts``. Tables may be plain files (``file:PATH`` or a bare path) or ``refile:PATH``
(patterns with ``*`` wildcards), as OpenDKIM reads them; host lists may also be given inline,
comma-separated. ``Nameservers`` and ``DNSTimeout`` become ``[dns]``. What has no zegel
equivalent (a wildcard that matches subdomains, a signature for one user, a host name in a
host list, a signing domain other than the From domain, a setting such as ``SubDomains``,
``On-BadSignature`` or another ``Canonicalization``) becomes a ``# not imported:`` comment
naming the line and what zegel does instead, so nothing is dropped silently; settings about
running the program (``Syslog``, ``UMask``, ``PidFile``, ``UserID``, ...) need no line.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

from zegel.dkim.sign import DEFAULT_OVERSIGN

# Beyond this a file is not an OpenDKIM table (and reading it whole would be unbounded).
MAX_FILE_BYTES = 16 * 1024 * 1024


class OpenDkimImportError(ValueError):
    """The OpenDKIM configuration cannot be read; ``str()`` is one line."""


@dataclass
class Imported:
    """The translated settings, and what could not be translated."""

    socket: str = "inet:127.0.0.1:8891"
    authserv_id: str | None = None
    signing: list[tuple[str, str, str]] = field(default_factory=list)  # domain, selector, key file
    trusted_networks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    verify: bool = True
    nameservers: list[str] = field(default_factory=list)
    dns_lifetime: int | None = None


def _read(path: Path, what: str) -> list[str]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise OpenDkimImportError(f"{path}: {what} is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise OpenDkimImportError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    return text.splitlines()


def _entries(lines: list[str]) -> list[str]:
    """Lines without comments and blanks; a trailing backslash continues a line (OpenDKIM's own rule)."""
    out: list[str] = []
    pending = ""
    for raw in lines:
        line = raw.split("#", 1)[0].rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            out.append(line)
    if pending.strip():
        out.append(pending.strip())
    return out


def parse_conf(path: Path) -> dict[str, str]:
    """``Name value`` pairs of opendkim.conf, each name as written (its last spelling): names
    are case-insensitive and the last one wins. Look a setting up by its lower-case name in
    ``{name.lower(): value ...}``; the spelling is kept for the lines that name a setting."""
    written: dict[str, tuple[str, str]] = {}
    for entry in _entries(_read(path, "the OpenDKIM configuration")):
        name, _, value = entry.partition(" ")
        if "\t" in name:
            name, _, rest = name.partition("\t")
            value = rest + " " + value
        name = name.strip()
        written[name.lower()] = (name, value.strip())
    return dict(written.values())


# Settings read into the TOML.
_IMPORTED = frozenset({"socket", "authservid", "mode", "keytable", "signingtable", "domain", "selector", "keyfile",
                       "internalhosts", "externalignorelist", "trustedhosts", "nameservers", "dnstimeout"})
# Settings about how OpenDKIM runs as a program, which the zegel unit (User=, Restart=), its
# socket (0660 for its group) and its structured log lines take care of: no line needed.
_RUNTIME_ONLY = frozenset({
    "autorestart", "autorestartcount", "autorestartrate", "background", "basedirectory", "changerootdirectory",
    "diagnosticdirectory", "logresults", "logwhy", "milterdebug", "pidfile", "syslog", "syslogfacility",
    "syslogsuccess", "temporarydirectory", "trustanchorfile", "umask", "userid",
})
_TRUE = ("yes", "true", "1", "on")


def _behaviour_notes(written: dict[str, str]) -> list[str]:
    """One ``# not imported:`` line for each setting that changed what OpenDKIM did and that
    the TOML does not carry, saying what zegel does instead; nothing is dropped silently."""
    notes: list[str] = []
    for name, value in written.items():
        key = name.lower()
        if key in _IMPORTED or key in _RUNTIME_ONLY:
            continue
        if key == "subdomains":
            if value.lower() in _TRUE:
                notes.append(f"{name} {value}: zegel signs only the From domains listed in [[outbound.sign]] "
                             "(add a row for each subdomain that sends mail)")
        elif key == "canonicalization":
            if value.lower() not in ("relaxed/relaxed", "relaxed"):
                notes.append(f"{name} {value}: zegel signs relaxed/relaxed (RFC 6376 3.4), which survives the "
                             "re-folding of header fields on the way")
        elif key == "oversignheaders":
            extra = sorted({n.strip().lower() for n in value.split(",") if n.strip()} - set(DEFAULT_OVERSIGN))
            if extra:
                notes.append(f"{name} {value}: zegel over-signs {', '.join(DEFAULT_OVERSIGN)}; not "
                             + ", ".join(extra))
        elif key == "signaturealgorithm":
            if value.lower() != "rsa-sha256":
                notes.append(f"{name} {value}: zegel signs rsa-sha256 or ed25519-sha256, as the key's type says "
                             "(never rsa-sha1: RFC 8301)")
        elif key.startswith("on-"):
            notes.append(f"{name} {value}: what happens to a message is zegel's local policy "
                         "(policy_file; docs/policy.md)")
        else:
            notes.append(f"{name} {value}: no zegel equivalent (docs/milter.md lists zegel's settings)")
    return notes


def _dataset(value: str, base: Path, what: str) -> tuple[str, list[str]]:
    """(kind, entries) of an OpenDKIM data set: ``refile:``/``file:``/``csl:`` or a bare path/list."""
    kind, sep, rest = value.partition(":")
    if sep and kind in ("refile", "file", "csl"):
        if kind == "csl":
            return "list", [item.strip() for item in rest.split(",") if item.strip()]
        target = Path(rest)
        return kind, _entries(_read(target if target.is_absolute() else base / target, what))
    if sep and kind in ("db", "dsn", "ldap", "ldaps", "lua", "memcache", "redis", "erlang", "mdb"):
        raise OpenDkimImportError(f"{what} {value!r}: {kind}: data sets cannot be imported (export them to a file)")
    if value.startswith("/") or value.startswith("."):
        target = Path(value)
        return "file", _entries(_read(target if target.is_absolute() else base / target, what))
    return "list", [item.strip() for item in value.split(",") if item.strip()]


def _socket(value: str) -> str:
    """OpenDKIM's ``inet:PORT@HOST`` / ``local:PATH`` in Postfix's (and zegel's) spelling."""
    kind, _, rest = value.partition(":")
    if kind in ("local", "unix"):
        return f"unix:{rest}"
    if kind in ("inet", "inet6"):
        port, at, host = rest.partition("@")
        host = host if at else ("::1" if kind == "inet6" else "127.0.0.1")
        host = "127.0.0.1" if host == "localhost" else host
        return f"inet:[{host}]:{port}" if ":" in host else f"inet:{host}:{port}"
    return "inet:127.0.0.1:8891"


def _hosts(entries: list[str], what: str, imported: Imported) -> None:
    for entry in entries:
        # "!ADDR" and "! ADDR" both exclude ADDR.
        for item in entry.replace("! ", "!").split():
            negated = item.startswith("!")
            if item.lstrip("!").lower().rstrip(".") == "localhost":
                # The name OpenDKIM's default lists carry: the MTA names loopback clients so.
                networks = ["127.0.0.1/32", "::1/128"]
            else:
                try:
                    networks = [str(ipaddress.ip_network(item.lstrip("!").strip("[]"), strict=False))]
                except ValueError:
                    imported.skipped.append(f"{what} {item}: a host or domain name; zegel matches client "
                                            "addresses (add its IP networks)")
                    continue
            if negated:
                imported.skipped.append(f"{what} {item}: exclusions are not supported (list the networks to trust)")
                continue
            for text in networks:
                if text not in imported.trusted_networks:
                    imported.trusted_networks.append(text)


def _signing_domain(pattern: str, regex: bool) -> str | None:
    """The From domain a SigningTable key stands for, or None when it is not one exact domain."""
    if "@" in pattern:
        local, _, domain = pattern.rpartition("@")
        if local not in ("*", "") or (not regex and local):
            return None
    else:
        domain = pattern
    if "*" in domain or not domain or domain.startswith(".") or any(c in domain for c in "[]?+()|\\"):
        return None
    return domain.lower().rstrip(".")


def import_opendkim(path: str | Path) -> Imported:
    conf = Path(path)
    written = parse_conf(conf)
    settings = {name.lower(): value for name, value in written.items()}
    base = conf.resolve().parent
    imported = Imported()
    if "nameservers" in settings:
        for server in (s.strip() for s in settings["nameservers"].split(",")):
            try:
                imported.nameservers.append(str(ipaddress.ip_address(server)))
            except ValueError:
                imported.skipped.append(f"Nameservers {server}: not an IP address")
    if "dnstimeout" in settings:
        timeout = settings["dnstimeout"]
        if timeout.isascii() and timeout.isdigit() and 0 < int(timeout) <= 86400:
            imported.dns_lifetime = int(timeout)
        else:  # 0 is OpenDKIM's "wait forever"
            imported.skipped.append(f"DNSTimeout {timeout}: zegel's DNS lookups always end "
                                    "(dns.lifetime, default 5 seconds)")
    if "socket" in settings:
        imported.socket = _socket(settings["socket"])
    if "authservid" in settings and settings["authservid"] not in ("HOSTNAME", ""):
        imported.authserv_id = settings["authservid"]
    mode = settings.get("mode", "sv")
    imported.verify = "v" in mode

    # KeyTable: "name domain:selector:keyfile".
    keys: dict[str, tuple[str, str, str]] = {}
    if "keytable" in settings:
        _, entries = _dataset(settings["keytable"], base, "KeyTable")
        for entry in entries:
            name, _, value = entry.partition(" ")
            parts = value.strip().split(":", 2)
            if len(parts) != 3:
                imported.skipped.append(f"KeyTable {entry!r}: not NAME DOMAIN:SELECTOR:KEYFILE")
                continue
            keys[name.strip()] = (parts[0].strip(), parts[1].strip(), parts[2].strip())
    if "signingtable" in settings:
        kind, entries = _dataset(settings["signingtable"], base, "SigningTable")
        for entry in entries:
            pattern, _, names = entry.partition(" ")
            for name in names.replace(",", " ").split():
                if name not in keys:
                    imported.skipped.append(f"SigningTable {pattern} -> {name}: no such KeyTable entry")
                    continue
                key_domain, selector, key_file = keys[name]
                domain = _signing_domain(pattern, kind == "refile")
                if domain is None:
                    imported.skipped.append(
                        f"SigningTable {pattern} -> {name}: zegel signs by exact From domain "
                        "(list each domain, subdomains separately)")
                    continue
                if key_domain not in ("%", domain):
                    imported.skipped.append(
                        f"SigningTable {pattern} -> {name}: signs {domain} mail as d={key_domain}; zegel "
                        "signs with the From domain (use a key for d={domain})".replace("{domain}", domain))
                    continue
                if not key_file.startswith(("/", "./", "../")):
                    # opendkim.conf(5): any other third value is the private key itself.
                    imported.skipped.append(
                        f"SigningTable {pattern} -> {name}: the KeyTable holds the private key itself; "
                        f"write it to a file (mode 0640, owner root, group zegel) and add [[outbound.sign]] "
                        f"domain = {_quote(domain)}, selector = {_quote(selector.lower())}")
                    continue
                # opendkim.conf(5): a "%" in the key file's path is the signing domain.
                row = (domain, selector.lower(), key_file.replace("%", domain))
                if row not in imported.signing:
                    imported.signing.append(row)
    elif {"domain", "selector", "keyfile"} <= settings.keys():
        # The one-key setup: sign every listed Domain with Selector and KeyFile.
        _, domains = _dataset(settings["domain"], base, "Domain")
        for domain in domains:
            row = (domain.lower().rstrip("."), settings["selector"].lower(), settings["keyfile"])
            if row not in imported.signing:
                imported.signing.append(row)
    elif "keytable" in settings:
        imported.skipped.append("KeyTable without SigningTable: nothing says which mail to sign")
    elif given := [name for name in ("Domain", "Selector", "KeyFile") if name.lower() in settings]:
        missing = [name for name in ("Domain", "Selector", "KeyFile") if name.lower() not in settings]
        imported.skipped.append(f"{', '.join(given)} without {' and '.join(missing)}: OpenDKIM signs with all "
                                "three or none")

    # Whose mail is signed (InternalHosts, OpenDKIM's default 127.0.0.1) and whose mail is not
    # verified (ExternalIgnoreList): in zegel both are outbound.trusted_networks.
    found_hosts = False
    for setting, what in (("internalhosts", "InternalHosts"), ("externalignorelist", "ExternalIgnoreList"),
                          ("trustedhosts", "TrustedHosts")):
        if setting in settings:
            found_hosts = True
            _, entries = _dataset(settings[setting], base, what)
            _hosts(entries, what, imported)
    if not found_hosts:
        imported.trusted_networks.append("127.0.0.1/32")  # OpenDKIM's InternalHosts default
    imported.skipped.extend(_behaviour_notes(written))
    return imported


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


def to_toml(imported: Imported, source: str) -> str:
    lines = [
        f"# zegel milter configuration imported from {source} (zegel milter --import-opendkim).",
        "# Check it with: zegel milter --check-config FILE; every setting is described in docs/milter.md.",
        "",
        f"authserv_id = {_quote(imported.authserv_id or 'mx.example.nl')}"
        + ("" if imported.authserv_id else "   # OpenDKIM used the host name: put this host's name here"),
        f"socket = {_quote(imported.socket)}",
        "",
        "[inbound]",
        f"verify = {'true' if imported.verify else 'false'}",
        "",
        "[outbound]",
        "# OpenDKIM's InternalHosts / ExternalIgnoreList: mail from these networks is signed, not verified.",
        "trusted_networks = [" + ", ".join(_quote(n) for n in imported.trusted_networks) + "]",
        "authenticated_clients = true",
    ]
    if imported.nameservers or imported.dns_lifetime is not None:
        lines += ["", "[dns]"]
        if imported.nameservers:
            lines.append("nameservers = [" + ", ".join(_quote(n) for n in imported.nameservers) + "]")
        if imported.dns_lifetime is not None:
            lines.append(f"lifetime = {imported.dns_lifetime}   # OpenDKIM's DNSTimeout")
    for domain, selector, key_file in imported.signing:
        lines += ["", "[[outbound.sign]]", f"domain = {_quote(domain)}", f"selector = {_quote(selector)}",
                  f"key = {_quote(key_file)}"]
    if imported.skipped:
        lines += [""] + [f"# not imported: {why}" for why in imported.skipped]
    return "\n".join(lines) + "\n"
