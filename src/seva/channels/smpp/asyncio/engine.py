"""SMS over SMPP for a running gateway: operator binds, the queue dispatcher, and MO → SMS pull.

Citizens' SMS to the shortcode/longcode arrive as ``deliver_sm`` on the binds; the SMS pull
channel answers them exactly as it answers Kannel's HTTP callback, and the answer is queued as
an MT reply in the same transaction, so an acknowledged MO always gets its reply. ``seva demo``
runs this inside the web process with the SMSC simulator; a scaled-out install runs it as
``seva dispatch`` processes next to the web workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import structlog

from seva.channels import sms
from seva.channels.smpp.asyncio.client import RouteConfig, SmppClient
from seva.dashboard import metrics
from seva.flows.runtime import sign
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.messaging.dispatcher import Dispatcher, Inbound
from seva.numbers import msisdn
from seva.outbound import CALLBACK_LIMIT, CALLBACKS, Refused, unavailable

log = structlog.get_logger(__name__)
CALLBACK_POLL = 1.0
CALLBACK_TIMEOUT = 10.0
CALLBACK_DEFER = 5.0
"""Seconds before a callback the department's full slots turned away is tried again (an open
circuit puts them aside until it lets a trial through)."""
MAX_POSTING = 200
"""Callbacks being posted at once by one dispatcher."""


class SmsEngine:
    loop: asyncio.AbstractEventLoop

    def __init__(self, gateway: Gateway, routes: list[RouteConfig], **dispatcher: float) -> None:
        self.gateway = gateway
        self.client = SmppClient(routes)
        settings = gateway.settings
        options: dict[str, float] = {
            "lease": settings.sms_lease_seconds,
            "max_unrecorded": settings.sms_max_unrecorded,
            "receipt_timeout": settings.sms_receipt_timeout_hours * 3600,
        } | dispatcher
        self.dispatcher = Dispatcher(
            gateway.db,
            self.client,
            on_mo=self.handle_mo,
            **options,  # type: ignore[arg-type]
        )

    async def start(self, *, wait_bound: float = 0.0) -> None:
        self.loop = asyncio.get_running_loop()
        await self.client.start()
        if wait_bound:
            await self.client.wait_bound(wait_bound)
        await self.dispatcher.start()

        self._callbacks = asyncio.create_task(self._send_callbacks(), name="sms-callbacks")

    async def stop(self) -> None:
        """Claim nothing more, unbind (what was not sent goes back to the queue), then write
        every outcome known."""
        self._callbacks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._callbacks
        await self.dispatcher.stop_claiming()
        await self.client.stop()
        await self.dispatcher.stop()

    async def _send_callbacks(self) -> None:
        """Tell departments the final status of their messages (signed, retried with back-off).

        Each callback is posted by a task of its own through ``seva.outbound`` (address
        checked, the department's callback slots and circuit, a whole-call budget and a cap on
        what is read), so a department whose endpoint hangs delays only its own callbacks;
        nothing is held while a post waits. What a department cannot take now (its slots full,
        its circuit open) is put aside in one write per department, and the loop waits a poll
        before looking again instead of spinning over the same backlog."""
        outbound = self.gateway.runtime.outbound
        posting: set[asyncio.Task[None]] = set()
        async with outbound.async_client(timeout=CALLBACK_TIMEOUT) as http:
            try:
                while True:
                    started = 0
                    try:
                        room = MAX_POSTING - len(posting)
                        due = await asyncio.to_thread(self._callbacks_due, room) if room else []
                        for callback in await self._set_aside(due):
                            task = asyncio.create_task(self._post(http, callback))
                            posting.add(task)
                            task.add_done_callback(posting.discard)
                            started += 1
                    except Exception:
                        log.exception("sms.callbacks_failed")
                    await asyncio.sleep(0 if started else CALLBACK_POLL)
            finally:
                for task in posting:
                    task.cancel()
                await asyncio.gather(*posting, return_exceptions=True)

    def _callbacks_due(self, limit: int) -> list[messaging.CallbackDue]:
        with self.gateway.session() as session:
            return messaging.callbacks_due(session, now=time.time(), limit=limit)

    async def _set_aside(self, due: list[messaging.CallbackDue]) -> list[messaging.CallbackDue]:
        """The callbacks to post now: as many of each department's as it has free callback
        slots, none while its circuit is open; the rest are deferred, one write a department."""
        heads = self.gateway.runtime.outbound.bulkheads
        by_department: dict[tuple[int, str], list[messaging.CallbackDue]] = {}
        for callback in due:
            by_department.setdefault((callback.department_id, callback.department), []).append(
                callback
            )
        now: list[messaging.CallbackDue] = []
        for (department_id, code), callbacks in by_department.items():
            wait = heads.retry_after(code, CALLBACKS)
            take = 0 if wait else max(heads.room(code, CALLBACKS), 0)
            now += callbacks[:take]
            if callbacks[take:]:
                ids = [callback.id for callback in callbacks[take:]]
                await asyncio.to_thread(self._defer, department_id, ids, wait or CALLBACK_DEFER)
        return now

    def _defer(self, department_id: int, ids: list[int], seconds: float) -> None:
        with self.gateway.session() as session:
            messaging.callbacks_deferred(
                session, department_id=department_id, ids=ids, until=time.time() + seconds
            )

    async def _post(self, http: httpx.AsyncClient, callback: messaging.CallbackDue) -> None:
        outbound = self.gateway.runtime.outbound
        body = callback.payload.encode()
        stamp = str(int(time.time()))
        error: str | None = None
        try:
            with outbound.bulkheads.slot(callback.department, CALLBACKS) as outcome:
                try:
                    # The body is ignored: only its first bytes are read, then the call ends.
                    response = await outbound.acall(
                        http,
                        "POST",
                        callback.url,
                        budget=CALLBACK_TIMEOUT,
                        limit=CALLBACK_LIMIT,
                        strict=False,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Seva-Timestamp": stamp,
                            "X-Seva-Signature": sign(callback.secret, stamp, body),
                            "X-Seva-Event": "sms.status",
                        },
                    )
                    if response.status >= 300:
                        error = f"HTTP {response.status}"
                        if response.status >= 500:
                            outcome.failed()
                except Refused as exc:
                    error = exc.reason
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"[:200]
                    if unavailable(exc):
                        outcome.failed()
        except Refused:  # the department's slots or open circuit: not tried, not counted
            wait = outbound.bulkheads.retry_after(callback.department, CALLBACKS)
            await asyncio.to_thread(
                self._defer, callback.department_id, [callback.id], wait or CALLBACK_DEFER
            )
            return

        def record() -> None:
            with self.gateway.session() as session:
                messaging.callback_result(
                    session, callback.id, ok=error is None, error=error, now=time.time()
                )

        await asyncio.to_thread(record)

    def notify(self) -> None:
        self.dispatcher.notify()

    def handle_mo(self, message: Inbound) -> None:
        """One citizen SMS (worker thread): answer it and queue the answer, in one commit."""
        started = time.perf_counter()
        phone = msisdn(message.source, self.gateway.settings.default_region)
        if phone is None:
            log.warning("sms.mo_bad_source", source=message.source[:20])
            return
        metrics.REQUESTS.labels(sms.CHANNEL).inc()
        with self.gateway.session() as session:
            reply = self.gateway.sms.handle(session, phone=phone, text=message.text)
            if reply.text:
                messaging.queue_sms(
                    session,
                    to_phone=phone,
                    text=reply.text,
                    kind="reply",
                    sender=message.destination or self.gateway.settings.shortcode,
                )
        metrics.LATENCY.labels(sms.CHANNEL).observe(time.perf_counter() - started)
