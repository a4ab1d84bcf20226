"""Idempotency keys of the field app: a request sent again answers as the first time, applied once.

A phone in a dead zone queues a move or a report with a key of its own and
sends it when the network returns; when the answer is lost on the way back
it sends it again. :func:`once` runs the use case and keeps its answer under
(user, key) in the same unit of work (a
:class:`~township.store.models.FieldReceipt`); a replay finds it and returns
it without running anything. A refusal (a stale version, a move no longer
allowed, a bad report) is an answer too: kept, so a replay says the same.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Engine

from township.formats.ingest import IngestError
from township.formats.photos import PhotoRefused
from township.loop.casefile import REFUSAL_STATUS
from township.loop.workflow import MoveRefused
from township.store.models import FieldReceipt, utcnow
from township.store.uow import UnitOfWork

#: What a key looks like: a UUID or any 8..64 letters, digits, ``-`` and ``_``.
KEY = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


class Answer(NamedTuple):
    """An HTTP status and a JSON body."""

    status: int
    body: dict


def check_key(key: object) -> str:
    """``key`` if it is a usable idempotency key; ValueError naming the rule otherwise."""
    if not isinstance(key, str) or not KEY.match(key):
        raise ValueError("key: 8 to 64 letters, digits, '-' or '_' (a UUID), one per request")
    return key


#: HTTP status of a refused photo (`township.formats.photos.PhotoRefused.code`); others 422.
PHOTO_STATUS = {"size": 413, "type": 415}
#: What a use case may raise that is an answer to keep, not a failure to try again.
REFUSALS = (MoveRefused, IngestError, PhotoRefused)


def refusal(exc: MoveRefused | IngestError | PhotoRefused) -> Answer:
    """The answer of a refused move, report or photo: its HTTP status and its words."""
    if isinstance(exc, PhotoRefused):
        return Answer(PHOTO_STATUS.get(exc.code, 422), {"code": exc.code, "errors": [
            {"index": exc.index, "field": "file", "message": exc.message}]})
    if isinstance(exc, MoveRefused):
        return Answer(REFUSAL_STATUS.get(exc.code, 422), {"code": exc.code, "errors": [
            {"index": None, "field": "(move)", "message": exc.reason}]})
    return Answer(422, {"code": "invalid", "errors": [e.to_dict() for e in exc.errors]})


def _kept(uow: UnitOfWork, user_id: int, key: str) -> Answer | None:
    row = uow.session.scalar(select(FieldReceipt).where(FieldReceipt.user_id == user_id, FieldReceipt.key == key))
    return None if row is None else Answer(row.status, {**json.loads(row.body), "replayed": True})


def _keep(uow: UnitOfWork, user_id: int, key: str, answer: Answer) -> None:
    uow.session.add(FieldReceipt(user_id=user_id, key=key, at=utcnow(), status=answer.status,
                                 body=json.dumps(answer.body, ensure_ascii=False)))


def once(engine: Engine, user_id: int, key: str, work: Callable[[UnitOfWork], Answer]) -> Answer:
    """Run ``work`` in one unit of work unless ``key`` was seen from ``user_id``; the (first) answer.

    The unit holds the store's write lock from its start (`township.store.uow`),
    so two copies of one request arriving together run one after the other and
    the second finds the first's receipt. ``work`` raising `MoveRefused`,
    `IngestError` or `PhotoRefused` wrote nothing; the refusal is kept under the key in a unit
    of its own. Anything else (the store unavailable) keeps nothing: the phone
    sends the request again later.
    """
    with UnitOfWork(engine) as uow:
        kept = _kept(uow, user_id, key)
        if kept is not None:
            return kept
        try:
            answer = work(uow)
        except REFUSALS as exc:
            answer = refusal(exc)
        else:
            _keep(uow, user_id, key, answer)
            uow.commit()
            return answer
    with UnitOfWork(engine) as uow:
        kept = _kept(uow, user_id, key)
        if kept is not None:
            return kept
        _keep(uow, user_id, key, answer)
        uow.commit()
    return answer
