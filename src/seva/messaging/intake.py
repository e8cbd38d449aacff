"""Group commit for the department send API.

A department backend sending OTPs and alerts one request at a time would otherwise pay a
transaction per message: its own commit, its own reads of the API key, DLT registrations
and quota, and, on SQLite, its own turn at the database's single writer lock. Requests that
arrive while a group is being written wait for the next group, and each group is checked and
inserted together by ``messaging.send_many`` and committed once. Nothing is acknowledged
before its group's commit, so a 202 still means the message survives a crash; an idle
gateway writes a lone request at once (a group of one), so batching adds no latency.

The API key is checked inside the group's transaction too: the endpoint itself never waits
on the database, and a key revoked a moment ago is refused by the next group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seva.db.session import Database
from seva.messaging import service as messaging
from seva.messaging.service import Accepted, Send, SendRefused
from seva.tenancy.models import Department
from seva.tenancy.service import key_department

MAX_GROUP = 500
"""Requests written in one transaction; more wait for the next group."""
MAX_GROUP_RECIPIENTS = 20_000
SMALL = 100
"""Requests with more recipients than this are campaigns, written in a group of their own."""

Outcome = Accepted | SendRefused | None
"""What a request gets: accepted, refused with a reason, or None when its key is not valid."""

CONFLICT = SendRefused(
    "idempotency_conflict",
    "another request with this Idempotency-Key is being processed; retry in a moment",
    field="Idempotency-Key",
)


@dataclass(frozen=True, slots=True)
class SendJob:
    """One API request: the key it was sent with and how to build its send for a department."""

    api_key: str
    make: Callable[[Department], Send]
    recipients: int = 1


def _queued(outcome: Outcome) -> bool:
    return isinstance(outcome, Accepted) and outcome.accepted > 0 and not outcome.replayed


class SendIntake:
    """Gathers send requests on the event loop and writes them a group per transaction."""

    def __init__(self, db: Database, *, on_commit: Callable[[], None] | None = None) -> None:
        self._db = db
        self._on_commit = on_commit
        self._waiting: list[tuple[SendJob, asyncio.Future[Outcome]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._large_turn = False
        self.groups = 0
        """Groups written so far (how well requests are being batched, with ``requests``)."""
        self.requests = 0

    async def submit(self, job: SendJob) -> Outcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.append((job, future))
        if self._writer is None or self._writer.get_loop() is not loop or self._writer.done():
            self._writer = loop.create_task(self._write_all())
        # Shielded: a client that hangs up does not take its already-queued write with it.
        return await asyncio.shield(future)

    async def _write_all(self) -> None:
        while self._waiting:
            group = self._next_group()
            try:
                outcomes = await asyncio.to_thread(self._write, [job for job, _ in group])
            except Exception as exc:  # the commit failed: nothing in the group was acknowledged
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
            if self._on_commit is not None and any(_queued(o) for o in outcomes):
                self._on_commit()

    def _next_group(self) -> list[tuple[SendJob, asyncio.Future[Outcome]]]:
        """Small requests together, a campaign on its own, taking turns.

        A one-message OTP must not wait behind a 10,000-number campaign's insert: the waiting
        small requests go first as one group, then one waiting campaign, then small ones
        again, so neither kind can starve the other.
        """
        small = [entry for entry in self._waiting if entry[0].recipients <= SMALL]
        large = [entry for entry in self._waiting if entry[0].recipients > SMALL]
        if large and (not small or self._large_turn):
            group = large[:1]
        else:
            group, recipients = [], 0
            for entry in small:
                if group and (
                    len(group) >= MAX_GROUP
                    or recipients + entry[0].recipients > MAX_GROUP_RECIPIENTS
                ):
                    break
                group.append(entry)
                recipients += entry[0].recipients
        self._large_turn = not self._large_turn if large else False
        taken = {id(entry) for entry in group}
        self._waiting = [entry for entry in self._waiting if id(entry) not in taken]
        return group

    def _write(self, jobs: list[SendJob]) -> list[Outcome]:
        """Runs in a worker thread: one transaction for the group, or one per request when
        a concurrent twin (same idempotency key, another process) makes the group's insert
        fail, so that only the twin is refused."""
        self.groups += 1
        self.requests += len(jobs)
        try:
            with self._db.session() as session:
                return self._send(session, jobs)
        except IntegrityError:
            if len(jobs) == 1:
                return [CONFLICT]
        outcomes: list[Outcome] = []
        for job in jobs:
            try:
                with self._db.session() as session:
                    outcomes.extend(self._send(session, [job]))
            except IntegrityError:
                outcomes.append(CONFLICT)
        return outcomes

    @staticmethod
    def _send(session: Session, jobs: list[SendJob]) -> list[Outcome]:
        departments: dict[str, Department | None] = {}
        requests: list[Send] = []
        slots: list[int] = []
        outcomes: list[Outcome] = [None] * len(jobs)
        for i, job in enumerate(jobs):
            if job.api_key not in departments:
                departments[job.api_key] = key_department(session, job.api_key)
            department = departments[job.api_key]
            if department is not None:
                requests.append(job.make(department))
                slots.append(i)
        for i, outcome in zip(slots, messaging.send_many(session, requests), strict=True):
            outcomes[i] = outcome
        return outcomes
