"""What one ``zegel web`` instance is configured with (built by the CLI, or by tests and embedders)."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one request may cost. Per-client-IP rates are requests per minute."""

    body: int = 64 * KIB  # default for every request body
    explain_body: int = 2 * MIB  # pasted headers or an uploaded .eml
    bulk_body: int = 1 * MIB  # an uploaded list of domains
    bulk_domains: int = 500  # domains read from one list; the rest are ignored (and said so)
    bulk_jobs: int = 8  # bulk checks running at once, whole server
    bulk_concurrency: int = 10  # domains checked at once within one bulk check
    smtp_message: int = 2 * MIB  # the tester's SMTP DATA limit
    smtp_connections: int = 50  # SMTP sessions at once; more are refused with 421
    check_timeout: float = 10.0  # seconds one domain check may take
    checks_per_minute: int = 30  # domain checks (page and API) per client IP
    explains_per_minute: int = 60
    tools_per_minute: int = 20  # key generation and builders
    testers_per_minute: int = 10  # new tester addresses
    tester_ttl: float = 3600.0  # seconds a tester address and its result live
    shared_ttl: float = 30 * 86400.0  # seconds a shared (saved) result lives
    draft_bytes: int = 16 * KIB  # draft records pasted for one check


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of the web app. Every field has a default so tests can override one."""

    zones: tuple[str, ...] = ()
    nameservers: tuple[str, ...] = ()
    offline: bool = False
    dns_timeout: float = 3.0
    data_dir: Path | None = None  # SQLite database directory (default: zegel's data directory)
    db_url: str | None = None  # a PostgreSQL (or other SQLAlchemy) URL instead of SQLite
    smtp_listen: tuple[str, int] | None = None  # the mail tester's receiver; None: tester off
    mail_domain: str = ""  # the domain of tester addresses (default: this host's name)
    authserv_id: str = ""  # the tester receiver's name in Authentication-Results
    secret: str = ""  # signs CSRF tokens; random per process when empty
    limits: Limits = field(default_factory=Limits)
    site_name: str = "zegel"
    demo_messages: Path | None = None  # sample .eml files offered on the header analyzer page

    def effective_secret(self) -> str:
        return self.secret or os.environ.get("ZEGEL_WEB_SECRET", "") or secrets.token_hex(32)

    def effective_mail_domain(self) -> str:
        return (self.mail_domain or socket.getfqdn() or "localhost").strip().rstrip(".").lower()

    def effective_authserv_id(self) -> str:
        return self.authserv_id or self.effective_mail_domain()


__all__ = ["KIB", "MIB", "Limits", "Settings"]
