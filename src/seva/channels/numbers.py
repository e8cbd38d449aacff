"""Sender numbers as operators and aggregators send them, normalised to E.164."""

from __future__ import annotations

from seva.flows.answers import normalise_phone


def msisdn(raw: str, region: str = "IN") -> str | None:
    """``+919900000001``, ``919900000001``, ``09900000001`` or ``9900000001`` → E.164."""
    text = raw.strip().replace(" ", "").replace("-", "")
    if not text or len(text) > 20:
        return None
    number = normalise_phone(text, region)
    if number is None and text.isascii() and text.isdigit():
        number = normalise_phone("+" + text, region)
    return number
