"""The gateway's own citizen-facing texts, in every language it ships."""

from __future__ import annotations

from seva.flows.schema import Text

TOO_MANY_TRIES: Text = {
    "en": "Sorry, that answer could not be accepted after several tries. Please start again.",
    "hi": "क्षमा करें, कई प्रयासों के बाद भी उत्तर स्वीकार नहीं हो सका। कृपया फिर से शुरू करें।",
}
TIMED_OUT: Text = {
    "en": "Your session timed out. Please start again.",
    "hi": "आपका सत्र समाप्त हो गया। कृपया फिर से शुरू करें।",
}
CANCELLED: Text = {
    "en": "Cancelled. Send HELP for the list of services.",
    "hi": "रद्द किया गया। सेवाओं की सूची के लिए HELP भेजें।",
}
SERVICE_ERROR: Text = {
    "en": "Sorry, the service is not available right now. Please try again later.",
    "hi": "क्षमा करें, सेवा अभी उपलब्ध नहीं है। कृपया बाद में प्रयास करें।",
}
NOT_FOUND: Text = {
    "en": "No record was found for that.",
    "hi": "इसके लिए कोई रिकॉर्ड नहीं मिला।",
}
YES: Text = {"en": "Yes", "hi": "हाँ"}
NO: Text = {"en": "No", "hi": "नहीं"}
DONE: Text = {"en": "Thank you.", "hi": "धन्यवाद।"}
VOICE_MESSAGE: Text = {"en": "voice message, {seconds} seconds", "hi": "ध्वनि संदेश, {seconds} सेकंड"}


def pick(text: Text, lang: str) -> str:
    """The text in ``lang``, falling back to English."""
    return text.get(lang) or text.get("en") or next(iter(text.values()), "")
