"""Users, per-domain access, sessions, API tokens and the audit log (SQLAlchemy Core)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from zegel.reports.store import StoreError, _translate, create_engine, migrate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "zegel_accounts_version"
SESSION_LIFETIME = 12 * 3600  # an idle-free working day; the cookie carries the same Max-Age
TOKEN_PREFIX = "zgl_"
MAX_PASSWORD = 1024  # argon2 hashes anything; a bound keeps one login from costing unbounded work
_NAME = re.compile(r"[A-Za-z0-9._@+-]{1,255}\Z")

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()
users = sa.Table(
    "console_users", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255)),
    sa.Column("password_hash", sa.Text),
    sa.Column("admin", sa.Boolean),
    sa.Column("created_at", sa.BigInteger),
)
access = sa.Table(
    "console_access", metadata,
    sa.Column("user_id", Id),
    sa.Column("domain", sa.String(255)),
)
sessions = sa.Table(
    "console_sessions", metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("user_id", Id),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("expires_at", sa.BigInteger),
)
tokens = sa.Table(
    "console_tokens", metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("user_id", Id),
    sa.Column("label", sa.String(255)),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("last_used", sa.BigInteger),
)
audit = sa.Table(
    "console_audit", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("time", sa.BigInteger),
    sa.Column("actor", sa.String(255)),
    sa.Column("action", sa.String(64)),
    sa.Column("detail", sa.Text),
    sa.Column("client", sa.String(64)),
)


class AccountError(ValueError):
    """A request about accounts that cannot be done (unknown user, bad name); one line."""


class AccessDenied(PermissionError):
    """The identity may not see this domain. The message never says whether it exists."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking: a user name, whether they administer the console (see every domain,
    manage users), and the domains they may see otherwise."""

    name: str
    admin: bool
    domains: frozenset[str]
    via: str = "session"  # session | token | proxy

    def may_see(self, domain: str) -> bool:
        return self.admin or _domain_key(domain) in self.domains

    def require(self, domain: str) -> str:
        """The normalised domain, or AccessDenied (the same answer for unknown domains)."""
        key = _domain_key(domain)
        if not key or not self.may_see(key):
            raise AccessDenied(f"no access to {key or 'that domain'}")
        return key


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: int
    actor: str
    action: str
    detail: str
    client: str


def _domain_key(domain: str) -> str:
    return domain.strip().rstrip(".").lower()[:255]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class Accounts:
    """The account store. Thread-safe (the engine pools connections). ``clock`` returns Unix
    seconds; tests pass their own to drive session expiry."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        # A hash to verify against for unknown names, so a login's timing does not tell
        # whether the name exists.
        self._dummy_hash = self.hasher.hash(secrets.token_hex(8))

    def _now(self) -> int:
        return int(self.clock())

    def close(self) -> None:
        self.engine.dispose()

    # --- users -------------------------------------------------------------------------

    def add_user(self, name: str, password: str | None, *, admin: bool = False,
                 domains: Iterable[str] = (), actor: str = "cli", client: str = "") -> None:
        """Create a user, or set the password of an existing one (``password=None``: the user
        logs in only through the trusted proxy header)."""
        if not _NAME.match(name):
            raise AccountError("a user name is 1-255 letters, digits and . _ @ + -")
        if password is not None and not 8 <= len(password) <= MAX_PASSWORD:
            raise AccountError(f"a password has 8 to {MAX_PASSWORD} characters")
        hashed = self.hasher.hash(password) if password is not None else None
        try:
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(users.c.id).where(users.c.name == name)).first()
                if row is None:
                    conn.execute(users.insert().values(name=name, password_hash=hashed, admin=admin,
                                                       created_at=self._now()))
                    action = "user.add"
                else:
                    conn.execute(users.update().where(users.c.id == row[0])
                                 .values(password_hash=hashed, admin=admin))
                    conn.execute(sessions.delete().where(sessions.c.user_id == row[0]))  # new password: log out
                    action = "user.password"
                self._audit(conn, actor, action, name, client)
        except IntegrityError:
            raise AccountError(f"user {name} was just created by someone else; try again") from None
        except SQLAlchemyError as err:
            raise _translate(err) from None
        for domain in domains:
            self.grant(name, domain, actor=actor, client=client)

    def _user_id(self, conn: sa.Connection, name: str) -> int:
        row = conn.execute(sa.select(users.c.id).where(users.c.name == name)).first()
        if row is None:
            raise AccountError(f"no user {name}")
        return int(row[0])

    def users(self) -> list[tuple[str, bool, list[str]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users.c.id, users.c.name, users.c.admin).order_by(users.c.name)).all()
            grants: dict[int, list[str]] = {}
            for user_id, domain in conn.execute(sa.select(access.c.user_id, access.c.domain).order_by(access.c.domain)):
                grants.setdefault(int(user_id), []).append(domain)
        return [(name, bool(admin), grants.get(int(uid), [])) for uid, name, admin in rows]

    def grant(self, name: str, domain: str, *, actor: str = "cli", client: str = "") -> None:
        key = _domain_key(domain)
        if not key:
            raise AccountError("empty domain")
        with self.engine.begin() as conn:
            user_id = self._user_id(conn, name)
            exists = conn.execute(sa.select(access.c.domain).where(access.c.user_id == user_id,
                                                                   access.c.domain == key)).first()
            if exists is None:
                conn.execute(access.insert().values(user_id=user_id, domain=key))
                self._audit(conn, actor, "access.grant", f"{name} {key}", client)

    def revoke(self, name: str, domain: str, *, actor: str = "cli", client: str = "") -> None:
        key = _domain_key(domain)
        with self.engine.begin() as conn:
            user_id = self._user_id(conn, name)
            conn.execute(access.delete().where(access.c.user_id == user_id, access.c.domain == key))
            self._audit(conn, actor, "access.revoke", f"{name} {key}", client)

    def identity(self, name: str, via: str = "session") -> Identity | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users.c.id, users.c.admin).where(users.c.name == name)).first()
            if row is None:
                return None
            domains = frozenset(d for (d,) in conn.execute(sa.select(access.c.domain)
                                                           .where(access.c.user_id == row[0])))
        return Identity(name, bool(row[1]), domains, via)

    # --- logging in ----------------------------------------------------------------------

    def authenticate(self, name: str, password: str, *, client: str = "") -> Identity | None:
        """The identity for a correct name and password, else None. Both outcomes are audited."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users.c.id, users.c.password_hash)
                               .where(users.c.name == name[:255])).first()
        stored = row[1] if row is not None and row[1] else self._dummy_hash
        ok = False
        if len(password) <= MAX_PASSWORD:
            try:
                ok = self.hasher.verify(stored, password) and row is not None and bool(row[1])
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        self.log(name[:255] if ok else _printable(name), "login.ok" if ok else "login.failed", "", client)
        if not ok or row is None:
            return None
        if self.hasher.check_needs_rehash(stored):
            with self.engine.begin() as conn:
                conn.execute(users.update().where(users.c.id == row[0]).values(password_hash=self.hasher.hash(password)))
        return self.identity(name)

    def proxy_identity(self, name: str, *, client: str = "") -> Identity | None:
        """The user a trusted reverse proxy vouches for (its header names them). Only known
        users are let in: the proxy authenticates, the console still decides what they see."""
        if not _NAME.match(name):
            return None
        found = self.identity(name, via="proxy")
        if found is not None:
            self.log(name, "login.proxy", "", client)
        return found

    def start_session(self, identity: Identity, *, client: str = "") -> str:
        """A new session id (the cookie value); only its digest is stored."""
        session_id = secrets.token_urlsafe(32)
        now = self._now()
        with self.engine.begin() as conn:
            user_id = self._user_id(conn, identity.name)
            conn.execute(sessions.delete().where(sessions.c.expires_at < now))
            conn.execute(sessions.insert().values(digest=_digest(session_id), user_id=user_id, created_at=now,
                                                  expires_at=now + SESSION_LIFETIME))
        return session_id

    def session_identity(self, session_id: str) -> Identity | None:
        if not session_id or len(session_id) > 128:
            return None
        query = (sa.select(users.c.name).select_from(sessions.join(users, sessions.c.user_id == users.c.id))
                 .where(sessions.c.digest == _digest(session_id), sessions.c.expires_at > self._now()))
        with self.engine.connect() as conn:
            name = conn.execute(query).scalar()
        return self.identity(name) if name is not None else None

    def end_session(self, session_id: str, *, actor: str = "", client: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.digest == _digest(session_id)))
            if actor:
                self._audit(conn, actor, "logout", "", client)

    # --- API tokens ----------------------------------------------------------------------

    def create_token(self, name: str, label: str = "", *, actor: str = "cli", client: str = "") -> str:
        """A new API token for ``name`` (shown once; only its digest is stored)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            user_id = self._user_id(conn, name)
            conn.execute(tokens.insert().values(digest=_digest(token), user_id=user_id, label=label[:255],
                                                created_at=self._now(), last_used=None))
            self._audit(conn, actor, "token.create", f"{name} {label}".strip(), client)
        return token

    def token_identity(self, token: str) -> Identity | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            return None
        digest = _digest(token)
        query = (sa.select(users.c.name).select_from(tokens.join(users, tokens.c.user_id == users.c.id))
                 .where(tokens.c.digest == digest))
        with self.engine.begin() as conn:
            name = conn.execute(query).scalar()
            if name is not None:
                conn.execute(tokens.update().where(tokens.c.digest == digest).values(last_used=self._now()))
        return self.identity(name, via="token") if name is not None else None

    def revoke_tokens(self, name: str, *, actor: str = "cli", client: str = "") -> int:
        with self.engine.begin() as conn:
            user_id = self._user_id(conn, name)
            count = conn.execute(tokens.delete().where(tokens.c.user_id == user_id)).rowcount
            self._audit(conn, actor, "token.revoke", name, client)
        return int(count or 0)

    # --- audit log -----------------------------------------------------------------------

    def _audit(self, conn: sa.Connection, actor: str, action: str, detail: str, client: str) -> None:
        conn.execute(audit.insert().values(time=self._now(), actor=_printable(actor)[:255], action=action[:64],
                                           detail=_printable(detail)[:2000], client=client[:64]))

    def log(self, actor: str, action: str, detail: str = "", client: str = "") -> None:
        """Record a change or a login in the audit log."""
        try:
            with self.engine.begin() as conn:
                self._audit(conn, actor, action, detail, client)
        except SQLAlchemyError as err:
            raise _translate(err) from None

    def audit_log(self, limit: int = 100, actor: str | None = None) -> list[AuditEntry]:
        query = sa.select(audit.c.time, audit.c.actor, audit.c.action, audit.c.detail, audit.c.client)
        if actor is not None:
            query = query.where(audit.c.actor == actor)
        query = query.order_by(audit.c.id.desc()).limit(max(1, min(limit, 10_000)))
        with self.engine.connect() as conn:
            return [AuditEntry(int(r[0]), r[1], r[2], r[3], r[4]) for r in conn.execute(query)]


def _printable(text: str) -> str:
    # The log is read by people and by terminals: no control characters from a login form.
    return "".join(ch if ch.isprintable() else "?" for ch in text[:255])


def open_accounts(url: str | None = None, data_dir: Path | None = None, *,
                  clock: Callable[[], float] = time.time, hasher: PasswordHasher | None = None) -> Accounts:
    """Open (and create or upgrade) the account tables in the reports database."""
    engine = create_engine(url, data_dir)
    try:
        migrate(engine, MIGRATIONS, VERSION_TABLE)
    except StoreError:
        engine.dispose()
        raise
    return Accounts(engine, clock=clock, hasher=hasher)
