"""What every request and response says about Seva's address: the configured one only.

Seva hands out absolute links (locker shares, meeting invitations, call join links, the
verification address on certificates) and the framework builds some of its own (the
redirect from ``/console/`` to ``/console``). Built from the request, they carry whatever
Host header the client wrote: a forged one gives a citizen a link to someone else's
server, and a cache in front of Seva can keep such a page for everyone. So each request is
rewritten, before any route sees it, to the host and scheme of ``SEVA_BASE_URL``; links made
on purpose use ``Settings.absolute_url`` as well, so neither depends on this alone.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``: it runs on every request,
the SMS send API's included, and costs one copy of the header list.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

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
