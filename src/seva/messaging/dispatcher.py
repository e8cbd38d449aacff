"""The dispatcher: drains the durable queue into an SMSC link and records what comes back.

It is the asyncio shell around ``messaging.service``: database work runs in worker threads in
short transactions, batched so one commit covers thousands of outcomes. Delivery receipts and
MO messages are acknowledged to the SMSC only after they are committed, so an SMSC that sees
no ``deliver_sm_resp`` sends them again instead of Seva losing them.

Guarantees: a message is handed to the link only while leased to this dispatcher; a dispatcher
killed mid-window leaves leases that ``recover_leases`` returns to the queue, so every message
reaches the SMSC at least once and duplicates are bounded by what was in flight. Each message
returned that way is counted (``resent_after_lease``, ``seva_sms_resent_after_lease_total``):
it may already have been submitted, so an operator sees how many duplicates a crash can have
caused. A submitted message whose receipt has not come after ``receipt_timeout`` is marked
``unknown`` by whichever dispatcher sweeps first; a receipt that still comes settles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from seva.dashboard import metrics
from seva.db.session import Database
from seva.messaging import service
from seva.messaging.service import BatchInfo, Claimed, Failure, Receipt, Submitted

log = structlog.get_logger(__name__)

Ack = Callable[[], None]
RATES_REFRESH = 30.0
SLOT_SLACK = 0.05
"""A put-back message claimed this close to its reserved turn goes at once."""
RESERVED_MAX = 200_000
"""Seconds between re-reads of the departments' dispatch rates."""
UNMATCHED_RECEIPT_TTL = 120.0
"""Seconds a receipt for an unknown part is retried (its submit may not be written yet)."""
RECEIPT_TIMEOUT = 48 * 3600.0
"""Seconds after submission a message without a receipt is marked ``unknown``: operators keep
a message for at most 48 hours (its validity period), so no receipt will come after that."""
SWEEP_EVERY = 60.0
"""Seconds between sweeps for messages past the receipt timeout."""
SWEEP_BATCH = 5000
SWEEP_ROUNDS = 20
"""A sweep marks at most this many batches, each in its own short transaction."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for the link to split, encode and submit."""

    message_id: int
    source: str
    destination: str
    """International digits without ``+`` (TON 1, NPI 1)."""
    text: str
    priority: int
    department_id: int | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """A whole MO message (long ones already reassembled)."""

    route: str
    source: str
    destination: str
    text: str


class LinkEvents(Protocol):
    """What a link reports back; the dispatcher implements it."""

    def submitted(self, message_id: int, route: str, smsc_ids: list[str]) -> None: ...
    def failed(self, message_id: int, reason: str, *, permanent: bool) -> None: ...
    def deferred(self, message_id: int, delay: float) -> None: ...
    def receipt(self, route: str, smsc_id: str, state: str, error: str, ack: Ack) -> None: ...
    def mo(self, message: Inbound, ack: Ack) -> None: ...
    def ready(self) -> None: ...


class Link(Protocol):
    """Where messages go: the SMPP client, or anything shaped like it."""

    def attach(self, events: LinkEvents) -> None: ...
    def free_capacity(self) -> int: ...
    def submit(self, message: Outgoing) -> None: ...
    def in_flight(self) -> list[int]: ...


MoHandler = Callable[[Inbound], None]
"""Runs in a worker thread; queues the reply (in its own committed transaction)."""


@dataclass
class DispatcherStats:
    claimed: int = 0
    submitted: int = 0
    failed: int = 0
    deferred: int = 0
    receipts: int = 0
    mo: int = 0
    flushes: int = 0
    recovered: int = 0
    """Messages returned to the queue from an expired lease: possible duplicates."""
    unknown: int = 0
    """Messages marked ``unknown``: no receipt within the receipt timeout."""


@dataclass
class _Pending:
    submitted: list[Submitted] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    deferred: list[tuple[int, float]] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    receipt_acks: list[Ack] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.submitted) + len(self.failures) + len(self.deferred) + len(self.receipts)

    def merge_before(self, earlier: _Pending) -> None:
        self.submitted[:0] = earlier.submitted
        self.failures[:0] = earlier.failures
        self.deferred[:0] = earlier.deferred
        self.receipts[:0] = earlier.receipts
        self.receipt_acks[:0] = earlier.receipt_acks


