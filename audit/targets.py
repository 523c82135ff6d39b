"""The kinds of row an audit event can point at, registered by the apps that own them.

The audit app sits below the apps it records (they import it to write rows), so it cannot import
their models to find what a row's target is now. Each app registers its kinds of target in its
`AppConfig.ready()`: the page that shows one, and how to find which of some ids still exist and
belong to a viewer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accounts.models import User
    from audit.models import AuditEvent

# (viewer, target ids that are UUIDs) -> the primary keys among them that exist and are viewer's.
OwnedIds = Callable[["User", list[str]], Iterable[Any]]
# An event whose target has no page of its own points at another target: (kind, id).
Pointer = Callable[["AuditEvent"], tuple[str, str]]


@dataclass(frozen=True)
class AuditTargetKind:
    route: str
    owned_ids: OwnedIds


_KINDS: dict[str, AuditTargetKind] = {}
_POINTERS: dict[str, Pointer] = {}


def audit_target_kind_register(*, kind: str, route: str, owned_ids: OwnedIds) -> None:
    """Events whose `target_type` is `kind` link to `route` (a URL name taking the id)."""
    _KINDS[kind] = AuditTargetKind(route=route, owned_ids=owned_ids)


def audit_target_pointer_register(*, kind: str, pointer: Pointer) -> None:
    """Events whose `target_type` is `kind` link to the page of the target `pointer` names."""
    _POINTERS[kind] = pointer


def audit_target_kind_get(kind: str) -> AuditTargetKind | None:
    return _KINDS.get(kind)


def audit_target_of(event: AuditEvent) -> tuple[str, str]:
    """The (kind, id) whose page an event links to, following a registered pointer."""
    pointer = _POINTERS.get(event.target_type)
    if pointer is not None:
        return pointer(event)
    return event.target_type, event.target_id
