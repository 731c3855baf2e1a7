"""Named users: API keys that belong to people (name, organisation, role), stored hashed.

A key looks like ``cim_<key id>_<secret>``. The store keeps the key id (to find the row), a random
per-key salt and ``sha256(salt || secret)`` — never the key. A presented key is checked by
recomputing the hash and comparing in constant time. Keys are rotated (a new key, the old one
stops working at once) and revoked (the user can no longer sign in; the row stays, so the audit
trail still names them). Every change is written to the audit trail.

Example:
    >>> key = add_user(city, "wang.li", name="王丽", organisation="历下区住建局", role="operator")  # doctest: +SKIP
    >>> authenticate(city, key).role                                                             # doctest: +SKIP
    'operator'
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from cim.access import check_role
from cim.audit import record_audit
from cim.errors import ValidationError

if TYPE_CHECKING:
    from cim.city import City

_KEY = re.compile(r"^cim_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
_USER_ID = re.compile(r"^[\w.@-]{1,64}$")


@dataclass(frozen=True)
class User:
    """A person who holds an API key."""

    id: str
    name: str
    organisation: str | None
    role: str


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _new_key() -> tuple[str, str, str, str]:
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    return f"cim_{key_id}_{secret}", key_id, salt, _hash(salt, secret)


def add_user(city: City, user_id: str, *, name: str, role: str, organisation: str | None = None,
             actor: str | None = None) -> str:
    """Create a user and return their API key (shown once: only its hash is kept)."""
    if not _USER_ID.match(user_id):
        raise ValidationError(f"bad user id {user_id!r}: use 1–64 letters, digits, '.', '@', '_' or '-'")
    check_role(role)
    if not name.strip():
        raise ValidationError("a user needs a name (--name)")
    key, key_id, salt, digest = _new_key()
    with city.store.transaction():
        if city.store.rows("SELECT 1 FROM users WHERE id = ?", [user_id]):
            raise ValidationError(f"user {user_id!r} exists: rotate their key with `cim users rotate`")
        city.store.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                           [user_id, name, organisation, role, key_id, salt, digest, datetime.now(UTC)])
        record_audit(city, role="admin", actor=actor, action="write", path="users", layer="users",
                     filter={"add": user_id, "role": role}, rows=1)
    return key


def rotate_key(city: City, user_id: str, *, actor: str | None = None) -> str:
    """A new key for ``user_id``; the old one stops working at once. Returns the new key."""
    key, key_id, salt, digest = _new_key()
    with city.store.transaction():
        _require(city, user_id, active=True)
        city.store.execute("UPDATE users SET key_id = ?, key_salt = ?, key_hash = ?, rotated_at = ? WHERE id = ?",
                           [key_id, salt, digest, datetime.now(UTC), user_id])
        record_audit(city, role="admin", actor=actor, action="write", path="users", layer="users",
                     filter={"rotate": user_id}, rows=1)
    return key


def revoke_user(city: City, user_id: str, *, actor: str | None = None) -> None:
    """``user_id`` can no longer sign in (the row stays, so the audit trail still names them)."""
    with city.store.transaction():
        _require(city, user_id, active=True)
        city.store.execute("UPDATE users SET revoked_at = ? WHERE id = ?", [datetime.now(UTC), user_id])
        record_audit(city, role="admin", actor=actor, action="write", path="users", layer="users",
                     filter={"revoke": user_id}, rows=1)


def list_users(city: City) -> pa.Table:
    """Every user (id, name, organisation, role, created, rotated, revoked) — never a key or hash."""
    return city.store.arrow("SELECT id, name, organisation, role, created_at, rotated_at, revoked_at "
                            "FROM users ORDER BY id")


def _require(city: City, user_id: str, *, active: bool) -> None:
    row = city.store.rows("SELECT revoked_at FROM users WHERE id = ?", [user_id])
    if not row:
        raise ValidationError(f"no user {user_id!r}: see `cim users list`")
    if active and row[0][0] is not None:
        raise ValidationError(f"user {user_id!r} was revoked; add them again under a new id")


def authenticate(city: City, key: str) -> User | None:
    """The active user ``key`` belongs to, or None (unknown, malformed, rotated or revoked)."""
    match = _KEY.match(key)
    if not match:
        return None
    key_id, secret = match.groups()
    rows = city.store.rows("SELECT id, name, organisation, role, key_salt, key_hash FROM users "
                           "WHERE key_id = ? AND revoked_at IS NULL", [key_id])
    found = None
    for user_id, name, organisation, role, salt, digest in rows:
        if hmac.compare_digest(_hash(salt, secret), digest):
            found = User(user_id, name, organisation, role)
    return found


class UserDirectory:
    """Keys resolved for a server: a valid key is remembered for ``ttl_s`` seconds, so a tile request
    costs no database read, and a revoked or rotated key stops working within that time."""

    def __init__(self, city: City, ttl_s: float = 2.0) -> None:
        self.city, self.ttl_s = city, ttl_s
        self._seen: dict[str, tuple[float, User | None]] = {}
        self._lock = threading.Lock()

    def resolve(self, key: str) -> User | None:
        """The user ``key`` belongs to, or None."""
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        user = authenticate(self.city, key)
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (now, user)
        return user


__all__ = ["User", "UserDirectory", "add_user", "rotate_key", "revoke_user", "list_users",
           "authenticate"]
