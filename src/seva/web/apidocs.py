"""The interactive API documentation, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served
entirely by Seva.

FastAPI's own pages load both viewers from a CDN and start Swagger UI with an inline script,
so on a machine without internet (a district office, a laptop at a demo) they are blank, and
they need a Content-Security-Policy loose enough to allow both. Here the viewers' files are
shipped in the package (``static/vendor``, each with its licence; ``static/vendor/README.txt``
names the versions and how to update them), Swagger UI is started by ``static/apidocs.js``,
and the pages get the same strict policy as every other page (``seva.browser``), apart from
``data:`` images, which Swagger UI's stylesheet uses for its icons, and, on ``/redoc``, the
``<style>`` elements ReDoc writes, allowed by a nonce.

No OAuth2 redirect page is served: none of Seva's security schemes is OAuth2.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from seva.browser import redoc_policy
from seva.i18n import text as ui
from seva.templating import page_lang, templates

router = APIRouter(include_in_schema=False)

REDOC_STYLE_HASHES = (
    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  # the empty <style> it adds first
    "sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc=",  # then fills: perfect-scrollbar's CSS
)
"""The ``<style>`` elements ``redoc.standalone.js`` (the vendored version) writes as it loads,
before it is handed the nonce; a new version may write others, which
tests/e2e/test_api_docs_browser.py would meet as a policy violation."""


def _page(
    request: Request, viewer: str, title_key: str, style_nonce: str | None = None
) -> HTMLResponse:
    lang = page_lang(request)
    return templates.TemplateResponse(
        request,
        "api_docs.html",
        {
            "lang": lang,
            "t": lambda key: ui(key, lang),
            "title": ui(title_key, lang),
            "viewer": viewer,
            "openapi_url": request.app.openapi_url,
            "style_nonce": style_nonce,
        },
    )


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI: every operation, with a form to try it against this server."""
    return _page(request, "swagger", "api_docs")


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc: the same document as one long, printable page. ReDoc adds ``<style>`` elements
    as it draws, so the page's policy allows those that carry this response's nonce."""
    nonce = secrets.token_urlsafe(18)
    response = _page(request, "redoc", "api_docs_redoc", style_nonce=nonce)
    response.headers["content-security-policy"] = redoc_policy(nonce, REDOC_STYLE_HASHES)
    return response
