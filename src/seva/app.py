"""The ASGI application: every domain's router mounted on one FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.middleware.sessions import SessionMiddleware

from seva import __version__, errors, logs
from seva.channels.routes import router as channel_router
from seva.gateway import Gateway, build_gateway
from seva.logs import RequestIdMiddleware
from seva.settings import Settings, get_settings
from seva.web import auth

STATIC_DIR = Path(__file__).parent / "web" / "static"


def create_app(settings: Settings | None = None, *, gateway: Gateway | None = None) -> FastAPI:
    settings = settings or get_settings()
    owned = gateway is None
    gw = gateway or build_gateway(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
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
    )
    app.state.gateway = gw
    logs.configure(settings.env)
    errors.install(app)
    auth.install(app)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="seva_session",
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
        max_age=8 * 3600,
    )
    app.add_middleware(RequestIdMiddleware)

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

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(channel_router)
    app.include_router(auth.router)
    if settings.env != "production":
        from seva.demo.backend import router as demo_backend

        app.include_router(demo_backend)
    for router in _domain_routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _domain_routers() -> list[APIRouter]:
    """Each domain package owns its routes; they are mounted here in one place."""
    from seva.applications import pages as application_pages
    from seva.applications import router as applications
    from seva.channels import api as app_api
    from seva.dashboard import router as dashboard
    from seva.tenancy import pages as tenancy_pages
    from seva.tenancy import router as tenancy
    from seva.web import router as web

    return [
        app_api.router,
        tenancy.router,
        applications.router,
        application_pages.router,
        tenancy_pages.router,
        dashboard.router,
        web.router,
    ]
