"""Missed-call services: a citizen rings a number and hangs up (or is turned away busy, so the
call costs nothing), and Seva answers by SMS.

Each number is registered with the SMS a citizen would have sent for the same answer
(``SEVA_MISSED_CALLS="9223166100=STATUS {latest},9223166101=RATION"``): ``{latest}`` is the
caller's most recent application, so a missed call to the first number brings the status of it,
exactly as ``STATUS <ref>`` would; a keyword with a question (``RATION``) starts that service's
SMS conversation, and the citizen carries on by replying. The answer comes from the SMS pull
adapter itself, so it is the same text in the same language the citizen would get by SMS.

A caller's number can be forged (a webhook without the provider's signature, a spoofed
INVITE), and an SMS costs money: answers go only to mobile numbers of the gateway's own
country (no premium or foreign numbers to pump), and one number gets at most one answer per
number dialled every ``COOLDOWN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy.orm import Session

from seva.applications import service as applications
from seva.channels.sms import SmsPull
from seva.citizens import service as citizens
from seva.db.base import utcnow
from seva.flows.store import Dialogue
from seva.i18n import entry
from seva.messaging import service as messaging
from seva.numbers import mobile_msisdns

LATEST = "{latest}"
COOLDOWN = timedelta(minutes=10)
CHANNEL = "missed"

_NONE = entry("missed_none")


def parse_numbers(spec: str) -> dict[str, str]:
    """``number=SMS text`` pairs, comma-separated; numbers compared by their last 10 digits."""
    found: dict[str, str] = {}
    for item in spec.split(","):
        number, sep, text = item.partition("=")
        digits = "".join(c for c in number if c.isdigit())
        if not item.strip():
            continue
        if not sep or len(digits) < 3 or not text.strip():
            raise ValueError(f"SEVA_MISSED_CALLS entries are number=SMS text, not {item!r}")
        found[digits[-10:]] = text.strip()
    return found


@dataclass
class MissedCalls:
    sms: SmsPull
    numbers: dict[str, str]
    shortcode: str

    def registered(self, called: str | None) -> str | None:
        """The SMS text registered for the number dialled, if it is a missed-call number."""
        if not called:
            return None
        digits = "".join(c for c in called if c.isdigit())
        return self.numbers.get(digits[-10:]) if digits else None

    def answer(
        self, session: Session, *, caller: str, called: str, now: datetime | None = None
    ) -> str | None:
        """Queue the SMS answer to ``caller`` (E.164) for a missed call to ``called``; None
        when nothing is sent (not a missed-call number, not a domestic mobile, or answered
        within the cooldown)."""
        text = self.registered(called)
        if text is None:
            return None
        region = self.sms.runtime.settings.default_region
        home = f"+{phonenumbers.country_code_for_region(region)}"
        if not caller.startswith(home) or mobile_msisdns([caller], region) != [caller]:
            return None
        now = now or utcnow()
        store = self.sms.runtime.store
        key = f"{caller}>{''.join(c for c in called if c.isdigit())[-10:]}"
        seen = store.load(session, CHANNEL, key)
        if seen is not None and not seen.expired(now):
            return None
        store.save(
            session,
            Dialogue(channel=CHANNEL, key=key, expires_at=(now + COOLDOWN).isoformat()),
        )
        if LATEST in text:
            citizen = citizens.find(session, caller)
            latest = applications.of_citizen(session, citizen, limit=1) if citizen else []
            if not latest:
                lang = citizen.language if citizen and citizen.language else "en"
                reply = _NONE.get(lang, _NONE["en"]).format(code=self.shortcode)
                messaging.queue_sms(session, to_phone=caller, text=reply, kind="transactional")
                return reply
            text = text.replace(LATEST, latest[0].ref)
        reply = self.sms.handle(session, phone=caller, text=text).text
        messaging.queue_sms(session, to_phone=caller, text=reply, kind="transactional")
        return reply
