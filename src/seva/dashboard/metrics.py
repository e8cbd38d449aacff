"""Prometheus metrics, served at ``/metrics``: requests and answers by channel and service,
calls, and SMS whose delivery is in doubt.

The figures say how busy each department and channel is and when Seva is failing, which is
not for everyone to read, so ``/metrics`` is served only to the networks in
``SEVA_METRICS_NETWORKS`` (loopback by default) or to a request with the bearer token in
``SEVA_METRICS_TOKEN`` (``ScrapeGuard``).
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter, Gauge, Histogram

from seva.errors import error_body
from seva.settings import Settings, networks

REQUESTS = Counter("seva_channel_requests_total", "Inbound requests by channel", ["channel"])
STARTED = Counter(
    "seva_services_started_total",
    "Services started by channel, department and service",
    ["channel", "department", "service"],
)
FINISHED = Counter(
    "seva_answers_total",
    "Finished conversations by channel, department, service and outcome",
    ["channel", "department", "service", "outcome"],
)
LATENCY = Histogram(
    "seva_channel_latency_seconds",
    "Time to answer one inbound request, by channel",
    ["channel"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
VOICE_CALLS = Gauge("seva_voice_calls", "Phone calls in progress on this node's SIP endpoint")
RTP_SENT = Counter("seva_rtp_packets_sent_total", "RTP packets of prompts sent to callers")
RTP_LATENESS = Histogram(
    "seva_rtp_send_lateness_seconds",
    "How late each prompt packet left after its 20 ms slot (our side of the caller's jitter)",
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1),
)


class ScrapeGuard:
    """Whether a request may read ``/metrics``: from an allowed network, or with the token."""

    def __init__(self, settings: Settings) -> None:
        self._networks = networks(settings.metrics_networks)
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
        self._token = token.encode() if token else None

    def refusal(self, client: str | None, authorization: str | None) -> Response | None:
        """None when the request may read the metrics, else the answer that refuses it:
        401 asking for the token when one is set, 403 when only networks are allowed."""
        if self._token is not None and authorization:
            scheme, _, given = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), self._token
            ):
                return None
        if self._from_allowed_network(client):
            return None
        if self._token is not None:
            return JSONResponse(
                error_body("unauthorized", "give the metrics token as a Bearer token"),
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return JSONResponse(
            error_body("forbidden", "metrics are served only to the configured networks"),
            status_code=403,
        )

    def _from_allowed_network(self, client: str | None) -> bool:
        try:
            address = ipaddress.ip_address(client or "")
        except ValueError:  # no client, or a name (a test client, a Unix socket)
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
        return any(address in network for network in self._networks)


SMS_RECEIPT_TIMEOUTS = Counter(
    "seva_sms_receipt_timeouts_total",
    "SMS marked unknown: no delivery receipt within SEVA_SMS_RECEIPT_TIMEOUT_HOURS",
)
SMS_RESENT_AFTER_LEASE = Counter(
    "seva_sms_resent_after_lease_total",
    "SMS put back in the queue when the dispatcher holding them stopped (possible duplicates)",
)
