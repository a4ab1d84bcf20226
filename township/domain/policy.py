"""The one access policy: what a viewer of each role may see and do.

Roles are vocabulary (`township.domain.vocab.ROLES`); this module is the one
place that answers "may this viewer see / do this, on this village". The
workflow, the warning card, the API, the callbacks and the exports ask it
instead of spelling out role sets of their own, so a role means the same
everywhere.

| role | sees | personal data | acts |
|---|---|---|---|
| admin, command | the whole town | unmasked | cases, warnings, API writes, file imports |
| village | own village (cases there; warnings reaching it) | own village | own village's cases, warnings; API writes |
| responder | the town, masked nowhere for own work | unmasked | own tasks (the workflow's moves) |
| wall | the whole town | masked | nothing |

Only admin uses the admin page (:func:`may_administer`): grid versions, rosters, users and tokens.

A village operator is shown of another village only its duty contacts (grid
officers), masked (:func:`lists_person`, :func:`sees_person`), and posts
warnings up to a radius cap (:func:`warning_radius_cap`).

Someone not signed in is the wall (:data:`ANONYMOUS_ROLE`): masked, read-only.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from township.domain.vocab import ROLES

#: The role of a viewer who has not signed in (and of an API read without a token).
ANONYMOUS_ROLE = "wall"
#: Roles that see names and phone numbers unmasked.
SEES_PERSONAL: frozenset[str] = frozenset({"admin", "command", "village", "responder"})
#: Desk roles: move warnings, dispatch from them, acknowledge, write through the API.
STAFF: frozenset[str] = frozenset({"admin", "command", "village"})
#: Roles that may move a case at all (each move of the workflow names its own); ``system`` runs the sweeps.
CASE_ACTORS: frozenset[str] = STAFF | {"responder", "system"}
#: Roles that may import files from the page. Not the village operator: a file's rows are placed by
#: their coordinates and could land in any village (an API village token is checked row by row).
IMPORTERS: frozenset[str] = frozenset({"admin", "command"})
#: Roles that command the whole town: their warnings may reach any part of it (no radius cap of the policy's).
COMMAND: frozenset[str] = frozenset({"admin", "command"})
#: Kinds of people a village operator is shown of another village (an emergency's duty contacts), masked.
DUTY_CONTACTS: frozenset[str] = frozenset({"officer"})
#: Roles shown the ranking of villages (the wall shows it as the town's public league table).
SEES_RANKING: frozenset[str] = frozenset({"admin", "command", "wall"})
#: Roles that run the admin page: replace the grids, import rosters, manage users and tokens.
ADMINS: frozenset[str] = frozenset({"admin"})
#: Whose view a resident's tracking page (``/track/<code>``, no sign-in) shows of a case: the public's.
PUBLIC_ROLE = ANONYMOUS_ROLE


class Viewer(Protocol):
    """Who is looking: any object with a role and, for a village operator, a village."""

    @property
    def role(self) -> str: ...

    @property
    def village_id(self) -> str | None: ...


def is_role(role: str | None) -> bool:
    """Whether ``role`` is one of the roles of the vocabulary."""
    return role in ROLES


def check_role(role: str | None, what: str = "role") -> str:
    """``role`` if it is known; else ValueError naming the allowed roles."""
    if role is None or not is_role(role):
        raise ValueError(f"{what}={role!r} is unknown; allowed: {', '.join(ROLES)}")
    return role


def sees_personal(role: str) -> bool:
    """Whether ``role`` sees names and phone numbers unmasked; unknown roles do not."""
    return role in SEES_PERSONAL


def may_write(role: str) -> bool:
    """Whether ``role`` may write through the API (a village token only within its village)."""
    return role in STAFF


def may_import(role: str) -> bool:
    """Whether ``role`` may import files from the page."""
    return role in IMPORTERS


def may_administer(role: str) -> bool:
    """Whether ``role`` may use the admin pages (grids, rosters, users and tokens; notification deliveries)."""
    return role in ADMINS


def sees_notes(role: str) -> bool:
    """Whether ``role`` is shown the notes of a case's trail (staff write names and phones into them): the
    roles that see personal data; the public's tracking page shows steps and times only."""
    return sees_personal(role)


def sees_ranking(role: str) -> bool:
    """Whether ``role`` is shown the ranking of villages."""
    return role in SEES_RANKING


def warning_radius_cap(role: str, village_cap_m: float) -> float | None:
    """The largest radius in metres ``role`` may give a warning it posts; ``None``: no cap but ingest's own.

    ``village_cap_m`` is the configured cap (``Settings.village_radius_km``) of every non-command writer.
    """
    return None if role in COMMAND else village_cap_m


