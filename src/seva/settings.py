"""Runtime configuration, read from ``SEVA_*`` environment variables.

The embedded defaults (SQLite under ``SEVA_DATA_DIR``, in-process state) run the demo and the
tests on a bare machine; ``SEVA_DATABASE_URL`` and ``SEVA_REDIS_URL`` switch to the scale-out
engines.

What only the demo may do is decided here, by ``SEVA_ENV=demo`` (which ``seva demo`` sets):
use the built-in secret key (anyone who reads this file could sign an official's session or a
citizen's token with it), serve the demo-only routes (the phone simulator shows any number's
login codes), and start an SMSC simulator when no SMSC is configured (messages would be marked
delivered and never leave). Every other environment refuses the first and the third and keeps
the routes off; tests may turn the routes on with ``demo_routes``.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_LENGTH = 16
"""``secrets.token_urlsafe(32)`` gives 43; an empty or short key would let anyone sign."""
DEFAULT_SECRET = "seva-demo-secret-change-me"  # noqa: S105 - refused outside the demo below
NEW_KEY_COMMAND = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEVA_", extra="ignore")

    env: Literal["demo", "development", "test", "production"] = "development"
    """``demo`` is for ``seva demo`` alone; ``production`` logs JSON lines."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """``debug`` adds a line per SMPP submit to the exchanges logged (``logs.exchanges``)."""
    demo_routes: bool = False
    """Serve the demo-only routes (``/sim``, ``/demo/backend``) outside the demo: for tests
    (``SEVA_ENV=test``) that exercise them, refused anywhere else."""
    data_dir: Path = Path("./var")
    files_url: SecretStr = SecretStr("")
    """Where locker files live. Empty: files under ``SEVA_DATA_DIR/files``; ``file:///path``:
    elsewhere on this machine; ``s3://KEY:SECRET@host:port/bucket/prefix?region=…&tls=0``:
    an S3-compatible store that several nodes share (see ``locker.storage``)."""
    database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)

    base_url: str = "http://127.0.0.1:8000"
    """Where this gateway is reached; service definitions may call ``{seva.base_url}/…``."""
    shortcode: str = "166"
    longcode: str = "9223166166"
    ussd_code: str = "*166#"
    ussd_screen_gsm: int = Field(default=182, ge=40, le=1000)
    """Characters one USSD screen shows in the GSM alphabet (English, digits)."""
    ussd_screen_ucs2: int = Field(default=80, ge=20, le=1000)
    """Characters one USSD screen shows in UCS-2 (any Indian script): handsets and networks
    cut such screens far shorter than the 182 GSM characters; about 80 is what reaches a
    basic phone intact."""
    ussd_screens: dict[str, tuple[int, int]] = Field(default_factory=dict)
    """Per aggregator (the route's name, ``africastalking``) its own limits where they differ,
    as GSM and UCS-2 characters: ``SEVA_USSD_SCREENS='{"africastalking": [182, 120]}'``."""
    default_region: str = "IN"

    session_ttl_seconds: int = Field(default=300, ge=10)
    """How long an unanswered SMS/USSD/web conversation is kept before it times out."""
    max_retries: int = Field(default=3, ge=1, le=10)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_retries: int = Field(default=2, ge=0, le=5)
    otp_ttl_seconds: int = Field(default=300, ge=30)

    outbound_allow: str = ""
    """Networks (addresses or CIDR, comma-separated) that department backends and status
    callbacks may reach although they are not public (loopback, private, link-local…);
    everything else non-public is refused (``seva.outbound``). ``seva demo`` allows its own
    stand-in backend's address."""
    outbound_per_department: int = Field(default=8, ge=1, le=1000)
    """Calls to one department's backend waiting at once in one process; more are refused at
    once, so a hanging backend holds at most this many workers."""
    outbound_breaker_failures: int = Field(default=5, ge=1, le=1000)
    """Failures in a row (no answer, 5xx) after which a department's backend is not called
    for ``SEVA_OUTBOUND_BREAKER_SECONDS``."""
    outbound_breaker_seconds: float = Field(default=30.0, gt=0, le=3600)
    workers: int = Field(default=1, ge=1)
    """Worker processes sharing this gateway's database on this machine (``seva serve
    --workers`` sets it for its workers). With one, on the embedded SQLite, USSD sessions
    live in the process's memory rather than in the database."""
    hops_at_once: int = Field(default=0, ge=0, le=1000)
    """Citizens' hops (USSD, SMS pull) this process runs at once, the rest waiting their turn
    (``seva.flows.gate``); 0 chooses: 2 on the embedded SQLite, whose writes go one at a time
    anyway, 4 on PostgreSQL, where a hop also waits on the database's answers."""
    catalog_seconds: float = Field(default=2.0, ge=0, le=3600)
    """How stale the per-process memo of departments, services and keywords may grow when
    another process changed them and no Redis told this one (``seva.db.catalog``); a change
    made in this process, or published through Redis, is seen at once. 0 turns the memo off."""
    worker_threads: int = Field(default=100, ge=8, le=2000)
    """Threads for request handlers and blocking work in the web process (anyio's and
    asyncio's pools); the per-department cap keeps any one department to a few of them."""
    login_account_failures: int = Field(default=5, ge=1)
    """Wrong passwords for one account (officials, CSC operators, MSDG accounts) within
    ``SEVA_LOGIN_WINDOW_SECONDS`` before its logins are refused for a while."""
    login_client_failures: int = Field(default=30, ge=1)
    """Wrong passwords from one client address, whatever the account, within the window."""
    login_window_seconds: int = Field(default=900, ge=10)
    otp_client_limit: int = Field(default=10, ge=1)
    """One-time codes one client address may ask for in 15 minutes (to any numbers)."""
    otp_prefix_limit: int = Field(default=100, ge=1)
    """Codes an hour to numbers sharing their first ``SEVA_OTP_PREFIX_DIGITS`` digits (E.164
    without the +): SMS-pumping fraud sends codes across one premium number range."""
    otp_prefix_digits: int = Field(default=7, ge=3, le=15)
    otp_daily_limit: int = Field(default=100_000, ge=1)
    """Codes the whole gateway sends in 24 hours: the ceiling on what an abuse can cost."""
    otp_verify_phone_failures: int = Field(default=10, ge=1)
    """Wrong one-time codes for one phone (app, portal and kiosk together) within
    ``SEVA_LOGIN_WINDOW_SECONDS`` before checks for it are refused for a while; each code
    is also burned after five wrong tries."""
    otp_verify_client_failures: int = Field(default=30, ge=1)
    """Wrong one-time codes from one client address, whatever the phone, within the window."""
    lookup_client_limit: int = Field(default=60, ge=1)
    """Anonymous application look-ups by reference (``GET /api/v1/applications/{ref}``
    without a token) one client address may make a minute."""

    smsc: SecretStr = SecretStr("")
    """Operator SMSC binds, one ``smpp://system_id:password@host:port?…`` URL per route
    (space- or comma-separated); see ``RouteConfig.from_url`` for the options."""
    sms_dispatch: bool = False
    """Run the SMS dispatcher (SMPP binds, queue draining) inside this process. ``seva demo``
    turns it on; a scaled-out install runs ``seva dispatch`` processes instead."""
    sms_lease_seconds: float = Field(default=60.0, gt=0)
    """How long a dispatcher holds claimed messages; a dispatcher that dies (``kill -9``)
    leaves them to be claimed again after this long."""
    sms_max_unrecorded: int = Field(default=5000, ge=1)
    """At most this many messages are out with the SMSC before their outcome is committed:
    the most a crashed dispatcher can send twice."""
    sms_receipt_timeout_hours: float = Field(default=48.0, gt=0, le=24 * 30)
    """A submitted message with no delivery receipt this long is marked ``unknown`` (and its
    sender told): set it to the longest validity period of your operators' SMSCs."""
    smsc_sim_port: int = Field(default=2775, ge=0, le=65535)
    """Where ``seva demo`` starts its SMSC simulator when no SMSC is configured (0 = any)."""

    stun_urls: str = ""
    """STUN servers for browsers' ICE (space- or comma-separated ``stun:`` URLs). Empty on
    the demo: both browsers are on this machine and meet over loopback."""
    turn_urls: str = ""
    """TURN servers (``turn:``/``turns:`` URLs) for citizens behind NATs that block direct
    media; used only with ``SEVA_TURN_SECRET`` (coturn's ``static-auth-secret``)."""
    turn_secret: SecretStr | None = None
    turn_ttl_seconds: int = Field(default=3600, ge=60, le=86400)

    sip: bool = False
    """Run the SIP endpoint (``channels.voice.asyncio.endpoint``) in this process, as ``seva
    demo`` does."""
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(default=5060, ge=0, le=65535)
    sip_trunks: str = "127.0.0.1"
    """Addresses (IPs or CIDR networks, comma-separated) whose calls are taken; the caller's
    number is read from their signalling. Anyone else gets 403."""
    sip_rtp_ports: str = "31000-31999"
    """UDP ports for call audio, two calls never sharing one."""
    sip_max_calls: int = Field(default=200, ge=1, le=10000)
    sip_ring_seconds: float = Field(default=0.0, ge=0, le=30)
    """How long an incoming call rings before Seva answers (0: at once)."""
    sip_trunk: str = ""
    """``IP:port`` of the trunk that carries calls Seva places (voice notifications); empty:
    no outbound calls. Its address is also where their responses must come from."""
    sip_dial_concurrency: int = Field(default=20, ge=1, le=1000)
    """Voice notification calls ringing or talking at once."""
    voice_cache_mb: int = Field(default=512, ge=1)
    """Disk for synthesised prompts (``SEVA_DATA_DIR/voice-cache``); the least recently used
    go past it."""
    twilio_auth_token: SecretStr = SecretStr("")
    """With it set, a TwiML webhook request must carry a valid ``X-Twilio-Signature`` (HMAC-SHA1
    of ``SEVA_BASE_URL`` + path and the sorted form fields with this token); others get 403."""

    # Who may call the operator routes (see ``channels.operators``): per operator a shared
    # secret the requests carry and/or the addresses they come from. Every one set must be met;
    # with neither set (nor the Twilio token, for TwiML) the route refuses everyone.
    kannel_secret: SecretStr | None = None
    kannel_allow: str = ""
    """IPs and CIDR networks, comma- or space-separated, e.g. ``10.20.0.5, 10.20.1.0/24``."""
    africastalking_secret: SecretStr | None = None
    africastalking_allow: str = ""
    twiml_secret: SecretStr | None = None
    twiml_allow: str = ""
    exotel_secret: SecretStr | None = None
    exotel_allow: str = ""
    missed_calls: str = ""
    """Missed-call numbers and the SMS each answers with, ``number=SMS text`` comma-separated
    (``9223166100=STATUS {latest}``: the caller's latest application); see
    ``channels.voice.missed``."""

    janus_admin_url: str = ""
    """Janus's admin API (``http://host:7088/admin``), reachable by Seva only. With it and
    ``SEVA_JANUS_WS_URL`` set, officials' meetings go through the Janus SFU (up to
    ``SEVA_JANUS_MEETING_LIMIT`` people); without them, browser to browser for up to 4."""
    janus_ws_url: str = ""
    """Janus's WebSocket API as browsers reach it (``wss://janus.example.gov.in/``)."""
    janus_admin_secret: SecretStr | None = None
    """Janus's ``admin_secret``; also its VideoRoom ``admin_key`` unless that is set apart."""
    janus_admin_key: SecretStr | None = None
    janus_meeting_limit: int = Field(default=30, ge=2, le=200)

    metrics_token: SecretStr | None = None
    """Bearer token that opens ``/metrics`` from anywhere (Prometheus's ``authorization``
    in its scrape config)."""
    metrics_networks: str = "127.0.0.1/32,::1/128"
    """Client networks (CIDR, comma-separated) served ``/metrics`` without the token; empty:
    the token only. Behind a proxy, the client is what uvicorn's ``--forwarded-allow-ips``
    lets X-Forwarded-For say."""

    def absolute_url(self, path: str) -> str:
        """``path`` on this gateway as a full URL for links Seva hands out (pages, JSON, SMS).

        Always from ``SEVA_BASE_URL``, never from the request: its Host header is whatever
        the client wrote, and a link built from a forged one sends the citizen elsewhere.
        """
        return self.base_url.rstrip("/") + path

    @property
    def janus_configured(self) -> bool:
        return bool(self.janus_admin_url and self.janus_ws_url and self.janus_admin_secret)

    @field_validator(
        "kannel_allow",
        "africastalking_allow",
        "twiml_allow",
        "exotel_allow",
        "metrics_networks",
        "outbound_allow",
    )
    @classmethod
    def _addresses(cls, value: str) -> str:
        networks(value)  # a clear error at start-up, not a refusal at the first request
        return value

    @property
    def serves_demo_routes(self) -> bool:
        return self.env == "demo" or self.demo_routes

    @model_validator(mode="after")
    def _only_the_demo_runs_on_demo_settings(self) -> Settings:
        if self.env == "demo":
            return self
        if self.secret_key.get_secret_value() == DEFAULT_SECRET:
            raise ValueError(
                "SEVA_SECRET_KEY is not set, and the built-in key is for `seva demo` only "
                "(anyone could sign sessions and tokens with it). Make one with "
                f"{NEW_KEY_COMMAND} and set SEVA_SECRET_KEY to it on every node"
            )
        if len(self.secret_key.get_secret_value().strip()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"SEVA_SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters: it signs "
                f"sessions and tokens, so a short one can be guessed. Make one with "
                f"{NEW_KEY_COMMAND}"
            )
        if self.demo_routes and self.env != "test":
            raise ValueError("SEVA_DEMO_ROUTES is for tests (SEVA_ENV=test) only")
        if self.sms_dispatch and not self.smsc:
            raise ValueError(
                "SEVA_SMS_DISPATCH=1 needs SEVA_SMSC (smpp://system_id:password@host:port); "
                "only `seva demo` starts an SMSC simulator in its place, whose messages never "
                "leave this machine"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'seva.db').resolve()}"


@lru_cache(maxsize=64)
def networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The IP networks of an allow-list setting (``10.20.0.5, 10.20.1.0/24, ::1``)."""
    found = []
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or CIDR network (as in 10.20.0.5 or 10.20.1.0/24)"
            ) from None
    return tuple(found)


def revealed(secret: SecretStr | None) -> str:
    """The value of an optional secret setting, ``""`` when it is not set."""
    return secret.get_secret_value() if secret is not None else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
