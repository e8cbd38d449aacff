"""The bare-ASGI floor for ``ussd_hops.py``: the same routes answered with no framework and no data.

A pure ASGI callable that reads the aggregator's form body whole, as Seva does, picks the
screen from ``text`` and answers the same bytes Seva answers for the benchmark's walk (the
USSD menus and the ration card status, the SMS reply to ``RATION 1234567890``), with nothing
between the server and the answer: no routing table, no validation, no database, no session,
no logging. Served by the same uvicorn, event loop and HTTP parser as Seva and driven by the
same client, it is what that stack costs per request on this machine, so Seva's figures can be
read as a multiple of it.

    uvicorn asgi_floor:app --app-dir bench --port 8000

The screens are copied from what ``seva demo`` answers; the benchmark checks the answers the
same way for both, so a changed menu in Seva shows up as errors there, not here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAIN_MENU = (
    "CON Seva *166#\n1. Transport Department\n2. Food & Civil Supplies\n3. Municipal Corporation\n"
    "4. Agriculture & Farmers Welfare\n5. Track & find a centre\n0. Language"
)
FOOD_MENU = (
    "CON Food & Civil Supplies\n1. Ration card status\n2. Monthly grain entitlement\n"
    "3. Book a call with an official\n0. Back"
)
ASK_CARD = "CON Enter your ration card number"
CARD = "Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
USSD = {"": MAIN_MENU, "2": FOOD_MENU, "2*1": ASK_CARD, "2*1*1234567890": "END " + CARD}
SMS = {"RATION 1234567890": CARD}
UNKNOWN = "END Unknown choice"

TEXT_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [*TEXT_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":  # nothing to start: acknowledge and wait for shutdown
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/healthz":
        await _answer(send, 200, "ok")
        return
    form = dict(parse_qsl((await _body(receive)).decode(), keep_blank_values=True))
    text = form.get("text", "")
    if path == "/channels/ussd/africastalking":
        await _answer(send, 200, USSD.get(text, UNKNOWN))
    elif path == "/channels/sms/kannel":
        await _answer(send, 200, SMS.get(" ".join(text.split()).upper(), "Unknown keyword"))
    else:
        await _answer(send, 404, "not found")
