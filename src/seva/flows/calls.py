"""Calls with a department's officials, as flow steps every channel runs.

Booking a time to talk to an official, moving it and cancelling it are steps of the flow
engine (``call_times``, ``book_call``, ``move_call``, ``cancel_call``, ``my_calls``: see
``seva.flows.schema``), so a department can use them in its own services, and the gateway
runs two services of its own with them for every department whose officials publish call
hours:

* ``call`` (*Book a call with an official*): the next free times as a choice, the chosen one
  booked;
* ``my-calls`` (*My booked calls*): the citizen's booked calls with the department, then
  cancel one or move it to another free time.

SMS (``CALL FOOD``, ``CALL MOVE``, ``CALL CANCEL``), USSD, the phone menu and the app API all
start these services, so each channel only renders their questions and answers.

Why a service row per department, made on first use: a conversation runs a stored service
(``Dialogue.service_id``, the revision it started on), the department of a service is what
its effects act for (a FOOD booking service books FOOD's officials and nobody else's: the
tenancy wall stays where it is for every other service) and what the dashboards count it
under. The definition is built here from the message catalog, so the texts are the
gateway's in every language it ships; the row is brought up to date (a new revision) when
the built definition changes, and conversations in progress finish on theirs. The names
are reserved (``GATEWAY_SERVICES``): no department can load a service under them, and they
are not listed among the department's own services; each channel offers them where the
department takes calls.

The effects are performed here for the runtime, with ``seva.rtc``: the same free times, the
same refusals (a time taken meanwhile, nothing booked) and the same SMS with the join link
as the portal. What the citizen is told is in their language from the catalog; a channel
that can show a link (SMS, the web, the app) gets the join link in the answer, the others
(USSD, a phone call) are told it is coming by SMS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seva import i18n
from seva.citizens import service as citizens
from seva.citizens.models import Citizen
from seva.flows.events import (
    BookCall,
    CallEffect,
    CancelCall,
    EffectResult,
    FindCallTimes,
    ListCalls,
    MoveCall,
)
from seva.flows.loader import dump
from seva.flows.models import Service
from seva.flows.schema import ServiceDefinition, Text
from seva.flows.service import GATEWAY_SERVICES, load_service
from seva.outbound import UrlPolicy
from seva.rtc import service as rtc
from seva.rtc.models import BOOKED, Appointment
from seva.tenancy.models import Department

CALL = "call"
"""The gateway's service that books a call with a department's official."""
MY_CALLS = "my-calls"
"""The gateway's service that moves or cancels the citizen's booked call."""
assert {CALL, MY_CALLS} == GATEWAY_SERVICES

LINK_SHOWN = frozenset({"sms", "web", "kiosk", "app"})
"""Channels whose answer carries the join link; on the others (USSD, a phone call) a link
cannot be opened, so the answer says it is coming by SMS."""


# -- where calls are offered ------------------------------------------------------------------


def takes_calls(session: Session, department: Department) -> bool:
    """The department's officials publish call hours (and the department is active): one
    indexed ``EXISTS``, since every department menu on every channel asks it."""
    return department.active and rtc.takes_calls(session, department.id)


def _citizen(session: Session, phone: str | None) -> Citizen | None:
    return citizens.find(session, phone) if phone else None


def booked_departments(session: Session, phone: str | None, now: datetime) -> list[Department]:
    """The departments the citizen has a call booked with, their next call's first."""
    citizen = _citizen(session, phone)
    if citizen is None:
        return []
    found: list[Department] = []
    for appointment in rtc.upcoming(session, citizen, now=now):
        department = session.get(Department, appointment.department_id)
        if department is not None and department not in found:
            found.append(department)
    return found


def offered(
    session: Session,
    department: Department,
    phone: str | None,
    now: datetime,
    *,
    rows: Sequence[Service] = (),
    booked: bool | None = None,
) -> list[Service]:
    """The gateway's services a department's menu offers this citizen: booking, when its
    officials take calls, and their booked calls, when they have one with it. Nothing
    without a phone: a call is booked for a citizen known by their number.

    ``rows``: the department's gateway services as the caller already loaded them (a menu
    reads them with the department's own), so they are not looked up again; ``booked``:
    whether the citizen has any booked call, when the caller already knows."""
    if not phone:
        return []
    found: list[Service] = []
    if not takes_calls(session, department):
        return []
    have = {s.slug: s for s in rows}
    found += [s for s in [service_for(session, department, CALL, checked=True, row=have)] if s]
    if booked is not False and rtc.has_upcoming(session, phone, department.id, now=now):
        mine = service_for(session, department, MY_CALLS, checked=True, row=have)
        found += [mine] if mine else []
    return found


MY_CALLS_ACTIONS = {"cancel": ["1", "cancel"], "move": ["1", "move"]}
"""Answers to ``my-calls``'s first questions that act on the citizen's next call with the
department (``CALL CANCEL``, ``CALL MOVE``): its first booked call, then the action."""


# -- the gateway's services ---------------------------------------------------------------------


