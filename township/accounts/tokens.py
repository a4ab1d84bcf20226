"""API tokens: created once and shown once, kept only as their SHA-256.

A token names a role (docs/design.md §5). Only ``admin``, ``command`` and
``village`` tokens may write; a ``village`` token is bound to one village.
A ``responder`` token may be bound to one handler (a grid officer or party
member): the closed loop's moves then act as that handler.
"""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from township.domain.policy import check_role
from township.store.models import ApiToken, Handler, TokenHandler, utcnow
from township.store.uow import session_scope


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(engine: Engine, name: str, role: str, village_id: str | None = None,
                 handler_id: str | None = None) -> str:
    """Store a new token and return its plain value (the only time it is seen).

    Parameters
    ----------
    engine : Engine
        The store.
    name : str
        Who holds the token (unique), e.g. ``hotline-bridge``.
    role : str
        One of `township.domain.vocab.ROLES`.
    village_id : str, optional
        The village of a ``village`` token; required for that role, refused for others.
    handler_id : str, optional
        The handler a ``responder`` token acts as (``H-OF-DL-01-01``); refused for other roles.

    Raises
    ------
    ValueError
        Unknown role, a missing or superfluous village, a handler for another
        role or one that does not exist, or a name already taken.
    """
    check_role(role)
    if (role == "village") != bool(village_id):
        raise ValueError("a village token needs --village; other roles take none")
    if handler_id is not None and role != "responder":
        raise ValueError("only a responder token acts as a handler (--handler)")
    if not name or len(name) > 64:
        raise ValueError("the token name must be 1 to 64 characters")
    token = secrets.token_urlsafe(32)
    try:
        with session_scope(engine) as s:
            if handler_id is not None and s.get(Handler, handler_id) is None:
                raise ValueError(f"handler {handler_id!r} does not exist")
            row = ApiToken(name=name, token_sha256=_digest(token), role=role, village_id=village_id,
                           created_at=utcnow())
            s.add(row)
            if handler_id is not None:
                s.flush()
                s.add(TokenHandler(token_id=row.id, handler_id=handler_id))
    except IntegrityError:
        raise ValueError(f"a token named {name!r} already exists") from None
    return token


def check_token(engine: Engine, token: str | None) -> ApiToken | None:
    """The stored token matching ``token``, or ``None`` for an unknown or empty one.

    Only the digest is looked up, so the comparison does not leak the stored
    value through timing.
    """
    if not token:
        return None
    # A closed session leaves the loaded row readable (detached), which is all callers need.
    with Session(engine) as s:
        return s.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))


def token_handler(engine: Engine, token_id: int) -> str | None:
    """The handler a token acts as, or ``None``."""
    with Session(engine) as s:
        row = s.get(TokenHandler, token_id)
        return row.handler_id if row is not None else None


def list_tokens(engine: Engine) -> list[ApiToken]:
    """Every API token (its digest only), by name."""
    with Session(engine) as s:
        return list(s.scalars(select(ApiToken).order_by(ApiToken.name)))


def revoke_token(engine: Engine, token_id: int) -> bool:
    """Delete a token (and the handler it acted as): requests bearing it are refused from now on.

    Returns whether there was such a token.
    """
    with session_scope(engine) as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            return False
        s.execute(delete(TokenHandler).where(TokenHandler.token_id == token_id))
        s.delete(row)
        return True
