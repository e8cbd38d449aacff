"""Who may send what as whom: a send checked against its department's DLT registrations.

Every message with a department's name on it goes through ``authorise`` on its way into the
queue (``accept.send_many``), whichever way it came in: the sender must be one of the
department's own headers (or, before it has any, the gateway's), and the text must match one
of that header's active templates. The registrations are read once for a whole group of
sends (``registrations_of``) and registered templates are compiled once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from seva.db.session import read_through
from seva.messaging import dlt
from seva.messaging.models import DltHeader, DltTemplate
from seva.messaging.sends import Send, SendRefused
from seva.tenancy.models import Department

GATEWAY_SENDER = "SEVA"
"""The source address of Seva's own messages (OTPs, replies, notices), and the only one a
department may use before it registers a DLT header. Four letters, so it can never be a
DLT header (six letters or digits), and no department can register it."""
SYSTEM_SOURCES = frozenset({"system", "reply"})
"""Messages Seva writes itself: their text is Seva's, registered centrally, so it is not
matched against the department's templates."""


@functools.lru_cache(maxsize=4096)
def _compiled(body: str, template_id: str) -> dlt.CompiledTemplate:
    """A registered template's matcher, built once per process rather than on every send
    (compiled templates are immutable, so sharing them across requests is safe)."""
    return dlt.compile_template(body, template_id=template_id)


@dataclass(frozen=True, slots=True)
class Registrations:
    """A department's onboarding sender ID, DLT headers and active templates, read once for
    a group of sends."""

    sender_id: str | None
    headers: frozenset[str]
    templates: dict[str, list[DltTemplate]]
    """Active templates by header."""

    def default_sender(self) -> str | None:
        """Where a send that names no sender goes out from, or None when that is ambiguous.

        The onboarding sender ID only once the department registered it as a header (the
        gateway admin typed it, nobody checked it against DLT or other departments); else
        its only header; else, before it registers any, the gateway's own sender.
        """
        if self.sender_id in self.headers:
            return self.sender_id
        if len(self.headers) == 1:
            return next(iter(self.headers))
        return GATEWAY_SENDER if not self.headers else None


_UNKNOWN_DEPARTMENT = Registrations(None, frozenset(), {})


_HEADERS: Final = (
    select(Department.id, Department.sender_id, DltHeader.header)
    .outerjoin(DltHeader, DltHeader.department_id == Department.id)
    .where(Department.id.in_(bindparam("departments", expanding=True)))
)
"""Each department's sender ID and headers: built once, as every group of sends reads it."""


def registrations_of(
    session: Session, department_ids: Iterable[int | None]
) -> dict[int, Registrations]:
    wanted = {d for d in department_ids if d is not None}
    if not wanted:
        return {}
    sender_ids: dict[int, str] = {}
    headers: dict[int, set[str]] = {}
    for department_id, sender_id, header in read_through(session).execute(
        _HEADERS, {"departments": list(wanted)}
    ):
        sender_ids[department_id] = sender_id.strip().upper()
        found = headers.setdefault(department_id, set())
        if header is not None:
            found.add(header)
    templates: dict[int, dict[str, list[DltTemplate]]] = {d: {} for d in headers}
    if any(headers.values()):
        for template in session.scalars(
            select(DltTemplate).where(
                DltTemplate.department_id.in_([d for d, h in headers.items() if h]),
                DltTemplate.active.is_(True),
            )
        ):
            templates[template.department_id].setdefault(template.header, []).append(template)
    return {d: Registrations(sender_ids[d], frozenset(headers[d]), templates[d]) for d in headers}


def _sender_of(request: Send, found: Registrations) -> str:
    """The source address ``request`` goes out from, or SendRefused when it may not.

    This is the one rule for who may send as whom, and ``send_many`` applies it to every
    message a department's name is on, whichever way it came in: a department sends only
    from DLT headers registered to it (``register_header`` gives a header to one department
    only), or, before it has any, from the gateway's own sender. Without that, any API key
    could put another department's or a bank's name on an SMS. Seva's own messages for a
    department (a status update) never fail on this: an unowned sender becomes the
    department's default, since the change they report is already made.
    """
    requested = request.sender.strip().upper() if request.sender else None
    if requested is not None and (
        requested in found.headers or (requested == GATEWAY_SENDER and not found.headers)
    ):
        return requested
    default = found.default_sender()
    if request.source in SYSTEM_SOURCES:
        return default or GATEWAY_SENDER
    if requested is None and default is not None:
        return default
    registered = ", ".join(sorted(found.headers))
    if requested is None:
        raise SendRefused(
            "sender_required",
            f"give sender: one of this department's DLT headers ({registered})",
            field="sender",
        )
    if found.headers:
        raise SendRefused(
            "sender_not_registered",
            f"sender {requested!r} is not a DLT header of this department "
            f"(registered: {registered})",
            field="sender",
        )
    raise SendRefused(
        "sender_not_registered",
        f"sender {requested!r} is not a DLT header of this department, which has none yet: "
        f"register the header first, or leave sender out to send from the gateway's "
        f"sender {GATEWAY_SENDER}",
        field="sender",
    )


def authorise(request: Send, texts: Iterable[str], registrations: dict[int, Registrations]) -> Send:
    """``request`` with the sender it goes out from and the DLT template it matches, or
    SendRefused saying why it may not go out.

    Only the department's own templates count: a template ID registered to another
    department, or any template ID from a department with no header, is refused rather
    than stored on the batch. A department that has registered no header yet sends from the
    gateway's sender with its text unchecked (the console tells it operators will refuse its
    traffic until it registers on DLT); Seva's own messages are registered centrally.
    """
    if request.department_id is None:
        return request if request.sender else replace(request, sender=GATEWAY_SENDER)
    found = registrations.get(request.department_id, _UNKNOWN_DEPARTMENT)
    sender = _sender_of(request, found)
    if request.source in SYSTEM_SOURCES:
        return replace(request, sender=sender)
    if not found.headers:
        if request.template_id:
            raise SendRefused(
                "template_unknown",
                f"template {request.template_id} is not registered to this department, "
                "which has no DLT header yet",
                field="template_id",
            )
        return replace(request, sender=sender)
    templates = [
        t
        for t in found.templates.get(sender, ())
        if not request.template_id or t.template_id == request.template_id
    ]
    if not templates:
        if request.template_id:
            raise SendRefused(
                "template_unknown",
                f"template {request.template_id} is not registered for header {sender}",
                field="template_id",
            )
        raise SendRefused(
            "template_missing", f"header {sender} has no registered template", field="text"
        )
    compiled = [(t, _compiled(t.body, t.template_id)) for t in templates]
    chosen: DltTemplate | None = None
    for text in set(texts):
        match = next((t for t, c in compiled if c.match(text)), None)
        if match is None:
            raise SendRefused(
                "template_mismatch",
                dlt.explain_mismatch(compiled[0][1], text)
                if len(compiled) == 1
                else f"the text matches none of header {sender}'s {len(compiled)} templates",
                field="text",
            )
        chosen = chosen or match
    template_id = chosen.template_id if chosen is not None else request.template_id
    return replace(request, sender=sender, template_id=template_id)


def sender_of(session: Session, request: Send) -> str:
    """The sender ``request`` would go out from, or SendRefused: the rule ``send_many``
    applies, for an entry point that must answer a refused sender before its other checks
    (MSDG's 412 comes before its number errors)."""
    if request.department_id is None:
        return request.sender or GATEWAY_SENDER
    found = registrations_of(session, [request.department_id]).get(
        request.department_id, _UNKNOWN_DEPARTMENT
    )
    return _sender_of(request, found)