def _every(text: str) -> Text:
    """A text that reads the same in every language: a placeholder filled at run time."""
    return dict.fromkeys(i18n.shipped(), text)


def _worded(key: str, **values: str) -> Text:
    """The catalog entry ``key`` in every shipped language. ``values`` go in as they are:
    a department code, or an engine placeholder (``{call_label}``) the flow fills later."""
    return {lang: i18n.text(key, lang, **values) for lang in i18n.shipped()}


def _book(code: str) -> dict[str, Any]:
    return {
        "steps": [
            {"id": "times", "call_times": {"save": "times"}},
            {
                "ask": "slot",
                "type": "choice",
                "options_from": "times",
                "inline": True,
                "prompt": _worded("book_times", code=code),
            },
            # A time taken since it was offered: told so, and offered the times free now.
            {"book_call": {"slot": "{slot}", "save": "call", "on_missing": "times"}},
            {"end": _every("{call.text}")},
        ],
        "title": i18n.entry("book_title"),
    }


def _my_calls(code: str) -> dict[str, Any]:
    return {
        "steps": [
            {"my_calls": {"save": "calls"}},
            {
                "ask": "call",
                "type": "choice",
                "options_from": "calls",
                "prompt": _worded("book_my_calls", code=code),
            },
            {
                "menu": "action",
                "prompt": _worded("book_actions", code=code, when="{call_label}"),
                "options": [
                    {"value": "cancel", "label": i18n.entry("book_cancel"), "goto": "cancel"},
                    {"value": "move", "label": i18n.entry("book_move"), "goto": "move"},
                ],
            },
            {"id": "cancel", "cancel_call": {"call": "{call}", "save": "cancelled"}},
            {"end": _every("{cancelled.text}")},
            {"id": "move", "call_times": {"moving": True, "call": "{call}", "save": "times"}},
            {
                "ask": "slot",
                "type": "choice",
                "options_from": "times",
                "inline": True,
                "prompt": _worded("book_new_time", code=code, when="{call_label}"),
            },
            {
                "move_call": {
                    "call": "{call}",
                    "slot": "{slot}",
                    "save": "moved",
                    "on_missing": "move",
                }
            },
            {"end": _every("{moved.text}")},
        ],
        "title": i18n.entry("book_my_title"),
    }


_BUILT = {CALL: _book, MY_CALLS: _my_calls}


@lru_cache(maxsize=256)
def _dumped(code: str, slug: str) -> dict[str, Any]:
    """The stored form of ``definition``, compared with the stored row on each menu."""
    return dump(definition(code, slug))


@lru_cache(maxsize=256)
def definition(code: str, slug: str) -> ServiceDefinition:
    """The gateway's service ``slug`` for department ``code`` (hidden from keypad menus,
    which offer it apart, only where the department takes calls)."""
    built = _BUILT[slug](code)
    return ServiceDefinition.model_validate(
        {
            "seva": 1,
            "service": slug,
            "department": code,
            "ussd": {"hidden": True},
            "languages": list(i18n.shipped()),
            **built,
        }
    )


def service_for(
    session: Session,
    department: Department,
    slug: str,
    *,
    checked: bool = False,
    row: Mapping[str, Service] | None = None,
) -> Service | None:
    """The department's gateway service ``slug``, stored on first use and brought up to
    date when its definition changed; None when the department takes no calls (``checked``:
    the caller has just asked ``takes_calls``). ``row``: the department's live gateway
    services by slug, as the caller loaded them (one missing is looked up)."""
    if slug not in _BUILT or not department.active:
        return None
    if not checked and not takes_calls(session, department):
        return None
    built = definition(department.code, slug)
    service = (row or {}).get(slug) or session.scalar(
        select(Service).where(Service.department_id == department.id, Service.slug == slug)
    )
    if service is None or not service.active or not _current(service, department.code, slug):
        try:
            with session.begin_nested():
                service = load_service(
                    session,
                    built,
                    builtin=True,
                    department=department,
                    urls=UrlPolicy(),
                    gateway=True,
                )
        except IntegrityError:
            # Another citizen's request stored it first (two first uses at once): theirs is
            # this build's definition too.
            service = session.scalar(
                select(Service).where(Service.department_id == department.id, Service.slug == slug)
            )
    return service


_CURRENT: set[tuple[int, int, str]] = set()
"""Stored gateway services (id, revision, loaded_at) found to hold this build's definition:
compared once per process and revision, not on every menu."""


def _current(service: Service, code: str, slug: str) -> bool:
    key = (service.id, service.revision, service.loaded_at.isoformat())
    if key in _CURRENT:
        return True
    if service.definition != _dumped(code, slug):
        return False
    if len(_CURRENT) > 4096:
        _CURRENT.clear()
    _CURRENT.add(key)
    return True


# -- performing the steps -----------------------------------------------------------------------


def say(key: str, lang: str, channel: str, **values: object) -> str:
    """The catalog entry ``key``, in the channel's own wording where it has one
    (``book_nothing_sms`` names the SMS command that books a call)."""
    return i18n.text(i18n.variant(key, channel), lang, **values)


