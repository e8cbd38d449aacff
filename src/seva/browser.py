"""What every request and response says to browsers: Seva's one address, and what a page may do.

**One address.** Seva hands out absolute links (locker shares, meeting invitations, call join
links, the verification address on certificates) and the framework builds some of its own
(the redirect from ``/console/`` to ``/console``). Built from the request, they carry
whatever Host header the client wrote: a forged one gives a citizen a link to someone else's
server, and a cache in front of Seva can keep such a page for everyone. So each request is
rewritten, before any route sees it, to the host and scheme of ``SEVA_BASE_URL``
(``PinnedOrigin``); links made on purpose use ``Settings.absolute_url`` as well, so neither
depends on this alone.

**What a page may do** (``BrowserPolicy``). Every HTML page gets a Content-Security-Policy
(W3C CSP Level 3) that lets it load scripts, styles, media and connections from Seva only,
with no inline script or ``style=`` attribute anywhere (the templates have none; keep it so),
no framing by other sites (``frame-ancestors 'none'`` and X-Frame-Options for older
browsers), and a Permissions-Policy that turns camera, microphone and screen capture off
except on the pages that use them: the call room (``/call/a/…``, ``/call/room/…``,
``/meet/…``: camera, microphone, screen sharing, its signalling WebSocket and, when
configured, Janus's WebSocket) and the phone simulator (``/sim``: the microphone). Every
response, JSON and static files too, gets ``X-Content-Type-Options: nosniff`` and a
``Referrer-Policy`` of ``same-origin``, so a share or call link in the address bar never
leaves in a Referer. A header a route set itself is kept.

The interactive API docs (``/docs``, ``/redoc``) are Seva's own pages (``web.apidocs``) with
Swagger UI's and ReDoc's files shipped in the package, so they work without internet and get
the same policy, nothing from another site and no inline script, with one addition:
``data:`` images, which Swagger UI's stylesheet uses for its icons. ReDoc writes its styles
into ``<style>`` elements as it runs and starts its search in a ``blob:`` worker, so ``/redoc``
sets its own policy (``redoc_policy``) that allows those styles by a nonce made for each
response and by hash, rather than all inline style, and workers from ``blob:``.

Both are pure ASGI rather than Starlette's ``BaseHTTPMiddleware``: they run on every request,
the SMS send API's included, and cost a copy of a header list each.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seva.settings import Settings


class PinnedOrigin:
    """Requests as if addressed to ``SEVA_BASE_URL``, whatever their Host header says."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        base = urlsplit(settings.base_url)
        self._host = _host_header(base.hostname or "", base.port)
        secure = base.scheme == "https"
        self._schemes = {
            "http": "https" if secure else "http",
            "websocket": "wss" if secure else "ws",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme = self._schemes.get(scope["type"])
        if scheme is not None:
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            headers.append((b"host", self._host))
            scope = {**scope, "headers": headers, "scheme": scheme}
        await self.app(scope, receive, send)


def _host_header(name: str, port: int | None) -> bytes:
    """The Host header for ``name`` and ``port`` (IPv6 in brackets, IDNs as punycode)."""
    host = f"[{name}]" if ":" in name else name.encode("idna").decode("ascii")
    return (host if port is None else f"{host}:{port}").encode("ascii")


Header = tuple[bytes, bytes]

CALL_ROOMS = ("/call/a/", "/call/room/", "/meet/")
"""The pages that run a call (``rtc/templates/call.html``): camera, microphone, screen."""
SIMULATOR = "/sim"
DOCS = ("/docs", "/redoc")

_PAGE = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "media-src": "'self'",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_DOCS = _PAGE | {"img-src": "'self' data:"}
_DEVICES = ("camera", "microphone", "display-capture", "geolocation")


def _csp(directives: dict[str, str]) -> bytes:
    return "; ".join(f"{name} {value}" for name, value in directives.items()).encode("ascii")


def redoc_policy(style_nonce: str, style_hashes: Iterable[str]) -> str:
    """The Content-Security-Policy of ``/redoc``. ReDoc writes ``<style>`` elements as it
    runs: those carrying ``style_nonce`` (new for each response, so nothing injected into the
    page can guess it) and the few it writes before it is handed the nonce, named by the
    hashes of their text. Its search index runs in a worker it starts from a ``blob:`` URL."""
    styles = " ".join(["'self'", f"'nonce-{style_nonce}'", *(f"'{h}'" for h in style_hashes)])
    return _csp(_DOCS | {"style-src": styles, "worker-src": "blob:"}).decode("ascii")


def _permissions(*allowed: str) -> bytes:
    """Permissions-Policy: the ``allowed`` features for this page's own origin, the rest off."""
    return ", ".join(
        f"{name}=(self)" if name in allowed else f"{name}=()" for name in _DEVICES
    ).encode("ascii")


def _websocket_origin(url: str) -> str:
    """``wss://host:port`` for an http(s) or ws(s) URL, the form connect-src wants."""
    parts = urlsplit(url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


class BrowserPolicy:
    """Security headers for browsers: CSP, framing and device permissions on HTML pages,
    nosniff and the referrer policy on everything (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        # 'self' covers the page's own ws:/wss: in CSP Level 3; the configured address is
        # named too for browsers that predate it.
        sockets = [_websocket_origin(settings.base_url)]
        if settings.janus_ws_url:
            sockets.append(_websocket_origin(settings.janus_ws_url))
        call = _PAGE | {
            "img-src": "'self' blob:",
            "media-src": "'self' blob:",
            "connect-src": " ".join(["'self'", *sockets]),
        }
        self._always: tuple[Header, ...] = (
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        )
        framing = (b"x-frame-options", b"DENY")
        self._page = self._html(_csp(_PAGE), _permissions(), framing)
        self._call = self._html(
            _csp(call), _permissions("camera", "microphone", "display-capture"), framing
        )
        self._sim = self._html(_csp(_PAGE), _permissions("microphone"), framing)
        self._docs = self._html(_csp(_DOCS), _permissions(), framing)

    def _html(self, csp: bytes, permissions: bytes, *more: Header) -> tuple[Header, ...]:
        return (
            *self._always,
            (b"content-security-policy", csp),
            (b"permissions-policy", permissions),
            *more,
        )

    def for_page(self, path: str) -> tuple[Header, ...]:
        """The headers an HTML response at ``path`` gets."""
        if path.startswith(CALL_ROOMS):
            return self._call
        if path == SIMULATOR or path.startswith(SIMULATOR + "/"):
            return self._sim
        if path in DOCS:
            return self._docs
        return self._page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._with_policy(path, message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_with_policy)

    def _with_policy(self, path: str, headers: Iterable[Header]) -> list[Header]:
        given = list(headers)
        present: set[bytes] = set()
        html = False
        for name, value in given:  # ASGI header names are lower case
            present.add(name)
            if name == b"content-type":
                html = value[:9].lower() == b"text/html"
        wanted = self.for_page(path) if html else self._always
        given.extend(header for header in wanted if header[0] not in present)
        return given
