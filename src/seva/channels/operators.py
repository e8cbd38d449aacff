"""Who may call the operator routes under ``/channels``: the operator or aggregator, nobody else.

These routes believe the citizen's number the request gives (Kannel's ``from``, Africa's
Talking's ``phoneNumber``, the voice providers' ``From`` and ``CallFrom``), so whoever can call
them acts as any citizen: reads their documents and codes by SMS (``DOCS``), cancels their calls
(``CALL CANCEL``). Each route therefore names its operator, and each operator has

* a shared secret, ``SEVA_<OPERATOR>_SECRET``: the ``secret`` query parameter of the URL the
  operator is given (Kannel's get-url, Africa's Talking's callback URL, the voice webhooks), an
  ``X-Seva-Secret`` header, or the password of HTTP basic auth (``https://seva:SECRET@host/…``);
* an allow-list, ``SEVA_<OPERATOR>_ALLOW``: IP addresses and CIDR networks the requests come
  from (as uvicorn reports the client: behind a proxy, the forwarded address it trusts);
* for TwiML also the provider's signature, ``X-Twilio-Signature`` with ``SEVA_TWILIO_AUTH_TOKEN``.

Every one that is set must be met. With none set the route refuses every request (403) and the
log names the settings to set, so nothing is open by default; ``seva demo`` allow-lists loopback
for its curl examples. Secrets are compared in constant time.

The prompt audio the voice providers fetch (``/channels/voice/audio/…``) is a link Seva hands
them: it carries its own signature (``audio_link``), made with ``SEVA_SECRET_KEY``.

``operator_only`` is the one dependency: every router under ``/channels`` carries it, and it
refuses a route that ``ROUTES`` gives no guard, so a new channel route cannot be left open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from typing import Final, Protocol

import structlog
from fastapi import Request
from pydantic import SecretStr

from seva.errors import ApiError
from seva.gateway import GatewayDep
from seva.settings import Settings, networks

log = structlog.get_logger("seva.channels.operators")

SECRET_PARAM: Final = "secret"  # noqa: S105 - the name of the parameter
SECRET_HEADER: Final = "x-seva-secret"  # noqa: S105 - the name of the header
AUDIO_SIGNATURE_PARAM: Final = "sig"


class Guard(Protocol):
    async def refusal(self, request: Request, settings: Settings) -> str | None:
        """Why the request is not the operator's (for the log), or None to let it through."""


def twilio_signature(token: str, url: str, fields: list[tuple[str, str]]) -> str:
    """Twilio's request signature: the URL, then each form field's name and value in order of
    name, HMAC-SHA1 with the account's auth token, base64."""
    data = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _same(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.encode(), secret.encode())


def presented_secret(request: Request) -> str:
    """The secret a request carries: ``?secret=``, ``X-Seva-Secret`` or basic auth's password."""
    given = request.query_params.get(SECRET_PARAM) or request.headers.get(SECRET_HEADER)
    if given:
        return given
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, ValueError):  # ValueError: not ASCII (UnicodeDecodeError is one)
        return ""
    return decoded.partition(":")[2]


def client_allowed(request: Request, allow: str) -> bool:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False  # not an IP address (a test transport's name, a unix socket)
    return any(address in network for network in networks(allow))


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator or aggregator whose callbacks a route takes; its settings are
    ``SEVA_<NAME>_SECRET`` and ``SEVA_<NAME>_ALLOW`` (``Settings.<name>_secret``, ``_allow``)."""

    name: str
    signed_by_twilio: bool = False

    @property
    def settings_named(self) -> str:
        return f"SEVA_{self.name.upper()}_SECRET and/or SEVA_{self.name.upper()}_ALLOW"

    def secret(self, settings: Settings) -> SecretStr | None:
        value: SecretStr | None = getattr(settings, f"{self.name}_secret")
        return value

    def allow(self, settings: Settings) -> str:
        value: str = getattr(settings, f"{self.name}_allow")
        return value

    async def refusal(self, request: Request, settings: Settings) -> str | None:
        secret, allow = self.secret(settings), self.allow(settings)
        token = settings.twilio_auth_token.get_secret_value() if self.signed_by_twilio else ""
        if not (secret or allow or token):
            extra = " (or SEVA_TWILIO_AUTH_TOKEN)" if self.signed_by_twilio else ""
            return f"nothing is set to recognise {self.name}: set {self.settings_named}{extra}"
        if allow and not client_allowed(request, allow):
            return f"the address is not in SEVA_{self.name.upper()}_ALLOW"
        if secret and not _same(presented_secret(request), secret.get_secret_value()):
            return f"no or a wrong secret (SEVA_{self.name.upper()}_SECRET)"
        if token and not await _twilio_signed(request, settings, token):
            return "X-Twilio-Signature does not match (SEVA_TWILIO_AUTH_TOKEN)"
        return None


async def _twilio_signed(request: Request, settings: Settings, token: str) -> bool:
    """The URL signed is the public one (``SEVA_BASE_URL``), as the provider called it through
    any proxy."""
    form = await request.form()
    fields = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    url = settings.base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    given = request.headers.get("x-twilio-signature", "")
    return _same(given, twilio_signature(token, url, fields))


def audio_link(secret_key: SecretStr, name: str) -> str:
    """The signature a prompt audio link carries (the provider fetches what Seva named)."""
    digest = hmac.new(
        secret_key.get_secret_value().encode(), b"prompt-audio:" + name.encode(), hashlib.sha256
    )
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


class _SignedAudio:
    async def refusal(self, request: Request, settings: Settings) -> str | None:
        name = str(request.path_params.get("name", ""))
        given = request.query_params.get(AUDIO_SIGNATURE_PARAM, "")
        if given and _same(given, audio_link(settings.secret_key, name)):
            return None
        return "the audio link is not one Seva signed"


KANNEL: Final = Operator("kannel")
AFRICASTALKING: Final = Operator("africastalking")
TWIML: Final = Operator("twiml", signed_by_twilio=True)
EXOTEL: Final = Operator("exotel")
OPERATORS: Final = (KANNEL, AFRICASTALKING, TWIML, EXOTEL)

ROUTES: Final[dict[str, Guard]] = {
    "/channels/sms/kannel": KANNEL,
    "/channels/ussd/africastalking": AFRICASTALKING,
    "/channels/voice/twiml": TWIML,
    "/channels/voice/exotel": EXOTEL,
    "/channels/voice/audio/{name}": _SignedAudio(),
}
"""Each route under ``/channels`` (as its path template) and who may call it."""


async def guard_refusal(path: str, request: Request, settings: Settings) -> str | None:
    """Why ``request`` to the route ``path`` (its path template) is not its operator's, logged
    (the reason goes to the log, never to the caller); None when it is."""
    guard = ROUTES.get(path)
    why = (
        f"{path} has no guard in channels.operators.ROUTES"
        if guard is None
        else await guard.refusal(request, settings)
    )
    if why is not None:
        log.warning(
            "operator.refused",
            path=path,
            client=request.client.host if request.client else None,
            reason=why,
        )
    return why


async def operator_only(request: Request, gateway: GatewayDep) -> None:
    """The dependency of every router under ``/channels``: the request must be its route's
    operator's, or it gets 403."""
    route = request.scope.get("route")
    path = str(getattr(route, "path", request.url.path))
    if await guard_refusal(path, request, gateway.settings) is not None:
        raise ApiError(403, "forbidden", "this route answers its operator only")
