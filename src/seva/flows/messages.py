"""The gateway's own citizen-facing texts, in every language it ships."""

from __future__ import annotations

from seva.flows.schema import Text
from seva.i18n import entry

TOO_MANY_TRIES: Text = entry("flow_too_many_tries")
TIMED_OUT: Text = entry("flow_timed_out")
CANCELLED: Text = entry("flow_cancelled")
SERVICE_ERROR: Text = entry("flow_service_error")
NOT_FOUND: Text = entry("flow_not_found")
YES: Text = entry("flow_yes")
NO: Text = entry("flow_no")
DONE: Text = entry("flow_done")
VOICE_MESSAGE: Text = entry("flow_voice_message")
CONTACT_PROMPT: Text = entry("form_contact_prompt")


def pick(text: Text, lang: str) -> str:
    """The text in ``lang``, falling back to English."""
    return text.get(lang) or text.get("en") or next(iter(text.values()), "")
