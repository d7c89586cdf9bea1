"""API keys and the audit log.

A key is ``rgk_<12 hex>_<43 url-safe chars>``: the first 16 characters are a public prefix used to find the row,
the rest is 256 bits of randomness. Only ``sha256(key)`` is stored. A fast hash is enough here because the key is
random and long (nothing to brute-force from a dictionary); a slow KDF would add milliseconds to every request.
The comparison is constant-time, and a lookup that finds no row still hashes and compares, so timing does not
tell an unknown prefix from a wrong secret.

Scopes are independent: ``read`` (every GET), ``score`` (ad-hoc scoring), ``admin`` (runs, watchlist, alerts).
Creating and revoking a key each write an ``audit_log`` row in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_assets.storage.schema import api_keys, audit_log
from risk_assets.storage.warehouse import Warehouse, utc_now

SCOPES: tuple[str, ...] = ("read", "score", "admin")
KEY_PREFIX = "rgk_"
_PREFIX_LENGTH = len(KEY_PREFIX) + 12
_KEY_PATTERN = re.compile(r"^rgk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class ApiKeyError(ValueError):
    """A key request the store refuses: bad name or scopes, a duplicate, an unknown key. The message says why."""


@dataclass(frozen=True)
class NewKey:
    """A freshly created key. ``secret`` is the only copy of the key: it is never stored or shown again."""

    name: str
    scopes: tuple[str, ...]
    prefix: str
    secret: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Principal:
    """Who a verified key belongs to and what it may do."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_scopes(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"read,score"`` -> ``("read", "score")`` in canonical order; unknown or no scopes are refused."""
    items = text.split(",") if isinstance(text, str) else list(text)
    wanted = {item.strip().lower() for item in items if item.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ApiKeyError(f"unknown scope(s) {unknown}; choose from {list(SCOPES)}")
    if not wanted:
        raise ApiKeyError(f"give at least one scope of {list(SCOPES)}")
    return tuple(scope for scope in SCOPES if scope in wanted)


def record_audit(
    connection: Connection, *, actor: str, action: str, target: str | None = None, detail: str | None = None
) -> None:
    """Append one audit row inside the caller's transaction (so the action and its record commit together)."""
    connection.execute(
        sa.insert(audit_log).values(
            at=utc_now(),
            actor=actor[:80],
            action=action[:64],
            target=None if target is None else target[:200],
            detail=None if detail is None else detail[:2000],
        )
    )


@dataclass(frozen=True)
class Audit:
    """Who a change is made for. A storage function given one writes its audit row inside the change's own
    transaction: the change and its record commit together or not at all."""

    actor: str
    detail: str | None = None

    def record(self, connection: Connection, *, action: str, target: str | None = None) -> None:
        record_audit(connection, actor=self.actor, action=action, target=target, detail=self.detail)


def create_key(
    warehouse: Warehouse, name: str, scopes: str | list[str] | tuple[str, ...], *, actor: str
) -> NewKey:
    """Create a key and return it with its secret (shown once). A revoked key's name may be reused; an active
    key's may not (revoke it first)."""
    if not _NAME_PATTERN.match(name):
        raise ApiKeyError(
            "key name: 1-80 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    chosen = parse_scopes(scopes)
    prefix = KEY_PREFIX + secrets.token_hex(6)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    created_at = utc_now()
    with warehouse.transaction() as conn:
        existing = conn.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.name == name)).first()
        if existing is not None and existing.revoked_at is None:
            raise ApiKeyError(f"an active key named {name!r} exists: revoke it first")
        if existing is not None:
            conn.execute(sa.delete(api_keys).where(api_keys.c.name == name))
        conn.execute(
            sa.insert(api_keys).values(
                name=name,
                key_prefix=prefix,
                key_hash=hash_key(secret),
                scopes=",".join(chosen),
                created_at=created_at,
                revoked_at=None,
            )
        )
        record_audit(
            conn, actor=actor, action="create_api_key", target=name, detail=f"scopes={','.join(chosen)}"
        )
    return NewKey(name, chosen, prefix, secret, created_at)


def revoke_key(warehouse: Warehouse, name: str, *, actor: str) -> bool:
    """Revoke the active key ``name``; False when there is none (already revoked or never created)."""
    with warehouse.transaction() as conn:
        result = conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utc_now())
        )
        if result.rowcount == 0:
            return False
        record_audit(conn, actor=actor, action="revoke_api_key", target=name)
    return True


def list_keys(warehouse: Warehouse) -> list[dict]:
    """Every key's name, prefix, scopes and dates (never its hash)."""
    statement = sa.select(
        api_keys.c.name,
        api_keys.c.key_prefix,
        api_keys.c.scopes,
        api_keys.c.created_at,
        api_keys.c.revoked_at,
    ).order_by(api_keys.c.name)
    with warehouse.engine.connect() as conn:
        return [dict(row) for row in conn.execute(statement).mappings()]


# Built once: constructing a select costs more than running it on SQLite, and this runs on every request.
_VERIFY = sa.select(api_keys.c.name, api_keys.c.key_hash, api_keys.c.scopes, api_keys.c.revoked_at).where(
    api_keys.c.key_prefix == sa.bindparam("prefix")
)


def verify_key(warehouse: Warehouse, presented: str | None) -> Principal | None:
    """The principal of an active key, or None for a missing, malformed, unknown, wrong or revoked key."""
    if not presented or not _KEY_PATTERN.match(presented):
        return None
    with warehouse.engine.connect() as conn:
        row = conn.execute(_VERIFY, {"prefix": presented[:_PREFIX_LENGTH]}).first()
    stored = row.key_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(stored, hash_key(presented))
    if row is None or not matches or row.revoked_at is not None:
        return None
    return Principal(row.name, frozenset(row.scopes.split(",")))


def audit_rows(warehouse: Warehouse, *, action: str | None = None, limit: int = 100) -> list[dict]:
    """The newest audit rows first (optionally one action only)."""
    statement = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if action is not None:
        statement = statement.where(audit_log.c.action == action)
    with warehouse.engine.connect() as conn:
        return [dict(row) for row in conn.execute(statement).mappings()]
