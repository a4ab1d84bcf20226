"""One unit of work: one write transaction that a use case, or several composed, fill and commit once.

A use case that writes takes a :class:`UnitOfWork` and adds its rows, its
audit records and its data-version bump to it; the entry point the API or a
callback calls opens the unit, runs the use cases and commits. Whatever
raises before :meth:`UnitOfWork.commit` leaves nothing written, so a use case
built from several steps (a warning's task: a case, its dispatch, the
warning's log) is never half made.

Writes run one at a time on both stores: the session's connection carries the
``write`` execution option, on which `township.store.engine` begins with
``BEGIN IMMEDIATE`` (SQLite) or takes the advisory lock (PostgreSQL).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from township.store.models import bump_version, utcnow
from township.store.outbox import Notification

T = TypeVar("T")


class StoreUnavailable(RuntimeError):
    """The store refused a write for a reason outside the request: it is read-only, or full.

    Raised in place of the driver's error (`township.store.engine` translates
    SQLite's and PostgreSQL's); nothing of the unit of work was written, and
    writes work again, without a restart, once the store can be written.

    Attributes
    ----------
    cause : str
        ``read-only`` or ``full``.
    detail : str
        The store's own message (``attempt to write a readonly database``).
    """

    def __init__(self, cause: str, detail: str) -> None:
        self.cause = cause
        self.detail = detail
        super().__init__(f"the store cannot be written: it is {cause} ({detail}); nothing was saved, "
                         "and writes work again as soon as it can be written")


class UnitOfWork:
    """A context manager holding one write session; :meth:`commit` once, else everything is rolled back.

    Parameters
    ----------
    bind : Engine or Connection
        The store; or a connection already inside a write transaction (a file
        import writes its chunks so), which the unit joins: its commit is then
        the caller's.

    Examples
    --------
    >>> with UnitOfWork(engine) as uow:
    ...     uow.session.add(row)
    ...     row.version = uow.version()
    ...     uow.commit()
    """

    def __init__(self, bind: Engine | Connection) -> None:
        self._bind = bind
        self._session: Session | None = None
        self._version: int | None = None
        self.committed = False

    @property
    def session(self) -> Session:
        """The open session (only inside the ``with`` block)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in a with block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        # expire_on_commit=False: rows read or written stay readable after the commit
        # (they are returned to the screens and the API, detached).
        self._session = Session(self._bind.execution_options(write=True), expire_on_commit=False)
        self._session.begin()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        session, self._session = self.session, None
        try:
            if not self.committed:
                session.rollback()
        finally:
            session.close()

    def commit(self) -> None:
        """Commit everything the unit holds; a unit commits once."""
        if self.committed:
            raise RuntimeError("this unit of work has committed already")
        self.session.commit()
        self.committed = True

    def version(self) -> int:
        """The data version of this unit's writes: bumped on the first call, the same number after.

        Every row the unit writes carries it, so readers see the unit's
        changes as one step ("what changed since N" is one query).
        """
        if self._version is None:
            self._version = bump_version(self.session)
        return self._version

    def notify(self, event: str, data: dict, *, case_id: int | None = None, warning_id: int | None = None,
               village_id: str | None = None, key: str | None = None) -> None:
        """Put a notification in this unit's outbox: it is committed with the move that causes it, or not at all.

        Parameters
        ----------
        event : str
            A code of `township.domain.vocab.NOTIFY_EVENTS`.
        data : dict
            What its messages say, as it is now (JSON-able).
        case_id, warning_id, village_id : optional
            What it is about; whose village.
        key : str, optional
            For a finding a sweep may make again (``overdue:<case>:<deadline>``): told once.
        """
        self.session.add(Notification(event=event, case_id=case_id, warning_id=warning_id, village_id=village_id,
                                      key=key, data=json.dumps(data, ensure_ascii=False, default=str),
                                      created_at=utcnow()))


@contextmanager
def session_scope(bind: Engine | Connection) -> Iterator[Session]:
    """A one-step write: the session of a :class:`UnitOfWork`, committed at the end, rolled back on error."""
    with UnitOfWork(bind) as uow:
        yield uow.session
        uow.commit()


def run_in_unit(bind: Engine | Connection, work: Callable[[UnitOfWork], T]) -> T:
    """Run ``work`` in a new unit of work and commit it; once more if a unique key refused an insert.

    Two writers sending the same new ``(source, external_id)`` at once: the
    second one's insert fails on the unique key; run again, it finds the first
    one's row and updates it.
    """
    def once() -> T:
        with UnitOfWork(bind) as uow:
            out = work(uow)
            uow.commit()
            return out

    try:
        return once()
    except IntegrityError:
        return once()
