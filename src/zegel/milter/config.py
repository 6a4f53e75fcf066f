"""The milter's one TOML configuration file, validated up front with one-line messages.

See docs/milter.md for every setting; examples/milter.toml is a complete example. Relative
paths are taken relative to the configuration file's directory. Unknown settings are errors
(a misspelt key must not silently fall back to a default).
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """The configuration cannot be used; ``str()`` is one line naming the file and setting."""


@dataclass(frozen=True)
class SocketSpec:
    """``inet:HOST:PORT`` (``inet6:[HOST]:PORT`` too) or ``unix:PATH``, as Postfix writes them."""

    kind: Literal["inet", "unix"]
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"inet:{host}:{self.port}"


@dataclass(frozen=True)
class SigningKey:
    """One row of the signing table: sign mail From ``domain`` with ``selector`` and this key."""

    domain: str
    selector: str
    key_file: Path
    algorithm: Literal["rsa", "ed25519"]
    key_bits: int
    private_key_pem: bytes


@dataclass(frozen=True)
class ArcSealing:
    domain: str
    selector: str
    key_file: Path
    algorithm: Literal["rsa", "ed25519"]
    private_key_pem: bytes
    recipient_domains: frozenset[str]  # seal only mail to these domains; empty: all inbound mail


@dataclass(frozen=True)
class FailureReports:
    """``[failure_reports]``: RFC 9991 failure reports (RFC 6591 format) for DMARC failures."""

    from_address: str  # RFC 5322.From of the reports
    envelope_sender: str  # RFC 5321.MailFrom (bounces)
    org_name: str
    relay_host: str = "localhost"
    relay_port: int = 25
    starttls: bool = True
    dry_run_dir: Path | None = None  # write the reports here instead of mailing them
    redact: bool = True  # RFC 6590 redaction of local parts
    redaction_secret: str = ""  # key of the redaction hash (from redaction_secret_file)
    per_domain_per_hour: int = 10  # reports about one domain per hour
    per_destination_per_hour: int = 20  # messages to one ruf address per hour
    max_pending: int = 100  # reports waiting to be sent; beyond this new ones are dropped (logged)


@dataclass(frozen=True)
class MilterConfig:
    source: str
    authserv_id: str
    socket: SocketSpec
    policy_file: Path | None = None
    on_error: Literal["accept", "tempfail"] = "tempfail"  # fail closed: a stalled check never delivers
    # [timeouts]
    session_timeout: float = 600.0
    verify_timeout: float = 60.0
    shutdown_timeout: float = 30.0
    # [dns]
    nameservers: tuple[str, ...] = ()
    dns_timeout: float = 2.0
    dns_lifetime: float = 5.0
    zones: tuple[str, ...] = ()
    # [inbound]
    verify_inbound: bool = True
    quarantine: Literal["milter", "header"] = "header"
    quarantine_header: str = "X-Zegel-Quarantine"
    max_message_size: int = 64 * 1024 * 1024
    memory_limit: int = 1024 * 1024
    spool_dir: str | None = None
    # [outbound]
    trusted_networks: tuple[IPNetwork, ...] = ()
    sign_authenticated: bool = True
    signing: tuple[SigningKey, ...] = ()
    # [arc]
    arc: ArcSealing | None = None
    # [reports]
    reports_database: str | None = None
    reports_data_dir: str | None = None
    # [failure_reports]
    failure_reports: FailureReports | None = None
    # [metrics]
    metrics_listen: tuple[str, int] | None = None
    # [log]
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    # processes serving the socket; 0 is "auto" (one per CPU this process may use)
    workers: int = 1

    def signing_keys_for(self, domain: str) -> tuple[SigningKey, ...]:
        wanted = domain.lower().rstrip(".")
        return tuple(k for k in self.signing if k.domain == wanted)

    def is_trusted(self, address: str) -> bool:
        if not self.trusted_networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.trusted_networks)


def parse_socket(spec: str) -> SocketSpec:
    """``inet:HOST:PORT``, ``inet6:[HOST]:PORT`` or ``unix:PATH`` (also ``local:``), as Postfix writes them."""
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    if kind in ("unix", "local") and sep:
        if not rest.startswith("/"):
            raise ValueError(f"socket {spec!r}: unix socket path must be absolute")
        return SocketSpec("unix", path=rest)
    if kind in ("inet", "inet6") and sep:
        text = rest
    else:
        # A bare HOST:PORT is refused rather than guessed: Postfix's smtpd_milters needs the
        # prefix too, and the two lines should read the same.
        raise ValueError(f"socket {spec!r}: write inet:HOST:PORT or unix:/PATH (the prefix is required)")
    if text.startswith("["):
        host, close, port_text = text[1:].partition("]")
        if not close or not port_text.startswith(":"):
            raise ValueError(f"socket {spec!r}: bad [IPv6]:PORT")
        port_text = port_text[1:]
    else:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise ValueError(f"socket {spec!r}: need HOST:PORT with a port from 0 (any free port) to 65535")
    if "@" in host:  # Sendmail's inet:PORT@HOST form
        raise ValueError(f"socket {spec!r}: write inet:HOST:PORT (Postfix style)")
    return SocketSpec("inet", host=host, port=int(port_text))


def load_config(path: str | Path) -> MilterConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return config_from_toml(text, source=str(path), base=Path(path).resolve().parent)


def config_from_toml(text: str, *, source: str = "<config>", base: Path | None = None) -> MilterConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return _Validator(source, base or Path.cwd()).build(data)


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class _Validator:
    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {message}")

    # -- typed getters ---------------------------------------------------------------------

    def known(self, data: Mapping[str, Any], keys: set[str], prefix: str) -> None:
        for key in data:
            if key not in keys:
                raise self.fail(f"{prefix}{key}: unknown setting (known: {', '.join(sorted(keys))})")

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{key} must be a table ([{key}])")
        return value

    def string(self, data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key} must be a non-empty string")
        if any(c in value for c in "\r\n\0"):
            raise self.fail(f"{where}{key} must be one line")
        return value.strip()

    def boolean(self, data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}{key} must be true or false")
        return value

    def seconds(self, data: Mapping[str, Any], key: str, where: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
            raise self.fail(f"{where}{key} must be a number of seconds (0 < s <= 86400), not {value!r}")
        return float(value)

    def size(self, data: Mapping[str, Any], key: str, where: str, default: int) -> int:
        value = data.get(key, default)
        if isinstance(value, str):
            number, unit = value.strip().lower().rstrip("b"), ""
            if number and number[-1] in "kmg":
                number, unit = number[:-1], number[-1]
            if not number.strip().isdigit():
                raise self.fail(f"{where}{key} must be a size in bytes such as 1048576 or \"50M\", not {value!r}")
            value = int(number) * _SIZE_UNITS[unit]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
            raise self.fail(f"{where}{key} must be a size of at least 1024 bytes, not {value!r}")
        return value

    def choice(self, data: Mapping[str, Any], key: str, where: str, options: tuple[str, ...], default: str) -> str:
        value = data.get(key, default)
        if value not in options:
            raise self.fail(f"{where}{key} must be one of {', '.join(repr(o) for o in options)}, not {value!r}")
        return str(value)

    def path(self, value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (self.base / candidate)

    def domain(self, data: Mapping[str, Any], key: str, where: str) -> str:
        value = self.string(data, key, where).lower().rstrip(".")
        try:
            value = value.encode("idna").decode("ascii") if not value.isascii() else value
        except UnicodeError:
            raise self.fail(f"{where}{key}: {value!r} is not a domain name") from None
        labels = value.split(".")
        if not all(0 < len(label) <= 63 for label in labels) or len(value) > 253 or " " in value:
            raise self.fail(f"{where}{key}: {value!r} is not a domain name")
        return value

    def private_key(self, data: Mapping[str, Any], where: str) -> tuple[Path, Literal["rsa", "ed25519"], int, bytes]:
        key_file = self.path(self.string(data, "key", where))
        try:
            pem = key_file.read_bytes()
        except OSError as exc:
            raise self.fail(f"{where}key: cannot read {key_file}: {exc.strerror or exc}") from None
        try:
            key = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise self.fail(f"{where}key: {key_file} is not an unencrypted PEM private key ({exc})") from None
        if isinstance(key, rsa.RSAPrivateKey):
            # RFC 8301 section 3.2: signers MUST use RSA keys of at least 1024 bits.
            if key.key_size < 1024:
                raise self.fail(f"{where}key: {key_file} is a {key.key_size}-bit RSA key; RFC 8301 needs at least 1024")
            return key_file, "rsa", key.key_size, pem
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key_file, "ed25519", 256, pem
        raise self.fail(f"{where}key: {key_file} is neither an RSA nor an Ed25519 key (RFC 8463)")

    def selector(self, data: Mapping[str, Any], where: str) -> str:
        value = self.string(data, "selector", where).lower()
        if not all(part and all(c.isalnum() or c == "-" for c in part) for part in value.split(".")):
            raise self.fail(f"{where}selector: {value!r} is not a valid selector (RFC 6376 section 3.1)")
        return value

    # -- the whole file --------------------------------------------------------------------

    def build(self, data: Mapping[str, Any]) -> MilterConfig:
        top = {"authserv_id", "socket", "workers", "policy", "on_error", "timeouts", "dns", "inbound", "outbound",
               "arc", "reports", "failure_reports", "metrics", "log"}
        self.known(data, top, "")
        if "authserv_id" not in data:
            raise self.fail("authserv_id is required (the name of this host in Authentication-Results, RFC 8601 section 2.5)")
        authserv_id = self.string(data, "authserv_id", "")
        if any(c.isspace() or c in ";()\"" for c in authserv_id):
            raise self.fail(f"authserv_id {authserv_id!r} must be a single token such as mx.example.nl")
        if "socket" not in data:
            raise self.fail("socket is required (inet:HOST:PORT or unix:/PATH)")
        try:
            socket = parse_socket(self.string(data, "socket", ""))
        except ValueError as exc:
            raise self.fail(str(exc)) from None
        workers = self._workers(data.get("workers", 1))
        policy_file = None
        if "policy" in data:
            policy_file = self.path(self.string(data, "policy", ""))
            self._check_policy(policy_file)
        on_error = self.choice(data, "on_error", "", ("accept", "tempfail"), "tempfail")

        timeouts = self.table(data, "timeouts")
        self.known(timeouts, {"session", "verify", "shutdown"}, "timeouts.")
        dns = self.table(data, "dns")
        self.known(dns, {"nameservers", "timeout", "lifetime", "zones"}, "dns.")
        nameservers = self._string_list(dns, "nameservers", "dns.")
        from zegel.dns import parse_nameserver

        for server in nameservers:
            try:
                parse_nameserver(server)
            except ValueError as exc:
                raise self.fail(f"dns.nameservers: {exc}") from None
        zones = tuple(str(self.path(z)) for z in self._string_list(dns, "zones", "dns."))
        for zone in zones:
            if not Path(zone).is_file():
                raise self.fail(f"dns.zones: {zone} is not a file")

        inbound = self.table(data, "inbound")
        self.known(inbound, {"verify", "quarantine", "quarantine_header", "max_message_size", "memory_limit",
                             "spool_dir"}, "inbound.")
        quarantine_header = self.string(inbound, "quarantine_header", "inbound.", "X-Zegel-Quarantine")
        if not all(33 <= ord(c) <= 126 and c != ":" for c in quarantine_header):
            raise self.fail(f"inbound.quarantine_header {quarantine_header!r} is not a header field name (RFC 5322 section 3.6.8)")
        max_size = self.size(inbound, "max_message_size", "inbound.", 64 * 1024 * 1024)
        memory_limit = self.size(inbound, "memory_limit", "inbound.", 1024 * 1024)
        spool_dir = None
        if "spool_dir" in inbound:
            spool_dir = str(self.path(self.string(inbound, "spool_dir", "inbound.")))
            if not Path(spool_dir).is_dir():
                raise self.fail(f"inbound.spool_dir: {spool_dir} is not a directory")

        outbound = self.table(data, "outbound")
        self.known(outbound, {"trusted_networks", "authenticated_clients", "sign"}, "outbound.")
        networks: list[IPNetwork] = []
        for item in self._string_list(outbound, "trusted_networks", "outbound."):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise self.fail(f"outbound.trusted_networks: {item!r} is not an IP network such as 192.0.2.0/24") from None
        signing = self._signing_table(outbound)

        arc = self._arc(self.table(data, "arc")) if "arc" in data else None
        reports = self.table(data, "reports")
        self.known(reports, {"database", "data_dir"}, "reports.")
        reports_database = self.string(reports, "database", "reports.") if "database" in reports else None
        reports_data_dir = (str(self.path(self.string(reports, "data_dir", "reports.")))
                            if "data_dir" in reports else None)
        failure_reports = self._failure_reports(self.table(data, "failure_reports"), authserv_id)

        metrics = self.table(data, "metrics")
        self.known(metrics, {"listen"}, "metrics.")
        metrics_listen = None
        if "listen" in metrics:
            try:
                listen = parse_socket("inet:" + self.string(metrics, "listen", "metrics."))
            except ValueError:
                raise self.fail("metrics.listen must be HOST:PORT such as \"127.0.0.1:9419\"") from None
            metrics_listen = (listen.host, listen.port)
        log = self.table(data, "log")
        self.known(log, {"level", "format"}, "log.")
        return MilterConfig(
            source=self.source,
            authserv_id=authserv_id,
            socket=socket,
            policy_file=policy_file,
            on_error="accept" if on_error == "accept" else "tempfail",
            session_timeout=self.seconds(timeouts, "session", "timeouts.", 600.0),
            verify_timeout=self.seconds(timeouts, "verify", "timeouts.", 60.0),
            shutdown_timeout=self.seconds(timeouts, "shutdown", "timeouts.", 30.0),
            nameservers=nameservers,
            dns_timeout=self.seconds(dns, "timeout", "dns.", 2.0),
            dns_lifetime=self.seconds(dns, "lifetime", "dns.", 5.0),
            zones=zones,
            verify_inbound=self.boolean(inbound, "verify", "inbound.", True),
            quarantine="milter" if self.choice(inbound, "quarantine", "inbound.", ("header", "milter"), "header") == "milter" else "header",
            quarantine_header=quarantine_header,
            max_message_size=max_size,
            memory_limit=min(memory_limit, max_size),
            spool_dir=spool_dir,
            trusted_networks=tuple(networks),
            sign_authenticated=self.boolean(outbound, "authenticated_clients", "outbound.", True),
            signing=signing,
            arc=arc,
            reports_database=reports_database,
            reports_data_dir=reports_data_dir,
            failure_reports=failure_reports,
            metrics_listen=metrics_listen,
            log_level=self.choice(log, "level", "log.", ("debug", "info", "warning", "error"), "info"),  # type: ignore[arg-type]
            log_format=self.choice(log, "format", "log.", ("text", "json"), "text"),  # type: ignore[arg-type]
            workers=workers,
        )

    def _workers(self, value: object) -> int:
        if value == "auto":
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
            raise self.fail(f"workers must be a number of processes from 1 to 256 or \"auto\", not {value!r}")
        return value

    def _string_list(self, data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"{where}{key} must be a list of strings")
        return tuple(v.strip() for v in value)

    def _check_policy(self, path: Path) -> None:
        from zegel.policy import Policy, PolicyError

        try:
            Policy.load(path)
        except PolicyError as exc:
            raise self.fail(f"policy: {exc}") from None

    def _signing_table(self, outbound: Mapping[str, Any]) -> tuple[SigningKey, ...]:
        rows = outbound.get("sign", [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise self.fail("outbound.sign must be an array of tables ([[outbound.sign]] with domain, selector, key)")
        keys: list[SigningKey] = []
        seen: set[tuple[str, str]] = set()
        for number, row in enumerate(rows, 1):
            where = f"outbound.sign[{number}]."
            self.known(row, {"domain", "selector", "key"}, where)
            domain = self.domain(row, "domain", where)
            selector = self.selector(row, where)
            if (domain, selector) in seen:
                raise self.fail(f"{where}: {selector}._domainkey.{domain} is listed twice")
            seen.add((domain, selector))
            key_file, algorithm, bits, pem = self.private_key(row, where)
            keys.append(SigningKey(domain, selector, key_file, algorithm, bits, pem))
        return tuple(keys)

    def integer(self, data: Mapping[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"{where}{key} must be a whole number from {low} to {high}, not {value!r}")
        return value

    def address(self, data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = self.string(data, key, where, default)
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain or any(c.isspace() or c in "<>,;\"" for c in value):
            raise self.fail(f"{where}{key}: {value!r} is not a mail address such as dmarc@example.nl")
        return value

    def _failure_reports(self, section: Mapping[str, Any], authserv_id: str) -> FailureReports | None:
        where = "failure_reports."
        self.known(section, {"enabled", "from", "envelope_sender", "org_name", "relay", "starttls", "dry_run_dir",
                             "redact", "redaction_secret_file", "per_domain_per_hour", "per_destination_per_hour",
                             "max_pending"}, where)
        if not self.boolean(section, "enabled", where, bool(section)):
            return None
        if "from" not in section:
            raise self.fail(f"{where}from is required (the From: address of failure reports)")
        from_address = self.address(section, "from", where)
        envelope_sender = self.address(section, "envelope_sender", where, from_address)
        try:
            relay = parse_socket("inet:" + self.string(section, "relay", where, "localhost:25"))
        except ValueError:
            raise self.fail(f"{where}relay must be HOST:PORT such as \"localhost:25\"") from None
        if relay.port == 0:
            raise self.fail(f"{where}relay needs a port (1-65535)")
        dry_run_dir = None
        if "dry_run_dir" in section:
            dry_run_dir = self.path(self.string(section, "dry_run_dir", where))
            if not dry_run_dir.is_dir():
                raise self.fail(f"{where}dry_run_dir: {dry_run_dir} is not a directory")
        secret = ""
        if "redaction_secret_file" in section:
            secret_file = self.path(self.string(section, "redaction_secret_file", where))
            try:
                secret = secret_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
                raise self.fail(f"{where}redaction_secret_file: cannot read {secret_file}: {reason}") from None
            if not secret:
                raise self.fail(f"{where}redaction_secret_file: {secret_file} is empty")
        return FailureReports(
            from_address=from_address, envelope_sender=envelope_sender,
            org_name=self.string(section, "org_name", where, authserv_id),
            relay_host=relay.host, relay_port=relay.port,
            starttls=self.boolean(section, "starttls", where, True), dry_run_dir=dry_run_dir,
            redact=self.boolean(section, "redact", where, True), redaction_secret=secret,
            per_domain_per_hour=self.integer(section, "per_domain_per_hour", where, 10, 1, 100_000),
            per_destination_per_hour=self.integer(section, "per_destination_per_hour", where, 20, 1, 100_000),
            max_pending=self.integer(section, "max_pending", where, 100, 1, 100_000),
        )

    def _arc(self, arc: Mapping[str, Any]) -> ArcSealing | None:
        self.known(arc, {"enabled", "domain", "selector", "key", "recipient_domains"}, "arc.")
        if not self.boolean(arc, "enabled", "arc.", True):
            return None
        domain = self.domain(arc, "domain", "arc.")
        selector = self.selector(arc, "arc.")
        key_file, algorithm, _, pem = self.private_key(arc, "arc.")
        recipients = frozenset(d.lower().rstrip(".") for d in self._string_list(arc, "recipient_domains", "arc."))
        return ArcSealing(domain, selector, key_file, algorithm, pem, recipients)


def describe(config: MilterConfig) -> dict[str, Any]:
    """A JSON-friendly summary for ``--check-config``."""
    return {
        "source": config.source,
        "authserv_id": config.authserv_id,
        "socket": str(config.socket),
        "workers": "auto" if config.workers == 0 else config.workers,
        "policy": str(config.policy_file) if config.policy_file else "default (honour the sender's DMARC policy)",
        "on_error": config.on_error,
        "inbound": {"verify": config.verify_inbound, "quarantine": config.quarantine,
                    "max_message_size": config.max_message_size},
        "outbound": {
            "trusted_networks": [str(n) for n in config.trusted_networks],
            "authenticated_clients": config.sign_authenticated,
            "signing": [{"domain": k.domain, "selector": k.selector, "algorithm": k.algorithm,
                         "bits": k.key_bits, "key": str(k.key_file)} for k in config.signing],
        },
        "arc": None if config.arc is None else {"domain": config.arc.domain, "selector": config.arc.selector,
                                                "algorithm": config.arc.algorithm},
        "reports": config.reports_database,
        "failure_reports": None if config.failure_reports is None else {
            "from": config.failure_reports.from_address,
            "relay": (f"dry run into {config.failure_reports.dry_run_dir}" if config.failure_reports.dry_run_dir
                      else f"{config.failure_reports.relay_host}:{config.failure_reports.relay_port}"),
            "redact": config.failure_reports.redact,
            "per_domain_per_hour": config.failure_reports.per_domain_per_hour},
        "metrics": None if config.metrics_listen is None else f"http://{config.metrics_listen[0]}:{config.metrics_listen[1]}/metrics",
        "dns": {"nameservers": list(config.nameservers) or "system resolv.conf",
                "timeout": config.dns_timeout, "lifetime": config.dns_lifetime},
    }

