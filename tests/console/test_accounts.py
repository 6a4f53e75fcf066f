"""Accounts on SQLite and on a throw-away PostgreSQL: passwords (argon2), sessions with an
injected clock, API tokens, per-domain access and the audit log; several users at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from tests.reports.conftest import PgCluster, pg_cluster  # noqa: F401 (the session fixture)
from zegel.accounts import SESSION_LIFETIME, AccessDenied, AccountError, Accounts, open_accounts

FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | None, Path]:
    if request.param == "sqlite":
        return None, tmp_path
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database(), tmp_path


@pytest.fixture
def accounts(db: tuple[str | None, Path]) -> Iterator[tuple[Accounts, Clock]]:
    clock = Clock()
    opened = open_accounts(db[0], db[1], clock=clock, hasher=FAST)
    yield opened, clock
    opened.close()


def test_password_login_session_expiry_and_audit(accounts: tuple[Accounts, Clock]) -> None:
    store, clock = accounts
    store.add_user("alice", "correct horse battery", domains=["Shop.Example."])
    assert store.authenticate("alice", "wrong password", client="192.0.2.1") is None
    assert store.authenticate("nobody", "correct horse battery") is None
    alice = store.authenticate("alice", "correct horse battery", client="192.0.2.1")
    assert alice is not None and alice.domains == frozenset({"shop.example"}) and not alice.admin
    session = store.start_session(alice)
    assert store.session_identity(session) == alice
    assert store.session_identity(session + "x") is None
    clock.now += SESSION_LIFETIME + 1
    assert store.session_identity(session) is None  # expired
    with store.engine.connect() as conn:  # only a digest of the password is stored
        hashed = conn.exec_driver_sql("SELECT password_hash FROM console_users").scalar()
    assert hashed.startswith("$argon2id$") and "correct" not in hashed
    actions = [(e.actor, e.action, e.client) for e in store.audit_log()]
    assert ("alice", "login.ok", "192.0.2.1") in actions and ("alice", "login.failed", "192.0.2.1") in actions
    assert ("nobody", "login.failed", "") in actions and ("cli", "user.add", "") in actions


def test_tokens_and_per_domain_access(accounts: tuple[Accounts, Clock]) -> None:
    store, _ = accounts
    store.add_user("alice", "correct horse battery", domains=["shop.example"])
    store.add_user("bob", "another good password", domains=["bakery.example"])
    store.add_user("root", "administrator pass", admin=True)
    token = store.create_token("alice", "ci")
    assert token.startswith("zgl_")
    alice = store.token_identity(token)
    assert alice is not None and alice.via == "token"
    assert alice.require("SHOP.example.") == "shop.example"
    with pytest.raises(AccessDenied):
        alice.require("bakery.example")
    with pytest.raises(AccessDenied):
        alice.require("")
    root = store.identity("root")
    assert root is not None and root.may_see("anything.example")
    assert store.token_identity("zgl_" + "A" * 43) is None and store.token_identity("not-a-token") is None
    assert store.revoke_tokens("alice") == 1 and store.token_identity(token) is None
    store.revoke("bob", "bakery.example")
    assert store.identity("bob").domains == frozenset()  # type: ignore[union-attr]
    with pytest.raises(AccountError):
        store.add_user("bad name", "long enough password")
    with pytest.raises(AccountError):
        store.add_user("carol", "short")
    assert [u[0] for u in store.users()] == ["alice", "bob", "root"]


def test_proxy_header_identity_only_for_known_users(accounts: tuple[Accounts, Clock]) -> None:
    store, _ = accounts
    store.add_user("sso-user", None, domains=["shop.example"])
    assert store.proxy_identity("sso-user") is not None
    assert store.proxy_identity("stranger") is None
    assert store.proxy_identity("x\r\ny") is None
    assert store.authenticate("sso-user", "") is None  # no password set: no password login


def test_many_users_at_once(accounts: tuple[Accounts, Clock]) -> None:
    store, _ = accounts
    errors: list[BaseException] = []

    def user(n: int) -> None:
        try:
            name = f"user{n}"
            store.add_user(name, f"password number {n}", domains=[f"customer{n}.example"])
            me = store.authenticate(name, f"password number {n}")
            assert me is not None
            session = store.start_session(me)
            token = store.create_token(name)
            for other in range(8):
                assert store.session_identity(session).may_see(f"customer{other}.example") == (other == n)  # type: ignore[union-attr]
            assert store.token_identity(token) == store.identity(name, via="token")
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.users()) == 8
    assert sum(1 for e in store.audit_log(1000) if e.action == "login.ok") == 8
