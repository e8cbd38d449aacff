"""The I/O shell around the sans-IO flow engine: one place where every channel runs services.

Channels hand it a dialogue and the citizen's words; it starts or continues the engine,
performs the effects the engine asks for (signed webhook calls, dataset lookups, applications,
the registry), records the finished transaction and returns the messages to render. Because
every channel goes through ``Runtime``, the same inputs give the same answer on all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy.orm import Session

from seva.applications import service as applications
from seva.citizens import service as citizens
from seva.citizens.models import Citizen
from seva.dashboard import metrics
from seva.dashboard import service as dashboard
from seva.db.base import utcnow
from seva.db.session import about_to_wait, after_commit, commit
from seva.directory import service as directory
from seva.flows import calls, conversation, datasets, messages
from seva.flows.engine import Flow, FlowState
from seva.flows.events import (
    Ask,
    BookCall,
    CallWebhook,
    CancelCall,
    CreateApplication,
    EffectResult,
    End,
    Event,
    FindApplication,
    FindCallTimes,
    FindNearby,
    ListCalls,
    LookupRow,
    Message,
    MoveCall,
    RememberField,
    Say,
)
from seva.flows.gate import Gate
from seva.flows.models import Service
from seva.flows.schema import LANGUAGES
from seva.flows.service import definition_at, definition_of, service_by_id
from seva.flows.store import Dialogue, DialogueStore
from seva.logs import exchanges
from seva.outbound import BACKEND, Outbound, Refused, TooLarge, unavailable
from seva.settings import Settings
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department

log = structlog.get_logger("seva.flows")


@dataclass(frozen=True, slots=True)
class Turn:
    """What the citizen is told after one input."""

    messages: tuple[Message, ...]
    lang: str

    @property
    def ask(self) -> Ask | None:
        last = self.messages[-1] if self.messages else None
        return last if isinstance(last, Ask) else None

    @property
    def end(self) -> End | None:
        last = self.messages[-1] if self.messages else None
        return last if isinstance(last, End) else None

    @property
    def finished(self) -> bool:
        return self.end is not None


UNAVAILABLE = frozenset({"unreachable"})
"""Outcomes that count against a department's circuit: the backend did not answer (timeout,
refused, reset) or answered 5xx. A 4xx or an odd body is the backend's answer, not an outage."""