def perform(
    session: Session,
    effect: CallEffect,
    *,
    department: Department,
    phone: str | None,
    channel: str,
    lang: str,
    now: datetime,
    base_url: str,
) -> EffectResult:
    """One step about calls, for the conversation's citizen and the service's department."""

    def told(key: str, **values: object) -> EffectResult:
        """Nothing to act on, and why."""
        return EffectResult(ok=True, data=None, refusal=say(key, lang, channel, **values))

    if not phone:
        return EffectResult(ok=False, reason="no phone", refusal=say("book_login", lang, channel))
    notify = channel != "sms"  # an SMS booking's reply is itself the SMS with the link
    match effect:
        case FindCallTimes(limit=limit, days=days, moving=moving, call=ref):
            held: Appointment | None = None
            if moving:
                held = _booked(session, phone, department, ref, now)
                if held is None:
                    return told("book_nothing")
            found = rtc.free_slots(session, department.id, now=now, days=days, moving=held)
            if not found:
                return told("book_none", code=department.code, days=days)
            times = [
                {"value": start.isoformat(), "label": rtc.ist_label(start)}
                for start, _ in found[:limit]
            ]
            return EffectResult(ok=True, data=times)
        case BookCall(starts=starts):
            starts_at = _instant(starts)
            if starts_at is None:
                return told("book_taken")
            citizen = citizens.get_or_create(session, phone, channel=channel)
            try:
                appointment = rtc.book(
                    session,
                    department=department,
                    citizen=citizen,
                    starts_at=starts_at,
                    now=now,
                    channel=channel,
                    base_url=base_url,
                    notify=notify,
                )
            except rtc.CallRefused as exc:
                return told(_refusal(exc))
            told_as = (rtc.booked_text, "book_booked")
            return EffectResult(
                ok=True, data=_told(appointment, department, told_as, lang, channel, base_url)
            )
        case MoveCall(starts=starts, call=ref):
            held = _booked(session, phone, department, ref, now)
            if held is None:
                return told("book_nothing")
            starts_at = _instant(starts)
            if starts_at is None:
                return told("book_taken")
            try:
                moved = rtc.reschedule(
                    session,
                    held,
                    starts_at=starts_at,
                    now=now,
                    channel=channel,
                    base_url=base_url,
                    notify=notify,
                )
            except rtc.CallRefused as exc:
                return told(_refusal(exc))
            told_as = (rtc.moved_text, "book_moved")
            return EffectResult(
                ok=True, data=_told(moved, department, told_as, lang, channel, base_url)
            )
        case CancelCall(call=ref):
            held = _booked(session, phone, department, ref, now)
            if held is None:
                return told("book_nothing")
            rtc.cancel(session, held, now=now)
            when = rtc.ist_label(held.starts_at)
            text = say("book_cancelled", lang, channel, when=when, code=department.code)
            return EffectResult(ok=True, data={"text": text, "when": when})
        case ListCalls(limit=limit):
            known = _citizen(session, phone)
            booked = rtc.upcoming(session, known, now=now) if known is not None else []
            mine = [a for a in booked if a.department_id == department.id][:limit]
            if not mine:
                return told("book_nothing")
            listed = [{"value": a.room, "label": rtc.ist_label(a.starts_at)} for a in mine]
            return EffectResult(ok=True, data=listed)
    raise TypeError(f"not a step about calls: {effect!r}")


def _told(
    appointment: Appointment,
    department: Department,
    told_as: tuple[Callable[[Department, Appointment, str, str], str], str],
    lang: str,
    channel: str,
    base_url: str,
) -> dict[str, str]:
    """A booked (or moved) call as the flow saves it: ``text`` is what the citizen is told,
    the SMS's own text with the join link where the channel shows one (``told_as[0]``), else
    the catalog's ``told_as[1]``: that the link is coming by SMS."""
    when = rtc.ist_label(appointment.starts_at)
    with_link, key = told_as
    if channel in LINK_SHOWN:
        text = with_link(department, appointment, lang, base_url)
    else:
        text = say(key, lang, channel, when=when)
    return {
        "text": text,
        "when": when,
        "link": rtc.join_link(base_url, appointment.room),
        "ref": appointment.room,
    }


def _refusal(exc: rtc.CallRefused) -> str:
    """The catalog entry for a booking rtc refused: a time no longer free (or never offered)
    is "taken", a call no longer booked is "nothing booked"."""
    return "book_nothing" if exc.code == "not_booked" else "book_taken"


def _instant(text: str) -> datetime | None:
    """An offered start (ISO, with its zone), or None for anything else."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _booked(
    session: Session, phone: str, department: Department, ref: str, now: datetime
) -> Appointment | None:
    """The citizen's booked call with the department: ``ref`` (its room), or their next."""
    citizen = _citizen(session, phone)
    if citizen is None:
        return None
    if ref:
        found = rtc.own_appointment(session, citizen, ref)
        if found is None or found.status != BOOKED or found.department_id != department.id:
            return None
        return found if found.ends_at > now else None
    upcoming = rtc.upcoming(session, citizen, now=now)
    return next((a for a in upcoming if a.department_id == department.id), None)
