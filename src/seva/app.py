"""The ASGI application: every domain's router mounted on one FastAPI app."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route, WebSocketRoute

from seva import __version__, errors, logs
from seva.browser import BrowserPolicy, PinnedOrigin
from seva.channels.front import CALLBACKS, OperatorFront
from seva.channels.routes import router as channel_router
from seva.dashboard.metrics import ScrapeGuard
from seva.demo import backend as demo_backend
from seva.gateway import Gateway, Listening, build_gateway
from seva.logs import RequestIdMiddleware
from seva.messaging.send_front import SendFront
from seva.rtc import service as rtc
from seva.settings import Settings, get_settings
from seva.tenancy import login
from seva.web import apidocs, sim

STATIC_DIR = Path(__file__).parent / "web" / "static"
log = structlog.get_logger(__name__)


async def start_sms(gateway: Gateway) -> None:
    """Bind to the configured SMSCs — or, with none configured, to an SMSC simulator started
    here (the demo only: its messages never leave this machine) — and start draining the SMS
    queue."""
    from seva.channels.smpp.asyncio.client import RouteConfig, parse_routes
    from seva.channels.smpp.asyncio.engine import SmsEngine

    settings = gateway.settings
    routes = parse_routes(settings.smsc.get_secret_value())
    if not routes and settings.env != "demo":
        raise RuntimeError("SEVA_SMS_DISPATCH=1 needs SEVA_SMSC outside `seva demo`")
    if not routes:
        from seva.channels.smpp.asyncio.simulator import DEFAULT_ACCOUNTS, SimConfig, SmscSimulator

        sim = SmscSimulator(SimConfig(receipt_delay=1.0))  # its account: DEFAULT_ACCOUNTS
        asked = settings.smsc_sim_port
        why_moved = ""
        try:
            host, port = await sim.start("127.0.0.1", asked)
        except OSError as exc:
            why_moved = why_not_bound(exc)
            host, port = await sim.start("127.0.0.1", 0)  # 2775 is taken: any free port
        gateway.smsc_sim = sim
        gateway.listening["smsc_sim"] = Listening(host, port, asked, why_moved)
        [(system_id, password)] = DEFAULT_ACCOUNTS.items()
        routes = [
            RouteConfig(
                name="simulator",
                host=host,
                port=port,
                system_id=system_id,
                password=password,
                window=50,
            )
        ]
    engine = SmsEngine(gateway, routes)
    await engine.start(wait_bound=5.0)
    gateway.sms_engine = engine

    def wake() -> None:
        engine.loop.call_soon_threadsafe(engine.notify)

    gateway.sms_wake = wake
    log.info("sms.dispatching", routes=[f"{r.name}@{r.host}:{r.port}" for r in routes])


def why_not_bound(exc: OSError) -> str:
    """Why a port could not be bound, in the few words a start-up line can carry. uvloop
    raises its own "could not bind" with the system's error as the cause."""
    cause = exc.__cause__ if exc.errno is None and isinstance(exc.__cause__, OSError) else exc
    if cause.errno == errno.EADDRINUSE:
        return "was in use"
    if cause.errno == errno.EACCES:
        return "needs privileges"
    return str(cause.strerror or cause).lower()


async def stop_sms(gateway: Gateway) -> None:
    if gateway.sms_engine is not None:
        gateway.sms_wake = None
        await gateway.sms_engine.stop()
        gateway.sms_engine = None
    if gateway.smsc_sim is not None:
        await gateway.smsc_sim.stop()
        gateway.smsc_sim = None
    gateway.listening.pop("smsc_sim", None)


async def start_sip(gateway: Gateway) -> None:
    """The SIP endpoint for phone calls (``channels.voice.asyncio.endpoint``); the demo's SIP port
    falls back to any free one when 5060 is taken."""
    from seva.channels.voice.asyncio.endpoint import SipEndpoint, parse_ports, parse_trunk

    settings = gateway.settings

    def run_in_db(work: Any) -> Any:
        with gateway.session() as session:
            return work(session)

    endpoint = SipEndpoint(
        gateway.voice,
        gateway.speech,
        run_in_db,
        host=settings.sip_host,
        port=settings.sip_port,
        trunks=[t.strip() for t in settings.sip_trunks.split(",") if t.strip()],
        rtp_ports=parse_ports(settings.sip_rtp_ports),
        max_calls=settings.sip_max_calls,
        region=settings.default_region,
        missed_calls=gateway.missed_calls,
        trunk=parse_trunk(settings.sip_trunk),
        dial_concurrency=settings.sip_dial_concurrency,
        ring_seconds=settings.sip_ring_seconds,
    )
    why_moved = ""
    try:
        await endpoint.start()
    except OSError as exc:
        if settings.env != "demo":
            raise
        why_moved = why_not_bound(exc)
        endpoint.port = 0
        await endpoint.start()
    gateway.sip = endpoint
    gateway.listening["sip"] = Listening(endpoint.host, endpoint.port, settings.sip_port, why_moved)


async def stop_sip(gateway: Gateway) -> None:
    if gateway.sip is not None:
        await gateway.sip.stop()
        gateway.sip = None
    gateway.listening.pop("sip", None)


DIARY_EVERY = 30.0