def may_see_village(viewer: Viewer, village_id: str | None) -> bool:
    """Whether ``viewer`` may see what belongs to ``village_id`` (only a village operator is limited)."""
    return viewer.role != "village" or (viewer.village_id is not None and village_id == viewer.village_id)


def sees_person(viewer: Viewer, village_id: str | None) -> bool:
    """Whether ``viewer`` sees a person of ``village_id`` unmasked: a role that sees personal data, and
    for a village operator only in their own village."""
    return sees_personal(viewer.role) and may_see_village(viewer, village_id)


def lists_person(viewer: Viewer, kind: str, village_id: str | None) -> bool:
    """Whether ``viewer`` is shown a person or resource of ``kind`` of ``village_id`` at all: a village
    operator sees another village's duty contacts (`DUTY_CONTACTS`) only."""
    return may_see_village(viewer, village_id) or kind in DUTY_CONTACTS


def may_see_reach(viewer: Viewer, villages: Collection[str]) -> bool:
    """Whether ``viewer`` may see something that reaches ``villages`` (a warning): a village operator
    sees it when it reaches their village."""
    return viewer.role != "village" or (viewer.village_id is not None and viewer.village_id in villages)


def may_act_on_warning(viewer: Viewer, villages: Collection[str]) -> bool:
    """Whether ``viewer`` may move a warning reaching ``villages`` or dispatch tasks from it."""
    return viewer.role in STAFF and may_see_reach(viewer, villages)


def may_see_photos(viewer: Viewer, village_id: str | None) -> bool:
    """Whether ``viewer`` may see (and add) the photos of a case of ``village_id``.

    Photos show people, faces and homes: roles that see personal data, within
    the cases they see (a village operator: their village's); never the wall
    nor someone not signed in.
    """
    return sees_personal(viewer.role) and may_see_village(viewer, village_id)


__all__ = ["ANONYMOUS_ROLE", "SEES_PERSONAL", "STAFF", "CASE_ACTORS", "IMPORTERS", "COMMAND", "SEES_RANKING", "Viewer",
           "is_role", "check_role", "sees_personal", "may_write", "may_import", "sees_ranking", "may_see_village",
           "may_see_reach", "may_act_on_warning", "warning_radius_cap", "DUTY_CONTACTS", "sees_person", "lists_person",
           "ADMINS", "may_administer"]
__all__ += ["may_see_photos"]
__all__ += ["PUBLIC_ROLE", "sees_notes"]


# -- evacuation (转移安置): the roster is sensitive personal information (PIPL) ---------------------------


def _handler_of(viewer: Viewer) -> str | None:
    # A responder acts as a handler (Actor.handler_id, a token's handler); other viewers have none.
    return getattr(viewer, "handler_id", None)


def sees_household(viewer: Viewer, village_id: str | None, helpers: Collection[str | None]) -> bool:
    """Whether ``viewer`` sees a household's people (names, phones, flags) on an evacuation roster.

    Command (and admin) see every household, a village operator their own
    village's, a responder the households they are the 包保 helper or backup of
    (``helpers``). Everyone else, the wall included, sees counts only.
    """
    if viewer.role in COMMAND:
        return True
    if viewer.role == "village":
        return may_see_village(viewer, village_id)
    handler = _handler_of(viewer)
    return viewer.role == "responder" and handler is not None and handler in helpers


def may_move_household(viewer: Viewer, village_id: str | None, helpers: Collection[str | None]) -> bool:
    """Whether ``viewer`` may check a household off (notify, moved, settled, refused, unreachable):
    who may see it on the roster (the helper on the phone, the village, command)."""
    return sees_household(viewer, village_id, helpers)


def may_start_evacuation(viewer: Viewer) -> bool:
    """Whether ``viewer`` may start an evacuation on a warning: the command centre (and admin)."""
    return viewer.role in COMMAND


def may_export_roster(viewer: Viewer, village_id: str | None) -> bool:
    """Whether ``viewer`` may export a roster (转移台账, marked 内部资料) of ``village_id``; ``None``: the
    whole town's, for command only."""
    return viewer.role in COMMAND or (viewer.role == "village" and village_id is not None
                                      and may_see_village(viewer, village_id))


__all__ += ["sees_household", "may_move_household", "may_start_evacuation", "may_export_roster"]


# -- the field app (/m) ------------------------------------------------------------------------------

#: Roles that sign in to the field app on a phone: grid officers and party members, each acting as a handler.
FIELD_ROLES: frozenset[str] = frozenset({"responder"})


def may_use_field_app(role: str, handler_id: str | None) -> bool:
    """Whether an account of ``role`` may sign in to the field app: a responder linked to a handler."""
    return role in FIELD_ROLES and bool(handler_id)
