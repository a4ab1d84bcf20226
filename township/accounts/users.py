"""Users who sign in: a role of docs/design.md §5, a password kept only as a scrypt hash.

Hashing uses the standard library's ``hashlib.scrypt`` (no new dependency):
``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``, a fresh 16-byte salt per
password, compared in constant time.

Demo users (:func:`seed_demo_users`, for the illustrative data only — change
or delete them on a real deployment):

==========  ===============  =========  ==========================================
username    password         role       scope
==========  ===============  =========  ==========================================
admin       dalu-admin-2024  admin      everything, user management
command     dalu-command     command    the whole town (指挥中心)
village01   dalu-village01   village    小滩子村 DL-01 only
responder   dalu-responder   responder  acts as grid officer H-OF-DL-01-01
wall        dalu-wall        wall       read-only, masked (大屏)
party01     dalu-party01     responder  party member H-PM-DL-01-01-01 (field app /m)
party02     dalu-party02     responder  party member H-PM-DL-01-01-02 (field app /m)
party03     dalu-party03     responder  party member H-PM-DL-03-01-01 (field app /m)
==========  ===============  =========  ==========================================
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from township.domain.policy import check_role
from township.store.models import User, utcnow
from township.store.uow import session_scope

#: scrypt cost: 2**14 × 8 × 128 bytes = 16 MiB and tens of milliseconds per check (OWASP's minimum).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
#: Shortest password accepted.
MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

#: (username, password, role, village_id, display name, handler_id) of the demo users.
DEMO_USERS: list[tuple[str, str, str, str | None, str, str | None]] = [
    ("admin", "dalu-admin-2024", "admin", None, "系统管理员", None),
    ("command", "dalu-command", "command", None, "镇指挥中心", None),
    ("village01", "dalu-village01", "village", "DL-01", "小滩子村值班员", None),
    ("responder", "dalu-responder", "responder", None, "小滩子村第1网格网格员", "H-OF-DL-01-01"),
    ("wall", "dalu-wall", "wall", None, "指挥大屏", None),
    # Party members (党员) who take orders in the field app (/m): the first two of 小滩子村第1网格
    # (the first is a 党员中心户) and one of 常树梁村.
    ("party01", "dalu-party01", "responder", None, "小滩子村第1网格党员01", "H-PM-DL-01-01-01"),
    ("party02", "dalu-party02", "responder", None, "小滩子村第1网格党员02", "H-PM-DL-01-01-02"),
    ("party03", "dalu-party03", "responder", None, "常树梁村第1网格党员01", "H-PM-DL-03-01-01"),
]


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in the stored form."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=64 * 1024 * 1024)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash (a malformed hash matches nothing)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def create_user(engine: Engine, username: str, password: str, role: str, village_id: str | None = None,
                display_name: str | None = None, handler_id: str | None = None) -> int:
    """Store a new user and return its id.

    Raises
    ------
    ValueError
        A bad username, a password shorter than `MIN_PASSWORD`, an unknown
        role, a village role without a village (or another role with one),
        or a username already taken.
    """
    if not _USERNAME.match(username or ""):
        raise ValueError("username: 1 to 64 letters, digits, '_', '.', '-'")
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")
    check_role(role)
    if (role == "village") != bool(village_id):
        raise ValueError("a village user needs a village_id; other roles take none")
    try:
        with session_scope(engine) as s:
            user = User(username=username, password_hash=hash_password(password), role=role,
                        village_id=village_id, display_name=(display_name or username)[:64],
                        handler_id=handler_id, active=True, created_at=utcnow())
            s.add(user)
            s.flush()
            return user.id
    except IntegrityError:
        raise ValueError(f"a user named {username!r} already exists") from None


def check_password(engine: Engine, username: str, password: str) -> User | None:
    """The active user if ``password`` is theirs, else ``None`` (unknown users cost the same time)."""
    with Session(engine) as s:
        user = s.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Hash anyway so that timing does not tell which usernames exist.
        verify_password(_dummy(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


def seed_demo_users(engine: Engine) -> int:
    """Create the demo users of :data:`DEMO_USERS` that are missing; return how many were created."""
    with Session(engine) as s:
        have = set(s.scalars(select(User.username)))
    made = 0
    for username, password, role, village, name, handler in DEMO_USERS:
        if username in have:
            continue
        try:
            create_user(engine, username, password, role, village, name, handler)
            made += 1
        except ValueError:  # created meanwhile by another process
            pass
    return made


@functools.cache
def _dummy() -> str:
    # Made on first use, not at import: one scrypt costs tens of milliseconds.
    return hash_password(secrets.token_hex(8))