class Dispatcher:
    """Claims due messages while the link has room; flushes outcomes in batches."""

    def __init__(
        self,
        db: Database,
        link: Link,
        *,
        on_mo: MoHandler | None = None,
        max_claim: int = 2000,
        flush_interval: float = 0.05,
        idle_poll: float = 0.25,
        lease: float = 60.0,
        max_unrecorded: int = 5000,
        receipt_timeout: float = RECEIPT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.link = link
        self.on_mo = on_mo
        self.max_claim = max_claim
        self.flush_interval = flush_interval
        self.idle_poll = idle_poll
        self.lease = lease
        self.receipt_timeout = receipt_timeout
        self.max_unrecorded = int(max_unrecorded)
        self._unrecorded = 0
        self._rates: dict[int, int] = {}
        self._rates_at = float("-inf")
        self._next_slot: dict[int, float] = {}
        self._reserved: dict[int, float] = {}
        """Messages handed to the link whose outcome is not committed yet: after a crash these
        are the only ones that can reach the SMSC twice, so this cap bounds duplicates."""
        self.clock = clock
        self.stats = DispatcherStats()
        self._pending = _Pending()
        self._attempts: dict[int, int] = {}
        self._batches: OrderedDict[int, BatchInfo] = OrderedDict()
        self._unknown_receipts: list[tuple[float, Receipt, Ack]] = []
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()
        self._flushed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._mo_tasks: set[asyncio.Task[None]] = set()
        link.attach(self)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._recover)
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="sms-claim"),
            asyncio.create_task(self._flush_loop(), name="sms-flush"),
            asyncio.create_task(self._sweep_loop(), name="sms-receipt-sweep"),
        ]

    async def stop_claiming(self) -> None:
        """No new claims; a claim under way finishes and is handed to the link first."""
        self._stopping = True
        self._wake.set()
        self._halt.set()
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._tasks[0]), self.lease)

    async def stop(self) -> None:
        """Stop claiming, then write every outcome already known (the link, stopped in
        between, has handed back what it could not send)."""
        await self.stop_claiming()
        self._flushing_stopped = True
        for task in self._tasks:
            # The flush loop ends between flushes, never in the middle of one.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), 30)
            task.cancel()
        if self._mo_tasks:
            await asyncio.gather(*self._mo_tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._flush()

    _flushing_stopped = False

    def notify(self) -> None:
        """Something was queued: claim now instead of at the next poll."""
        self._wake.set()

    # -- LinkEvents --------------------------------------------------------------------------

    def submitted(self, message_id: int, route: str, smsc_ids: list[str]) -> None:
        self._pending.submitted.append(Submitted(message_id, route, smsc_ids))
        self.stats.submitted += 1

    def failed(self, message_id: int, reason: str, *, permanent: bool) -> None:
        self._pending.failures.append(Failure(message_id, reason, permanent))
        self.stats.failed += 1

    def deferred(self, message_id: int, delay: float) -> None:
        self._pending.deferred.append((message_id, delay))
        self.stats.deferred += 1

    def ready(self) -> None:
        """The link has room again: claim now rather than at the next flush or poll."""
        if not self._wake.is_set():
            self._wake.set()

    def receipt(self, route: str, smsc_id: str, state: str, error: str, ack: Ack) -> None:
        self._pending.receipts.append(Receipt(route, smsc_id, state, error))
        self._pending.receipt_acks.append(ack)
        self.stats.receipts += 1

    def mo(self, message: Inbound, ack: Ack) -> None:
        self.stats.mo += 1
        if self.on_mo is None:
            ack()
            return
        task = asyncio.create_task(self._handle_mo(message, ack))
        self._mo_tasks.add(task)
        task.add_done_callback(self._mo_tasks.discard)

    async def _handle_mo(self, message: Inbound, ack: Ack) -> None:
        assert self.on_mo is not None
        try:
            await asyncio.to_thread(self.on_mo, message)
        except Exception:
            # Not acknowledged: the SMSC retries it rather than the citizen's SMS vanishing.
            log.exception("sms.mo_failed", source=message.source)
            return
        ack()
        self.notify()

    # -- loops -------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        last_recover = self.clock()
        while not self._stopping:
            try:
                sent = await self._claim_round()
                if self.clock() - last_recover > self.lease / 3:
                    last_recover = self.clock()
                    await asyncio.to_thread(self._recover, self.link.in_flight())
            except Exception:
                # The database may be back in a moment; the loop must outlive any one error.
                log.exception("sms.claim_failed")
                sent = 0
                await asyncio.sleep(1.0)
            if (
                sent == 0
                or self.link.free_capacity() == 0
                or self._unrecorded >= self.max_unrecorded
            ):
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_poll)

    async def _claim_round(self) -> int:
        room = min(self.link.free_capacity(), self.max_unrecorded - self._unrecorded)
        sent = 0
        if room > 0:
            claimed = await asyncio.to_thread(self._claim, min(room, self.max_claim))
            self._unrecorded += len(claimed)
            now = self.clock()
            for c in claimed:
                self._attempts[c.id] = c.attempts
                if c.batch_id not in self._batches:
                    self.failed(c.id, "its batch no longer exists", permanent=True)
                    continue
                outgoing = self._outgoing(c)
                wait = self._rate_wait(outgoing.department_id, c.id, now)
                if wait:
                    self.deferred(c.id, wait)  # over its department's rate: later
                else:
                    self.link.submit(outgoing)
            sent = len(claimed)
        return sent

    async def _sweep_loop(self) -> None:
        """Every ``SWEEP_EVERY`` seconds, from the start, mark ``unknown`` what waited too long
        for its receipt. A task of its own, so a long sweep never holds up claiming."""
        while not self._stopping:
            try:
                await asyncio.to_thread(self.expire_receipts)
            except Exception:
                log.exception("sms.receipt_sweep_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), SWEEP_EVERY)

    async def _flush_loop(self) -> None:
        while not self._flushing_stopped:
            await asyncio.sleep(self.flush_interval)
            if len(self._pending) or self._unknown_receipts:
                try:
                    await self._flush()
                except Exception:
                    # The outcomes are kept for the next try: the database may be back then.
                    log.exception("sms.flush_failed")
                    await asyncio.sleep(1.0)
                    continue
                if self.link.free_capacity() > 0:
                    self._wake.set()

    async def _flush(self) -> None:
        """Write every outcome known so far in one transaction, then acknowledge the receipts
        it matched. A receipt whose part is not known yet (its submit is not written, or it is
        one part of a message still being sent) stays unanswered and is tried again, so a crash
        in the meantime leaves the SMSC to send it again."""
        pending, self._pending = self._pending, _Pending()
        retry, self._unknown_receipts = self._unknown_receipts, []
        now = self.clock()
        expired = [(t, r, a) for t, r, a in retry if now - t >= UNMATCHED_RECEIPT_TTL]
        if expired:
            log.warning("sms.receipts_unmatched", count=len(expired))
            # Given up on: answered, so the SMSC stops resending what can never match.
            self._ack([a for _, _, a in expired])
        keep = [(t, r, a) for t, r, a in retry if now - t < UNMATCHED_RECEIPT_TTL]
        # Older (retried) receipts first, so a newer receipt for the same part wins.
        receipts = [r for _, r, _ in keep] + pending.receipts
        acks: dict[tuple[str, str], list[Ack]] = {}
        first_seen: dict[tuple[str, str], float] = {}
        for t, r, a in keep:
            acks.setdefault((r.route, r.smsc_id), []).append(a)
            first_seen[(r.route, r.smsc_id)] = t
        for r, a in zip(pending.receipts, pending.receipt_acks, strict=True):
            acks.setdefault((r.route, r.smsc_id), []).append(a)
        attempts = {f.message_id: self._attempts.get(f.message_id, 1) for f in pending.failures}
        try:
            unknown = await asyncio.to_thread(self._write, pending, receipts, attempts)
        except BaseException:
            # Nothing was committed: keep every outcome (and unanswered receipt) for the next try.
            self._pending.merge_before(pending)
            self._unknown_receipts[:0] = keep
            raise
        self._unrecorded -= len(pending.submitted) + len(pending.failures) + len(pending.deferred)
        for item in pending.submitted:
            self._attempts.pop(item.message_id, None)
        for failure in pending.failures:
            self._attempts.pop(failure.message_id, None)
        for mid, _ in pending.deferred:
            self._attempts.pop(mid, None)
        self.stats.flushes += 1
        waiting = {(r.route, r.smsc_id): r for r in unknown}
        for key, receipt in waiting.items():
            ack = _all(acks.pop(key, []))
            self._unknown_receipts.append((first_seen.get(key, now), receipt, ack))
        # Committed: now the SMSC may forget these receipts.
        self._ack([a for group in acks.values() for a in group])

    @staticmethod
    def _ack(acks: list[Ack]) -> None:
        for ack in acks:
            try:
                ack()
            except Exception:
                # One stale answer (its connection gone) must not keep the others from going.
                log.exception("sms.ack_failed")

    # -- database work (worker threads) ------------------------------------------------------

    def _recover(self, holding: list[int] | None = None) -> None:
        """Renew the leases of what this dispatcher still holds, then take back expired ones
        (a dead dispatcher's)."""
        now = self.clock()
        with self.db.session() as session:
            if holding:
                service.renew_leases(session, holding, until=now + self.lease)
            recovered = service.recover_leases(session, now=now)
        if recovered:
            log.warning("sms.leases_recovered", count=recovered)
            self.stats.recovered += recovered
            metrics.SMS_RESENT_AFTER_LEASE.inc(recovered)

    def expire_receipts(self) -> int:
        """Mark ``unknown`` the messages whose receipt is past the timeout (a worker thread);
        in batches, so no one transaction holds many rows. Returns how many."""
        marked = 0
        for _ in range(SWEEP_ROUNDS):
            with self.db.session() as session:
                ids = service.expire_receipts(
                    session, now=self.clock(), timeout=self.receipt_timeout, limit=SWEEP_BATCH
                )
            marked += len(ids)
            if len(ids) < SWEEP_BATCH:
                break
        if marked:
            log.info("sms.receipts_timed_out", count=marked)
            self.stats.unknown += marked
            metrics.SMS_RECEIPT_TIMEOUTS.inc(marked)
        return marked

    def _rate_wait(self, department_id: int | None, message_id: int, now: float) -> float:
        """0 when the message may go now, else the seconds until its department's turn.

        Each department with a cap (``SmsAccount.rate_per_second``) has a next free slot, one
        every 1/rate seconds, so one department's campaign cannot take the whole SMSC link
        from the others. A message that must wait is given its slot and put back until then;
        when it is claimed again it goes at once, so a campaign is put back at most once per
        message rather than over and over.
        """
        if department_id is None or not (rate := self._rates.get(department_id)):
            return 0.0
        slot = self._reserved.pop(message_id, None)
        if slot is not None and slot <= now + SLOT_SLACK:
            return 0.0
        turn = max(now, self._next_slot.get(department_id, now))
        self._next_slot[department_id] = turn + 1.0 / rate
        if turn <= now:
            return 0.0
        if len(self._reserved) > RESERVED_MAX:
            # Reservations of messages another dispatcher took: forget the oldest.
            for stale in sorted(self._reserved, key=self._reserved.__getitem__)[:1000]:
                del self._reserved[stale]
        self._reserved[message_id] = turn
        return turn - now

    def _claim(self, limit: int) -> list[Claimed]:
        if self.clock() - self._rates_at > RATES_REFRESH:
            with self.db.session() as session:
                self._rates = service.dispatch_rates(session)
            self._rates_at = self.clock()
        with self.db.session() as session:
            claimed = service.claim(session, limit=limit, now=self.clock(), lease=self.lease)
            needed = {c.batch_id for c in claimed}
            for bid in needed & self._batches.keys():
                self._batches.move_to_end(bid)  # recently used: evicted last
            missing = needed - self._batches.keys()
            if missing:
                self._batches.update(service.batches(session, missing))
            while len(self._batches) > max(10_000, 2 * len(needed)):
                self._batches.popitem(last=False)
        self.stats.claimed += len(claimed)
        return claimed

    def _outgoing(self, c: Claimed) -> Outgoing:
        info = self._batches[c.batch_id]
        return Outgoing(
            message_id=c.id,
            source=info.sender,
            destination=c.to_phone.lstrip("+"),
            text=c.text if c.text is not None else info.text,
            priority=c.priority,
            department_id=info.department_id,
        )

    def _write(
        self, pending: _Pending, receipts: list[Receipt], attempts: dict[int, int]
    ) -> list[Receipt]:
        now = self.clock()
        with self.db.session() as session:
            service.record_submitted(session, pending.submitted, now=now)
            if pending.failures:
                service.record_failures(session, pending.failures, now=now, attempts=attempts)
            by_delay: dict[float, list[int]] = {}
            for mid, delay in pending.deferred:
                by_delay.setdefault(delay, []).append(mid)
            for delay, ids in by_delay.items():
                service.requeue(session, ids, now=now, delay=delay)
            return service.apply_receipts(session, receipts, now=now)


def _all(acks: list[Ack]) -> Ack:
    def ack() -> None:
        for one in acks:
            one()

    return ack