async def keep_call_diary(gateway: Gateway, every: float = DIARY_EVERY) -> None:
    """Every half minute: appointment reminders by SMS, and past appointments nobody attended
    marked missed. Safe on several nodes at once (each reminder is claimed by one)."""
    log = structlog.get_logger("seva.rtc")

    def sweep() -> None:
        now = datetime.now(UTC)
        with gateway.session() as session:
            sent = rtc.send_due_reminders(session, now=now, base_url=gateway.settings.base_url)
            missed = rtc.mark_missed(session, now=now)
        if sent or missed:
            log.info("rtc.diary", reminders=sent, missed=missed)

    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(sweep)
        except Exception:
            log.exception("rtc.diary_failed")


def create_app(settings: Settings | None = None, *, gateway: Gateway | None = None) -> FastAPI:
    settings = settings or get_settings()
    owned = gateway is None
    gw = gateway or build_gateway(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gw.size_thread_pools()
        if gw.catalog_bus is not None:
            gw.catalog_bus.start()
        if settings.sms_dispatch:
            await start_sms(gw)
        if settings.sip:
            await start_sip(gw)
        await gw.rtc.start()
        diary = asyncio.create_task(keep_call_diary(gw))
        try:
            yield
        finally:
            diary.cancel()
            if gw.catalog_bus is not None:
                await asyncio.to_thread(gw.catalog_bus.stop)  # joins its threads
            await gw.rtc.stop()
            await stop_sip(gw)
            await stop_sms(gw)
            if gw.rtc.sfu is not None:
                await gw.rtc.sfu.aclose()
            if owned:
                gw.close()

    app = FastAPI(
        title="Seva",
        version=__version__,
        summary="Multichannel public-service delivery gateway",
        description=(
            "A department defines a service once; citizens use it over SMS, USSD, voice, "
            "the web, assisted kiosks and the app, and get the same answer on every channel."
        ),
        lifespan=lifespan,
        # Served by web.apidocs from the package instead of FastAPI's pages, which need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = gw
    logs.configure(settings.env, level=settings.log_level)
    logs.without_access_lines(frozenset(path for _, path in CALLBACKS))
    errors.install(app)
    login.install(app)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="seva_session",
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
        max_age=8 * 3600,
    )
    app.add_middleware(SendFront, gateway=gw)  # inside the request id and browser policy
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(BrowserPolicy, settings=settings)
    app.add_middleware(PinnedOrigin, settings=settings)
    app.add_middleware(OperatorFront, gateway=gw)  # outermost: see channels.front

    @app.get("/healthz", tags=["ops"], summary="Liveness and database check")
    def healthz() -> JSONResponse:
        try:
            with gw.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse(
                {"status": "error", "database": type(exc).__name__}, status_code=503
            )
        return JSONResponse(
            {"status": "ok", "version": __version__, "database": gw.db.engine.dialect.name}
        )

    scrapers = ScrapeGuard(settings)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        client = request.client.host if request.client else None
        refused = scrapers.refusal(client, request.headers.get("authorization"))
        if refused is not None:
            return refused
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    routers = [channel_router, login.router, apidocs.router, *_domain_routers()]
    if settings.serves_demo_routes:
        routers += [demo_backend.router, sim.router]
    for router in routers:
        _include(app, router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _include(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, added to the app's own list rather than through
    ``include_router``. FastAPI 0.165 keeps an included router as a node of its own and, for
    every request, asks each node whether any of its routes matches, then asks again to pick
    the route: ``POST /api/v1/messages`` was matched against about 140 routes, which took a
    third of its CPU. Added flat, the app's router tries its routes once, in order, and a
    router's own prefix, tags, dependencies and route class are already on its routes (they
    are applied as each route is declared). Routers are not nested, so that holds for all.
    What is not carried over is ``app.dependency_overrides``, which Seva does not use: a
    route declared on a router looks up no override on the app."""
    for route in router.routes:
        if not isinstance(route, Route | WebSocketRoute):
            raise TypeError(f"{route!r} in {router!r}: include routers in app.py, not nested")
        app.router.routes.append(route)


def _domain_routers() -> list[APIRouter]:
    """Each domain package owns its routes; they are mounted here in one place."""
    from seva.applications import pages as application_pages
    from seva.applications import router as applications
    from seva.channels import api as app_api
    from seva.channels.voice import webhooks as voice_webhooks
    from seva.dashboard import router as dashboard
    from seva.locker import app_api as locker_app
    from seva.locker import router as locker
    from seva.messaging import msdg_router
    from seva.messaging import pages as sms_pages
    from seva.messaging import router as sms_api
    from seva.rtc import api as calls_app
    from seva.rtc import router as rtc
    from seva.tenancy import pages as tenancy_pages
    from seva.tenancy import router as tenancy
    from seva.voice import router as voice_notices
    from seva.web import router as web

    # Routes are tried in this order: the machines' busiest first (a department's sends, its
    # MSDG-compatible sends, the app, voice callbacks), the pages people read after them.
    return [
        *sms_api.routers,
        msdg_router.router,
        app_api.router,
        voice_webhooks.router,
        voice_notices.router,
        calls_app.router,
        locker_app.router,
        tenancy.router,
        applications.router,
        application_pages.router,
        sms_pages.router,
        tenancy_pages.router,
        dashboard.router,
        locker.api,
        locker.pages,
        rtc.router,
        *web.routers,
    ]