def _origin(url: str) -> str:
    """What a webhook's log line names of its URL: the department's server, not the path and
    query the citizen's answers were filled into (the line names the service)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Seva-Signature`` value: HMAC-SHA256 over ``<timestamp>.<body>`` (Stripe's scheme)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Runtime:
    def __init__(
        self,
        settings: Settings,
        store: DialogueStore,
        outbound: Outbound,
        *,
        gate: Gate,
    ) -> None:
        self.settings = settings
        self.store = store
        self.outbound = outbound
        self.gate = gate
        """What hops run at once in worker threads (``seva.flows.gate``; on the embedded
        database most run on the event loop instead, ``channels.front``); a backend is
        waited on outside it."""
        self.ttl = timedelta(seconds=settings.session_ttl_seconds)

    # -- dialogues ----------------------------------------------------------------------

    def open(
        self,
        session: Session,
        channel: str,
        key: str,
        *,
        phone: str | None = None,
        now: datetime | None = None,
    ) -> Dialogue:
        """The live dialogue for this channel key, or a fresh one (an expired one is closed)."""
        now = now or utcnow()
        dialogue = self.store.load(session, channel, key)
        lapsed: dict[str, str] | None = None
        if dialogue is not None and dialogue.expired(now):
            lapsed = self._lapsed(session, dialogue)
            if dialogue.flow is not None and dialogue.flow.get("phase") != "done":
                state = FlowState.from_dict(dialogue.flow)
                self._record(session, channel, state, "timeout")
            self.store.drop(session, channel, key)
            dialogue = None
        if dialogue is None:
            dialogue = Dialogue(
                channel=channel, key=key, phone=phone, expires_at=(now + self.ttl).isoformat()
            )
            if lapsed is not None:
                dialogue.meta[conversation.TIMED_OUT] = lapsed
            if phone:
                language = citizens.language_of(session, phone)
                if language:
                    dialogue.lang = language
                    dialogue.lang_chosen = True
        return dialogue

    def _lapsed(self, session: Session, dialogue: Dialogue) -> dict[str, str] | None:
        """What an expired dialogue had open, named as the citizen would start it again
        (``seva.flows.conversation``), or None when nothing was open."""
        if not self.in_service(dialogue) or dialogue.service_id is None:
            return None
        again = dialogue.meta.get(conversation.AGAIN)
        if again:
            return {"name": str(again), "again": str(again), "lang": dialogue.lang}
        service = service_by_id(session, dialogue.service_id)
        if service is None:
            return None
        definition = definition_of(service)
        keyword = definition.keywords[0] if definition.keywords else ""
        title = definition.title.get(dialogue.lang) or definition.title["en"]
        return {"name": keyword or title, "again": keyword, "title": title, "lang": dialogue.lang}

    def save(self, session: Session, dialogue: Dialogue, *, now: datetime | None = None) -> None:
        now = now or utcnow()
        dialogue.expires_at = (now + self.ttl).isoformat()
        self.store.save(session, dialogue)

    def close(self, session: Session, dialogue: Dialogue) -> None:
        self.store.drop(session, dialogue.channel, dialogue.key)

    def in_service(self, dialogue: Dialogue) -> bool:
        return dialogue.flow is not None and dialogue.flow.get("phase") != "done"

    def set_language(self, session: Session, dialogue: Dialogue, lang: str) -> None:
        """The citizen chose a language: remember it for every channel."""
        dialogue.lang = lang
        dialogue.lang_chosen = True
        if dialogue.flow is not None:
            dialogue.flow["lang"] = lang
        if dialogue.phone:
            citizen = citizens.get_or_create(session, dialogue.phone, channel=dialogue.channel)
            citizens.set_language(session, citizen, lang)

    # -- running services ---------------------------------------------------------------

    def start(
        self,
        session: Session,
        dialogue: Dialogue,
        service: Service,
        *,
        args: list[str] | None = None,
        now: datetime | None = None,
    ) -> Turn:
        now = now or utcnow()
        definition = definition_of(service)
        department = tenancy.departments(session).id(service.department_id)
        assert department is not None
        profile = self._seen_profile(session, dialogue, department.id)
        context: dict[str, Any] = {
            "phone": dialogue.phone or "",
            "seva": {"base_url": self.settings.base_url.rstrip("/")},
        }
        flow, events = Flow.start(
            definition,
            revision=service.revision,
            lang=dialogue.lang,
            now=now,
            ttl=self.ttl,
            max_attempts=self.settings.max_retries,
            region=self.settings.default_region,
            channel=dialogue.channel,
            profile=profile,
            context=context,
            args=args,
        )
        dialogue.service_id = service.id
        # Counted once the hop commits: a hop rolled back, or tried again, started nothing.
        after_commit(
            session, metrics.STARTED.labels(dialogue.channel, department.code, service.slug).inc
        )
        return self._drive(session, dialogue, flow, events, now)

    def answer(
        self, session: Session, dialogue: Dialogue, text: str, *, now: datetime | None = None
    ) -> Turn:
        now = now or utcnow()
        flow = self._flow(session, dialogue)
        if flow.expired(now):
            return self._drive(session, dialogue, flow, flow.handle_timer(now), now)
        return self._drive(session, dialogue, flow, flow.receive(text, now), now)

    def answer_recording(
        self,
        session: Session,
        dialogue: Dialogue,
        ref: str,
        seconds: float,
        *,
        now: datetime | None = None,
    ) -> Turn:
        """A recorded answer to a ``message`` question (see ``Flow.receive_recording``)."""
        now = now or utcnow()
        flow = self._flow(session, dialogue)
        if flow.expired(now):
            return self._drive(session, dialogue, flow, flow.handle_timer(now), now)
        return self._drive(session, dialogue, flow, flow.receive_recording(ref, seconds, now), now)

    def cancel(self, session: Session, dialogue: Dialogue, *, now: datetime | None = None) -> Turn:
        now = now or utcnow()
        flow = self._flow(session, dialogue)
        return self._drive(session, dialogue, flow, flow.cancel(), now)

    def current_ask(self, dialogue: Dialogue) -> dict[str, Any] | None:
        if not self.in_service(dialogue) or dialogue.flow is None:
            return None
        last: dict[str, Any] | None = dialogue.flow.get("last_ask")
        return last

    def _flow(self, session: Session, dialogue: Dialogue) -> Flow:
        if dialogue.flow is None or dialogue.service_id is None:
            raise LookupError("no service is running in this dialogue")
        service = service_by_id(session, dialogue.service_id)
        if service is None:
            raise LookupError("the service of this dialogue was removed")
        state = FlowState.from_dict(dialogue.flow)
        definition = definition_at(session, service, state.revision)
        return Flow(
            definition,
            state,
            ttl=self.ttl,
            max_attempts=self.settings.max_retries,
            region=self.settings.default_region,
            channel=dialogue.channel,
        )

    def _seen_profile(
        self, session: Session, dialogue: Dialogue, department_id: int
    ) -> dict[str, str]:
        """The caller, seen now (``citizens.seen``), and the profile fields they let this
        department use: none for a caller without a number or one registered just now."""
        if not dialogue.phone:
            return {}
        citizen = citizens.seen(session, dialogue.phone, channel=dialogue.channel)
        if citizen.new:
            return {}
        return citizens.consented_profile(session, citizen.id, department_id)

    def _citizen(self, session: Session, dialogue: Dialogue) -> Citizen | None:
        if not dialogue.phone:
            return None
        return citizens.get_or_create(session, dialogue.phone, channel=dialogue.channel)

    def _contact(self, session: Session, phone: str, lang: str) -> Citizen:
        """Whom an application filed without a known caller sends its status changes to: the
        number the conversation gave (``Flow``'s contact question). The number is not proven
        to be the caller's, so it only receives: the registry entry is not touched beyond
        being made (in the form's language, for the updates) when the number is new, and
        nothing of it (profile, language, other applications) is read into the conversation."""
        known = citizens.find(session, phone)
        if known is not None:
            return known
        citizen = citizens.get_or_create(session, phone)
        if lang in LANGUAGES:
            citizens.set_language(session, citizen, lang)
        return citizen

    def _drive(
        self, session: Session, dialogue: Dialogue, flow: Flow, events: list[Event], now: datetime
    ) -> Turn:
        out: list[Message] = []
        pending = list(events)
        while pending:
            event = pending.pop(0)
            if isinstance(event, Say | Ask | End):
                out.append(event)
                if isinstance(event, End):
                    self._record(session, dialogue.channel, flow.state, event.outcome)
            elif isinstance(event, RememberField):
                self._remember(session, dialogue, flow.state, event)
            else:
                result = self._perform(session, dialogue, flow.state, event, now)
                pending = flow.resolve(result, now) + pending
        dialogue.flow = flow.state.to_dict()
        dialogue.lang = flow.state.lang
        return Turn(messages=tuple(out), lang=flow.state.lang)

    def _record(self, session: Session, channel: str, state: FlowState, outcome: str) -> None:
        dashboard.record_transaction(
            session,
            channel=channel,
            department=state.department,
            service=state.service,
            outcome=outcome,
        )
        after_commit(
            session, metrics.FINISHED.labels(channel, state.department, state.service, outcome).inc
        )

    def _department(self, session: Session, state: FlowState) -> Department:
        department = tenancy.departments(session).code(state.department)
        if department is None:
            raise LookupError(f"department {state.department} is gone")
        return department

    def _remember(
        self, session: Session, dialogue: Dialogue, state: FlowState, event: RememberField
    ) -> None:
        citizen = self._citizen(session, dialogue)
        if citizen is None:
            return
        department = self._department(session, state)
        citizens.remember(
            session, citizen, department.id, event.field, event.value, dialogue.channel
        )

    # -- effects ------------------------------------------------------------------------

    def _perform(
        self, session: Session, dialogue: Dialogue, state: FlowState, effect: Event, now: datetime
    ) -> EffectResult:
        department = self._department(session, state)
        match effect:
            case FindCallTimes() | BookCall() | MoveCall() | CancelCall() | ListCalls():
                return calls.perform(
                    session,
                    effect,
                    department=department,
                    phone=dialogue.phone,
                    channel=dialogue.channel,
                    lang=state.lang,
                    now=now,
                    base_url=self.settings.base_url,
                )
            case LookupRow(dataset=name, key=key):
                try:
                    row = datasets.lookup(session, department.id, name, key)
                except datasets.DatasetError as exc:
                    log.warning("lookup_failed", dataset=name, reason=str(exc))
                    return EffectResult(ok=False, reason=str(exc))
                return EffectResult(ok=True, data=row)
            case CreateApplication(
                kind=kind, status=status, status_texts=texts, data=data, contact=contact
            ):
                citizen = self._citizen(session, dialogue)
                if citizen is None and contact:
                    citizen = self._contact(session, contact, state.lang)
                application = applications.create(
                    session,
                    department=department,
                    service=state.service,
                    kind=kind,
                    status=status,
                    status_texts=texts,
                    data=data,
                    channel=dialogue.channel,
                    citizen=citizen,
                    operator_id=dialogue.operator_id,
                )
                shown = applications.shown_status(application, state.lang)
                return EffectResult(ok=True, data={"ref": application.ref, "status": shown})
            case FindApplication(ref=ref):
                found = applications.find_for_caller(session, ref, phone=dialogue.phone)
                if found is None:
                    return EffectResult(ok=True, data=None)
                summary = applications.summary(session, found, state.lang)
                names = summary.pop("department_name")
                summary["department_name"] = messages.pick(names, state.lang) if names else ""
                return EffectResult(ok=True, data=summary)
            case FindNearby(pincode=pincode, kind=kind, limit=limit):
                places = directory.nearest(session, pincode, kind=kind, limit=limit)
                if not places:
                    return EffectResult(ok=True, data=None)
                return EffectResult(
                    ok=True,
                    data={
                        "text": directory.describe(places),
                        "count": len(places),
                        "first": places[0].office.name,
                    },
                )
            case CallWebhook():
                # Nothing is held while the backend is waited on: what this turn wrote so far
                # is committed (giving back the connection and SQLite's writer turn), and the
                # session opens a new transaction after the call. A hop that may not wait (on
                # the event loop) stops here, before it commits, and is run again in a thread.
                about_to_wait()
                commit(session)
                return self._call(department, state, dialogue, effect)
        raise TypeError(f"unknown effect {effect!r}")

    def _call(
        self, department: Department, state: FlowState, dialogue: Dialogue, call: CallWebhook
    ) -> EffectResult:
        """The department's backend, signed, through ``seva.outbound``: its address checked,
        at most ``SEVA_OUTBOUND_PER_DEPARTMENT`` such calls of the department waiting at once
        and none while its circuit is open, so one department's outage stays its own."""
        try:
            with (
                self.gate.away(),
                self.outbound.bulkheads.slot(department.code, BACKEND) as outcome,
            ):
                result = self._attempts(department, state, dialogue, call)
                if result.reason in UNAVAILABLE or result.reason.startswith("HTTP 5"):
                    outcome.failed()
        except Refused as exc:
            result = EffectResult(ok=False, reason=exc.reason)
        if not result.ok:
            exchanges.warning(
                "webhook_failed",
                department=department.code,
                url=_origin(call.url),
                reason=result.reason,
            )
        return result

    def _attempts(
        self, department: Department, state: FlowState, dialogue: Dialogue, call: CallWebhook
    ) -> EffectResult:
        body = json.dumps(call.body, ensure_ascii=False, separators=(",", ":")).encode()
        signed = b"" if call.method == "GET" else body  # GET sends the fields as a query
        timeout = call.timeout or self.settings.webhook_timeout_seconds
        retries = self.settings.webhook_retries if call.retries is None else call.retries
        reason = ""
        for attempt in range(retries + 1):
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Seva-Timestamp": stamp,
                "X-Seva-Signature": sign(department.webhook_secret, stamp, signed),
                "X-Seva-Service": state.service,
                "X-Seva-Channel": dialogue.channel,
                "X-Seva-Language": state.lang,
            }
            started = time.perf_counter()
            try:
                # The step's timeout is the whole of each attempt, however the backend dribbles.
                response = self.outbound.call(
                    call.method,
                    call.url,
                    budget=timeout,
                    headers=headers,
                    params=call.body if call.method == "GET" else None,
                    content=None if call.method == "GET" else body,
                )
            except Refused as exc:
                return EffectResult(ok=False, reason=exc.reason)
            except TooLarge as exc:
                exchanges.info("webhook_error", department=department.code, error=str(exc))
                return EffectResult(ok=False, reason=TooLarge.reason)
            except httpx.HTTPError as exc:
                if unavailable(exc):
                    reason = "unreachable"
                elif isinstance(exc, httpx.PoolTimeout):
                    reason = "busy"  # this process's own connections, not the backend
                else:
                    reason = "bad response"
                exchanges.info(
                    "webhook_error", department=department.code, error=type(exc).__name__
                )
            else:
                elapsed = round((time.perf_counter() - started) * 1000, 1)
                exchanges.info(
                    "webhook",
                    department=department.code,
                    service=state.service,
                    url=_origin(call.url),
                    status=response.status,
                    ms=elapsed,
                    attempt=attempt + 1,
                )
                if response.status < 300:
                    try:
                        data = response.json()
                    except ValueError:
                        return EffectResult(ok=False, reason="response is not JSON")
                    if not isinstance(data, dict):
                        return EffectResult(ok=False, reason="response is not a JSON object")
                    return EffectResult(ok=True, data=data)
                reason = f"HTTP {response.status}"
                if response.status < 500:
                    break
            if attempt < retries:
                time.sleep(min(0.2 * (2**attempt), 2.0))
        return EffectResult(ok=False, reason=reason)
