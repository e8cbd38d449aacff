"""Prometheus metrics, served at ``/metrics``: requests and answers by channel and service,
calls, and SMS whose delivery is in doubt."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
SMS_RECEIPT_TIMEOUTS = Counter(
    "seva_sms_receipt_timeouts_total",
    "SMS marked unknown: no delivery receipt within SEVA_SMS_RECEIPT_TIMEOUT_HOURS",
)
SMS_RESENT_AFTER_LEASE = Counter(
    "seva_sms_resent_after_lease_total",
    "SMS put back in the queue when the dispatcher holding them stopped (possible duplicates)",
)
