"""SMS over SMPP for a running gateway: operator binds, the queue dispatcher, and MO → SMS pull.

Citizens' SMS to the shortcode/longcode arrive as ``deliver_sm`` on the binds; the SMS pull
channel answers them exactly as it answers Kannel's HTTP callback, and the answer is queued as
an MT reply in the same transaction, so an acknowledged MO always gets its reply. ``seva demo``
runs this inside the web process with the SMSC simulator; a scaled-out install runs it as
``seva dispatch`` processes next to the web workers.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from seva.channels import sms
from seva.channels.numbers import msisdn
from seva.channels.smpp.client import RouteConfig, SmppClient
from seva.dashboard import metrics
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.messaging.dispatcher import Dispatcher, Inbound

log = structlog.get_logger(__name__)


class SmsEngine:
    loop: asyncio.AbstractEventLoop

    def __init__(self, gateway: Gateway, routes: list[RouteConfig], **dispatcher: float) -> None:
        self.gateway = gateway
        self.client = SmppClient(routes)
        settings = gateway.settings
        options: dict[str, float] = {
            "lease": settings.sms_lease_seconds,
            "max_unrecorded": settings.sms_max_unrecorded,
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

    async def stop(self) -> None:
        await self.client.stop()
        await self.dispatcher.stop()

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
