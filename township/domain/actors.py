"""Who wrote a step of a case's or a warning's log, and its note, as people read them.

Shared by every screen that shows a log (the desk's cards, the field app), so that
no screen shows a raw actor code (``api:demo-feed-3f9a2c``, ``hotline``) or a handler's id.
"""
from __future__ import annotations

import re

from township.domain.privacy import shown_name
from township.domain.vocab import API_CLIENTS, CASE_SOURCES, SYSTEM_ACTORS, Lang, label

#: A handler's id after their name in a dispatch note (``派单给王伟 (H-OF-DL-01)``): the name says it on screen.
HANDLER_ID = re.compile(r"\s*\([A-Z]{1,3}-[A-Za-z0-9-]+\)")


def note_text(note: str | None, lang: Lang) -> str:
    """A log note as people read it: a source's code (ingest's note on a report) as its label,
    handler ids dropped (the name beside them stays)."""
    if note in CASE_SOURCES:
        return label(CASE_SOURCES, note, lang)
    return HANDLER_ID.sub("", note or "")


def actor_label(actor: str | None, role: str, lang: Lang) -> str:
    """Who wrote a log step, readable: a person's name (masked as ``role`` may see it), or what the system,
    an API token (by its name: ``api:demo-feed-3f9a2c`` is the demo feed) or a source was."""
    if not actor:
        return ""
    if actor in SYSTEM_ACTORS:
        return label(SYSTEM_ACTORS, actor, lang)
    if actor in CASE_SOURCES:
        return label(CASE_SOURCES, actor, lang)
    kind, sep, name = actor.partition(":")
    if sep and kind.isascii() and kind.isalnum():
        client = next((code for code in API_CLIENTS if name.startswith(code)), None)
        if client is not None:
            return label(API_CLIENTS, client, lang)
        return f"{label(SYSTEM_ACTORS, 'api', lang)} · {name or kind}"
    return shown_name(actor, role)
