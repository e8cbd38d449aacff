"""The officials' console for SMS: a department's outbound messages, where each one's delivery
stands, and the department's TRAI DLT registrations.

A message moves queued → sending → submitted → delivered / failed as the dispatcher submits it
(SMPP v3.4 §4.4.1 submit_sm) and delivery receipts arrive (SMPP v3.4 Appendix B receipts in
deliver_sm); these pages read the same rows, so a receipt shows on the next page load. DLT
registrations follow TRAI TCCCPR 2018 as amended in 2025 (the rules live in
``messaging.dlt``).

Scope is the applications console's: officers and department admins see their own
department only, and another department's message answers 404 exactly like a missing one;
gateway admins see every department, Seva's own messages (OTPs, SMS replies) included, and
may narrow to one. Only department admins (and gateway admins) change DLT registrations;
officers read them. Every change writes an audit record in the same transaction.

OTP texts are shown with their digits masked: reading the console must never be enough to
log in as the citizen a code was sent to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from seva.applications.pages import not_found
from seva.channels.numbers import msisdn
from seva.clock import ist_text
from seva.dashboard.service import ist_day
from seva.deps import GatewayDep, SessionDep
from seva.messaging import dlt
from seva.messaging import service as messaging
from seva.messaging.models import STATES, DltTemplate
from seva.messaging.service import MessageFilter, MessageView, SendRefused
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department, Official, Role
from seva.web.auth import require_official
from seva.web.i18n import register, ui
from seva.web.templating import check_csrf, page_lang, pop_flash, render

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 25
PREVIEW = 60
MAX_NAME = 200
MAX_BODY = 2000
"""A bound on the form field, well above the longest text Seva sends (``MAX_TEXT``, 1,600)."""
CATEGORIES = (
    dlt.Category.GOVERNMENT.value,
    dlt.Category.TRANSACTIONAL.value,
    dlt.Category.SERVICE_IMPLICIT.value,
    dlt.Category.PROMOTIONAL.value,
)
"""What a new registration may choose, the usual one for a department first. TCCCPR 2025
retired "service explicit", so it is shown on old rows but not offered."""

ConsoleOfficial = Annotated[
    Official, Depends(require_official(Role.OFFICER, Role.DEPARTMENT_ADMIN))
]
DltAdmin = Annotated[Official, Depends(require_official(Role.DEPARTMENT_ADMIN))]

register(
    {
        "sms_title": {"en": "SMS", "hi": "SMS"},
        "sms_counts": {"en": "Messages by status", "hi": "स्थिति के अनुसार संदेश"},
        "sms_today": {"en": "Today (IST)", "hi": "आज (IST)"},
        "sms_overall": {"en": "All time", "hi": "अब तक"},
        "sms_total": {"en": "Total", "hi": "कुल"},
        "sms_status": {"en": "Status", "hi": "स्थिति"},
        "sms_any_status": {"en": "Any status", "hi": "कोई भी स्थिति"},
        "sms_status_queued": {"en": "Queued", "hi": "कतार में"},
        "sms_status_sending": {"en": "Sending", "hi": "भेजा जा रहा है"},
        "sms_status_submitted": {"en": "Submitted", "hi": "ऑपरेटर को सौंपा गया"},
        "sms_status_delivered": {"en": "Delivered", "hi": "पहुँच गया"},
        "sms_status_failed": {"en": "Failed", "hi": "विफल"},
        "sms_status_unknown": {"en": "No receipt", "hi": "रसीद नहीं आई"},
        "sms_kind_otp": {"en": "OTP", "hi": "OTP"},
        "sms_kind_reply": {"en": "Reply", "hi": "जवाब"},
        "sms_kind_transactional": {"en": "Transactional", "hi": "लेन-देन संबंधी"},
        "sms_kind_bulk": {"en": "Bulk", "hi": "थोक"},
        "sms_phone": {"en": "Phone number", "hi": "फ़ोन नंबर"},
        "sms_batch": {"en": "Batch", "hi": "बैच"},
        "sms_filter": {"en": "Show", "hi": "दिखाएँ"},
        "sms_clear": {"en": "Clear", "hi": "हटाएँ"},
        "sms_department": {"en": "Department", "hi": "विभाग"},
        "sms_all_departments": {"en": "All departments", "hi": "सभी विभाग"},
        "sms_system": {"en": "Seva", "hi": "सेवा"},
        "sms_time": {"en": "Time", "hi": "समय"},
        "sms_to": {"en": "To", "hi": "प्राप्तकर्ता"},
        "sms_sender": {"en": "Sender", "hi": "प्रेषक"},
        "sms_kind": {"en": "Kind", "hi": "प्रकार"},
        "sms_text": {"en": "Text", "hi": "पाठ"},
        "sms_parts": {"en": "Parts", "hi": "भाग"},
        "sms_error": {"en": "Error", "hi": "त्रुटि"},
        "sms_none": {"en": "No messages match.", "hi": "कोई संदेश मेल नहीं खाता।"},
        "sms_showing": {
            "en": "Showing {first}–{last} of {total}",
            "hi": "{total} में से {first}–{last} दिखाए जा रहे हैं",
        },
        "sms_previous": {"en": "Previous page", "hi": "पिछला पृष्ठ"},
        "sms_next": {"en": "Next page", "hi": "अगला पृष्ठ"},
        "sms_bad_phone": {
            "en": "Enter a mobile number, for example 9900000001 or +919900000001.",
            "hi": "मोबाइल नंबर दर्ज करें, जैसे 9900000001 या +919900000001।",
        },
        "sms_bad_batch": {
            "en": "A batch number is digits only.",
            "hi": "बैच संख्या में केवल अंक होते हैं।",
        },
        "sms_back": {"en": "All messages", "hi": "सभी संदेश"},
        "sms_message": {"en": "Message", "hi": "संदेश"},
        "sms_template": {"en": "DLT template ID", "hi": "DLT टेम्पलेट आईडी"},
        "sms_attempts": {"en": "Attempts", "hi": "प्रयास"},
        "sms_resent": {
            "en": "Sent again after a dispatcher stopped (may have arrived twice)",
            "hi": "डिस्पैचर रुकने के बाद फिर भेजा गया (दो बार पहुँचा हो सकता है)",
        },
        "sms_accepted": {"en": "Accepted", "hi": "स्वीकार किया गया"},
        "sms_submitted_at": {"en": "Submitted to the operator", "hi": "ऑपरेटर को सौंपा गया"},
        "sms_done_at": {"en": "Delivered or failed", "hi": "पहुँचा या विफल हुआ"},
        "sms_client_ref": {"en": "Department's reference", "hi": "विभाग का संदर्भ"},
        "sms_source": {"en": "Sent through", "hi": "किसके माध्यम से भेजा गया"},
        "sms_batch_counts": {"en": "Batch {id}", "hi": "बैच {id}"},
        "sms_batch_total": {
            "en": "{total} recipients in this batch.",
            "hi": "इस बैच में {total} प्राप्तकर्ता।",
        },
        "sms_batch_list": {"en": "List this batch's messages", "hi": "इस बैच के संदेश देखें"},
        "sms_receipts": {"en": "Parts and delivery receipts", "hi": "भाग और डिलीवरी रसीदें"},
        "sms_part": {"en": "Part", "hi": "भाग"},
        "sms_route": {"en": "Route", "hi": "मार्ग"},
        "sms_smsc_id": {"en": "Operator's message ID", "hi": "ऑपरेटर की संदेश आईडी"},
        "sms_receipt": {"en": "Receipt", "hi": "रसीद"},
        "sms_no_receipt": {"en": "none yet", "hi": "अभी नहीं"},
        "sms_not_submitted": {
            "en": "Not submitted to an operator yet.",
            "hi": "अभी ऑपरेटर को नहीं सौंपा गया।",
        },
        "sms_otp_masked": {
            "en": "OTP digits are hidden.",
            "hi": "OTP के अंक छिपाए गए हैं।",
        },
        "sms_not_found": {
            "en": "There is no message with this number in your department.",
            "hi": "आपके विभाग में इस संख्या का कोई संदेश नहीं है।",
        },
        "dlt_title": {"en": "DLT registrations", "hi": "DLT पंजीकरण"},
        "dlt_intro": {
            "en": "Operators deliver a department's SMS only when its entity, the header "
            "(sender ID) and the exact content template are registered on DLT. Register "
            "them here as they are on the DLT portal; Seva then refuses a message no "
            "template matches, with the reason, instead of letting an operator drop it.",
            "hi": "ऑपरेटर किसी विभाग के SMS तभी पहुँचाते हैं जब उसकी इकाई, हेडर (प्रेषक "
            "आईडी) और सटीक सामग्री टेम्पलेट DLT पर पंजीकृत हों। इन्हें यहाँ वैसे ही दर्ज "
            "करें जैसे DLT पोर्टल पर हैं; तब सेवा किसी टेम्पलेट से मेल न खाने वाले संदेश "
            "को कारण बताकर लौटा देती है, ऑपरेटर उसे चुपचाप नहीं गिराता।",
        },
        "dlt_choose": {
            "en": "Choose a department.",
            "hi": "विभाग चुनें।",
        },
        "dlt_read_only": {
            "en": "Only the department's admin can change these registrations.",
            "hi": "इन पंजीकरणों को केवल विभाग का प्रशासक बदल सकता है।",
        },
        "dlt_no_headers": {
            "en": "No DLT header is registered: this department's SMS go out from the "
            "gateway's sender SEVA, and operators will refuse them until its headers and "
            "templates are registered on DLT and here.",
            "hi": "कोई DLT हेडर पंजीकृत नहीं है: इस विभाग के SMS गेटवे के प्रेषक SEVA से जाते "
            "हैं, और जब तक इसके हेडर और टेम्पलेट DLT पर और यहाँ पंजीकृत नहीं होते, ऑपरेटर "
            "इन्हें अस्वीकार करेंगे।",
        },
        "dlt_entity": {"en": "Entity ID", "hi": "इकाई आईडी"},
        "dlt_entity_label": {
            "en": "DLT principal entity ID (19 digits)",
            "hi": "DLT प्रधान इकाई आईडी (19 अंक)",
        },
        "dlt_not_set": {"en": "not set", "hi": "दर्ज नहीं"},
        "dlt_save_entity": {"en": "Save entity ID", "hi": "इकाई आईडी सहेजें"},
        "dlt_entity_saved": {"en": "Entity ID saved.", "hi": "इकाई आईडी सहेजी गई।"},
        "dlt_quota": {
            "en": "Daily limit: {quota} messages; {used} sent today (UTC day).",
            "hi": "दैनिक सीमा: {quota} संदेश; आज (UTC दिन) {used} भेजे गए।",
        },
        "dlt_headers": {"en": "Headers (sender IDs)", "hi": "हेडर (प्रेषक आईडी)"},
        "dlt_header": {"en": "Header", "hi": "हेडर"},
        "dlt_category": {"en": "Category", "hi": "श्रेणी"},
        "dlt_shown_as": {"en": "Citizens see", "hi": "नागरिक देखते हैं"},
        "dlt_registered": {"en": "Registered", "hi": "पंजीकृत"},
        "dlt_header_label": {
            "en": "Header (6 letters; 6 digits for promotional)",
            "hi": "हेडर (6 अक्षर; प्रचारात्मक के लिए 6 अंक)",
        },
        "dlt_add_header": {"en": "Register header", "hi": "हेडर पंजीकृत करें"},
        "dlt_header_saved": {"en": "Header registered:", "hi": "हेडर पंजीकृत हुआ:"},
        "dlt_templates": {"en": "Content templates", "hi": "सामग्री टेम्पलेट"},
        "dlt_template_id": {"en": "Template ID", "hi": "टेम्पलेट आईडी"},
        "dlt_template_id_label": {
            "en": "DLT template ID (digits, usually 19)",
            "hi": "DLT टेम्पलेट आईडी (अंक, आमतौर पर 19)",
        },
        "dlt_name": {"en": "Name (for your reference)", "hi": "नाम (आपकी पहचान के लिए)"},
        "dlt_body": {"en": "Template text", "hi": "टेम्पलेट का पाठ"},
        "dlt_body_hint": {
            "en": "Exactly as registered on DLT, with {#var#} where the text varies.",
            "hi": "ठीक वैसा ही जैसा DLT पर पंजीकृत है, जहाँ पाठ बदलता है वहाँ {#var#} के साथ।",
        },
        "dlt_variables": {"en": "Variables", "hi": "चर"},
        "dlt_no_variables": {"en": "none: the text is fixed", "hi": "कोई नहीं: पाठ स्थिर है"},
        "dlt_up_to": {"en": "up to {n} characters", "hi": "अधिकतम {n} अक्षर"},
        "dlt_example": {"en": "A text that matches", "hi": "मेल खाने वाला एक पाठ"},
        "dlt_inactive": {"en": "inactive", "hi": "निष्क्रिय"},
        "dlt_add_template": {"en": "Register template", "hi": "टेम्पलेट पंजीकृत करें"},
        "dlt_template_saved": {"en": "Template registered:", "hi": "टेम्पलेट पंजीकृत हुआ:"},
        "dlt_header_first": {
            "en": "Register a header before its templates.",
            "hi": "टेम्पलेट से पहले उसका हेडर पंजीकृत करें।",
        },
        "dlt_none": {"en": "None yet.", "hi": "अभी कोई नहीं।"},
        "dlt_cat_promotional": {"en": "Promotional", "hi": "प्रचारात्मक"},
        "dlt_cat_transactional": {"en": "Transactional", "hi": "लेन-देन संबंधी"},
        "dlt_cat_service_implicit": {"en": "Service (implicit)", "hi": "सेवा (निहित)"},
        "dlt_cat_service_explicit": {
            "en": "Service (explicit, retired)",
            "hi": "सेवा (स्पष्ट, समाप्त)",
        },
        "dlt_cat_government": {"en": "Government", "hi": "सरकारी"},
        "dlt_err_entity": {
            "en": "A DLT entity ID is 19 digits.",
            "hi": "DLT इकाई आईडी 19 अंकों की होती है; '{value}' ऐसी नहीं है।",
        },
        "dlt_err_category": {
            "en": "Choose one of the categories listed.",
            "hi": "सूची में से श्रेणी चुनें।",
        },
        "dlt_err_promo_alpha": {
            "en": "A promotional header is 6 digits.",
            "hi": "हेडर '{value}' अक्षरों का है, पर प्रचारात्मक टेम्पलेट 6 अंकों वाले हेडर से "
            "भेजे जाते हैं; अक्षरों वाले हेडर लेन-देन, सेवा और सरकारी टेम्पलेट के लिए हैं।",
        },
        "dlt_err_promo_digits": {
            "en": "A promotional header is 6 digits.",
            "hi": "प्रचारात्मक हेडर 6 अंकों का होता है; '{value}' ऐसा नहीं है।",
        },
        "dlt_err_alpha_numeric": {
            "en": "A non-promotional header is 6 letters.",
            "hi": "हेडर '{value}' अंकों का है, जो DLT में प्रचारात्मक टेम्पलेट के लिए "
            "आरक्षित है; {category} टेम्पलेट के लिए 6 अक्षरों का हेडर चाहिए।",
        },
        "dlt_err_alpha_letters": {
            "en": "A non-promotional header is 6 letters.",
            "hi": "{category} हेडर 6 अक्षरों (A-Z) का होता है; '{value}' ऐसा नहीं है।",
        },
        "dlt_err_template_id": {
            "en": "A DLT template ID is a number of up to 30 digits.",
            "hi": "DLT टेम्पलेट आईडी अधिकतम 30 अंकों की संख्या होती है (आमतौर पर 19); '{value}' ऐसी नहीं है।",
        },
        "dlt_err_body": {
            "en": "DLT would not accept this template.",
            "hi": "DLT यह टेम्पलेट स्वीकार नहीं करेगा:",
        },
        "dlt_err_body_empty": {
            "en": "Enter the template text.",
            "hi": "टेम्पलेट का पाठ दर्ज करें।",
        },
        "dlt_err_body_long": {
            "en": "The template text may be at most 2000 characters.",
            "hi": "टेम्पलेट का पाठ अधिकतम 2000 अक्षरों का हो सकता है।",
        },
        "dlt_err_name_long": {
            "en": "The name may be at most 200 characters.",
            "hi": "नाम अधिकतम 200 अक्षरों का हो सकता है।",
        },
        "dlt_err_header_taken": {
            "en": "That header belongs to another department.",
            "hi": "हेडर '{value}' किसी दूसरे विभाग का है।",
        },
        "dlt_err_template_taken": {
            "en": "That template belongs to another department.",
            "hi": "टेम्पलेट {value} किसी दूसरे विभाग का है।",
        },
        "dlt_err_header_unknown": {
            "en": "Register the header before its templates.",
            "hi": "पहले हेडर '{value}' पंजीकृत करें, फिर उसके टेम्पलेट।",
        },
    }
)


# -- shared -------------------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9०-९]")


def shown_text(view: MessageView) -> str:
    """The text as the console may show it: an OTP's digits masked."""
    return _DIGITS.sub("•", view.text) if view.kind == "otp" else view.text


def preview(text: str) -> str:
    return text if len(text) <= PREVIEW else text[:PREVIEW] + "…"


def _page_number(raw: str) -> int:
    try:
        return max(1, min(int(raw), 100_000))
    except ValueError:
        return 1


def _message_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _scope(official: Official) -> MessageFilter:
    if official.role is Role.GATEWAY_ADMIN:
        return MessageFilter(every_department=True)
    return MessageFilter(department_id=official.department_id)


def _department_codes(departments: list[Department]) -> dict[int, str]:
    return {d.id: d.code for d in departments}


# -- messages -----------------------------------------------------------------------------------


@router.get("/console/sms")
def sms_list(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    official: ConsoleOfficial,
    status: str = "",
    phone: str = "",
    batch: str = "",
    page: str = "1",
    dept: str = "",
) -> Response:
    lang = page_lang(request)
    status = status if status in STATES else ""
    departments = tenancy.all_departments(session)
    scope = _scope(official)
    chosen: Department | None = None
    if official.role is Role.GATEWAY_ADMIN and dept:
        chosen = next((d for d in departments if d.code == dept.strip().upper()), None)
        if chosen is not None:
            scope = MessageFilter(department_id=chosen.id)

    problems: list[str] = []
    phone_text = phone.strip()[:32]
    number = ""
    if phone_text:
        number = msisdn(phone_text, gateway.settings.default_region) or ""
        if not number:
            problems.append(ui("sms_bad_phone", lang))
    batch_text = batch.strip()[:20]
    batch_id: int | None = None
    if batch_text:
        batch_id = _message_id(batch_text)
        if batch_id is None:
            problems.append(ui("sms_bad_batch", lang))

    counted = messaging.console_status_counts(session, scope, since=ist_day().start)
    today, overall = counted.today, counted.overall
    which = replace(scope, status=status, phone=number, batch_id=batch_id)
    if problems:
        total = 0
    elif not number and batch_id is None:
        # The counts just read already hold this total: no second scan of a large department.
        total = overall.get(status, 0) if status else sum(overall.values())
    else:
        total = messaging.console_count(session, which)
    pages = max(1, -(-total // PAGE_SIZE))
    current = min(_page_number(page), pages)
    rows = (
        []
        if problems or not total
        else messaging.console_messages(
            session, which, limit=PAGE_SIZE, offset=(current - 1) * PAGE_SIZE
        )
    )
    filters = {
        "status": status,
        "phone": number or phone_text,
        "batch": batch_text,
        "dept": chosen.code if chosen else "",
    }

    def page_url(target: int) -> str:
        params = {k: v for k, v in filters.items() if v}
        params["page"] = str(target)
        return "/console/sms?" + urlencode(params)

    own = tenancy.department_by_id(session, official.department_id)
    return render(
        request,
        "console_sms.html",
        {
            "rows": rows,
            "texts": {m.id: preview(shown_text(m)) for m in rows},
            "states": STATES,
            "today": today,
            "overall": overall,
            "own_department": own if official.role is not Role.GATEWAY_ADMIN else chosen,
            "all_departments": departments if official.role is Role.GATEWAY_ADMIN else [],
            "codes": _department_codes(departments),
            "show_department": official.role is Role.GATEWAY_ADMIN and chosen is None,
            "filters": filters,
            "problems": problems,
            "total": total,
            "page": current,
            "pages": pages,
            "first": (current - 1) * PAGE_SIZE + 1 if rows else 0,
            "last": (current - 1) * PAGE_SIZE + len(rows),
            "previous_url": page_url(current - 1) if current > 1 else None,
            "next_url": page_url(current + 1) if current < pages else None,
            "when": ist_text,
            "flash": pop_flash(request),
        },
    )


# -- DLT registrations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """A refused DLT form: which section shows it, and the reason in the page's language."""

    section: str
    message: str


@dataclass(frozen=True, slots=True)
class TemplateRow:
    """A registered template with what an official needs to write texts that match it."""

    row: DltTemplate
    variables: list[tuple[str, int]]
    example: str | None


_EXAMPLES: dict[str, tuple[str, ...]] = {
    "var": ("Sunita Devi", "FPS 112", "12-05-2026", "Shakarpur"),
    "numeric": ("4521", "1200"),
    "number": ("4521", "1200"),
    "alphanumeric": ("TEST-0001", "AB12CD"),
    "url": ("https://seva.gov.in/s/12",),
    "urlott": ("https://seva.gov.in/s/12",),
    "cbn": ("1800110001",),
    "email": ("help@seva.gov.in",),
}


def example_text(compiled: dlt.CompiledTemplate) -> str | None:
    """A text the template accepts, with plausible values in its variables (None if the
    values chosen do not fit, which the registered limits make unlikely)."""
    used: dict[str, int] = {}
    values: list[str] = []
    for kind, limit in zip(compiled.variable_kinds, compiled.variable_limits, strict=True):
        choices = _EXAMPLES.get(kind, ("x",))
        value = choices[used.get(kind, 0) % len(choices)][:limit]
        used[kind] = used.get(kind, 0) + 1
        values.append(value)
    parts = [compiled.segments[0]]
    remaining = iter(values)
    for size, segment in zip(compiled.gap_sizes, compiled.segments[1:], strict=True):
        parts.extend(next(remaining) for _ in range(size))
        parts.append(segment)
    text = "".join(parts)
    return text if compiled.match(text) else None


def _template_row(row: DltTemplate) -> TemplateRow:
    try:
        compiled = dlt.compile_template(row.body)
    except ValueError:
        return TemplateRow(row=row, variables=[], example=None)
    variables = [
        (f"{{#{kind}#}}", limit)
        for kind, limit in zip(compiled.variable_kinds, compiled.variable_limits, strict=True)
    ]
    return TemplateRow(row=row, variables=variables, example=example_text(compiled))


def _dlt_url(official: Official, department: Department, anchor: str = "") -> str:
    url = "/console/sms/dlt"
    if official.role is Role.GATEWAY_ADMIN:
        url += f"?dept={department.code}"
    return url + (f"#{anchor}" if anchor else "")


def _dlt_department(session: Session, official: Official, dept: str) -> Department | None:
    """The department whose registrations this official works on: their own, or for a
    gateway admin the one named by ``dept``."""
    if official.role is Role.GATEWAY_ADMIN:
        code = dept.strip().upper()
        return tenancy.department_by_code(session, code) if 0 < len(code) <= 16 else None
    return tenancy.department_by_id(session, official.department_id)


def _dlt_page(
    request: Request,
    session: Session,
    official: Official,
    department: Department | None,
    *,
    failure: Failure | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "department": department,
        "can_edit": official.role in (Role.DEPARTMENT_ADMIN, Role.GATEWAY_ADMIN),
        "categories": CATEGORIES,
        "failure": failure,
        "form": form or {},
        "flash": pop_flash(request),
        "when": ist_text,
    }
    if department is None:
        context["all_departments"] = tenancy.all_departments(session)
    else:
        account = messaging.account(session, department.id)
        headers = messaging.department_headers(session, department.id)
        context.update(
            {
                "account": account,
                "used": messaging.sent_today(session, department.id),
                "headers": headers,
                "shown_as": {h.id: _display(h.header, h.category) for h in headers},
                "templates": [
                    _template_row(t) for t in messaging.department_templates(session, department.id)
                ],
            }
        )
    return render(request, "console_dlt.html", context, status_code)


def _display(header: str, category: str) -> str:
    try:
        return dlt.display_sender(header, category)
    except ValueError:
        return header


@router.get("/console/sms/dlt")
def dlt_page(
    request: Request, session: SessionDep, official: ConsoleOfficial, dept: str = ""
) -> Response:
    return _dlt_page(request, session, official, _dlt_department(session, official, dept))


def _sentence(text: str) -> str:
    """A validator's reason (written to follow "invalid header: ") as a sentence on its own."""
    return text[:1].upper() + text[1:]


def _say(lang: str, english: str, key: str, **values: str) -> str:
    """``english`` (the validator's own sentence) on English pages; the Hindi one otherwise."""
    if lang == "en":
        return _sentence(english)
    return ui(key, lang).format(**values)


def _category_label(category: str, lang: str) -> str:
    return ui(f"dlt_cat_{category}", lang)


def _header_problem(exc: ValueError, header: str, category: str, lang: str) -> str:
    """Why ``dlt.validate_header`` refused, in the page's language."""
    value = header.strip()[:40]
    if category not in (c.value for c in dlt.Category):
        return _say(lang, ui("dlt_err_category", "en"), "dlt_err_category")
    if category == dlt.Category.PROMOTIONAL:
        alpha = len(value) == 6 and value.isascii() and value.isalpha()
        key = "dlt_err_promo_alpha" if alpha else "dlt_err_promo_digits"
        return _say(lang, str(exc), key, value=value)
    numeric = len(value) == 6 and value.isascii() and value.isdigit()
    key = "dlt_err_alpha_numeric" if numeric else "dlt_err_alpha_letters"
    return _say(lang, str(exc), key, value=value, category=_category_label(category, lang))


def _refused(exc: SendRefused, value: str, lang: str) -> str:
    key = f"dlt_err_{exc.code}"
    if ui(key, lang) == key:  # a refusal with no translation yet: the service's own words
        return _sentence(exc.message)
    return _say(lang, exc.message, key, value=value)


def _forbidden_department(request: Request) -> Response:
    return not_found(request, "adm_not_found")


@router.post("/console/sms/dlt/entity")
def dlt_set_entity(
    request: Request,
    session: SessionDep,
    official: DltAdmin,
    entity_id: Annotated[str, Form()] = "",
    dept: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _dlt_department(session, official, dept)
    if department is None:
        return _forbidden_department(request)
    lang = page_lang(request)
    form = {"entity_id": entity_id[:40]}
    if not check_csrf(request, csrf):
        return _dlt_page(
            request,
            session,
            official,
            department,
            failure=Failure("entity", ui("con_form_expired", lang)),
            form=form,
            status_code=400,
        )
    try:
        value = dlt.validate_entity_id(entity_id[:100])
    except ValueError as exc:
        message = _say(lang, str(exc), "dlt_err_entity", value=entity_id.strip()[:40])
        return _dlt_page(
            request,
            session,
            official,
            department,
            failure=Failure("entity", message),
            form=form,
            status_code=400,
        )
    account = messaging.ensure_account(session, department.id)
    previous = account.entity_id
    account.entity_id = value
    return _saved(
        request,
        session,
        official,
        department,
        "entity",
        ui("dlt_entity_saved", lang),
        entity_id=value,
        previous=previous or "",
    )


@router.post("/console/sms/dlt/headers")
def dlt_add_header(
    request: Request,
    session: SessionDep,
    official: DltAdmin,
    header: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    dept: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _dlt_department(session, official, dept)
    if department is None:
        return _forbidden_department(request)
    lang = page_lang(request)
    header = header[:40]
    category = category.strip()[:32]
    form = {"header": header, "header_category": category}
    message: str | None = None
    if not check_csrf(request, csrf):
        message = ui("con_form_expired", lang)
    elif category not in CATEGORIES:
        message = ui("dlt_err_category", lang)
    else:
        try:
            normalised = dlt.validate_header(header, category)
        except ValueError as exc:
            message = _header_problem(exc, header, category, lang)
        else:
            try:
                row = messaging.register_header(session, department.id, normalised, category)
            except SendRefused as exc:
                session.rollback()
                message = _refused(exc, normalised, lang)
    if message is not None:
        return _dlt_page(
            request,
            session,
            official,
            department,
            failure=Failure("headers", message),
            form=form,
            status_code=400,
        )
    return _saved(
        request,
        session,
        official,
        department,
        "headers",
        f"{ui('dlt_header_saved', lang)} {row.header} ({_display(row.header, category)})",
        header=row.header,
        category=row.category,
    )


@router.post("/console/sms/dlt/templates")
def dlt_add_template(
    request: Request,
    session: SessionDep,
    official: DltAdmin,
    template_id: Annotated[str, Form()] = "",
    header: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    dept: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _dlt_department(session, official, dept)
    if department is None:
        return _forbidden_department(request)
    lang = page_lang(request)
    name = " ".join(name.split())
    category = category.strip()[:32]
    header = header.strip().upper()[:16]
    form = {
        "template_id": template_id[:40],
        "template_header": header,
        "template_category": category,
        "name": name[: MAX_NAME + 50],
        "body": body[: MAX_BODY + 200],
    }
    message: str | None = None
    registered = None
    if not check_csrf(request, csrf):
        message = ui("con_form_expired", lang)
    elif category not in CATEGORIES:
        message = ui("dlt_err_category", lang)
    elif len(name) > MAX_NAME:
        message = ui("dlt_err_name_long", lang)
    elif not body.strip():
        message = ui("dlt_err_body_empty", lang)
    elif len(body) > MAX_BODY:
        message = ui("dlt_err_body_long", lang)
    else:
        try:
            wanted_id = dlt.validate_template_id(template_id[:100])
        except ValueError as exc:
            message = _say(lang, str(exc), "dlt_err_template_id", value=template_id.strip()[:40])
        else:
            message = _template_problem(header, category, body, lang)
            if message is None:
                try:
                    registered = messaging.register_template(
                        session,
                        department.id,
                        template_id=wanted_id,
                        header=header,
                        body=body,
                        category=category,
                        name=name,
                    )
                except SendRefused as exc:
                    session.rollback()
                    value = wanted_id if exc.code == "template_taken" else header
                    message = _refused(exc, value, lang)
    if message is not None or registered is None:
        return _dlt_page(
            request,
            session,
            official,
            department,
            failure=Failure("templates", message or ""),
            form=form,
            status_code=400,
        )
    return _saved(
        request,
        session,
        official,
        department,
        "templates",
        f"{ui('dlt_template_saved', lang)} {registered.template_id}",
        template_id=registered.template_id,
        header=registered.header,
        category=registered.category,
    )


_AUDIT_ACTIONS = {
    "entity": "sms.dlt_entity",
    "headers": "sms.dlt_header",
    "templates": "sms.dlt_template",
}


def _saved(
    request: Request,
    session: Session,
    official: Official,
    department: Department,
    section: str,
    flash: str,
    **details: str,
) -> Response:
    """Every DLT change: an audit record, a flash message, back to the changed section."""
    tenancy.audit(
        session,
        _AUDIT_ACTIONS[section],
        official=official,
        department_id=department.id,
        **details,
    )
    request.session["flash"] = {"kind": "ok", "text": flash}
    return RedirectResponse(_dlt_url(official, department, section), status_code=303)


def _template_problem(header: str, category: str, body: str, lang: str) -> str | None:
    """Why DLT would refuse this template under this header, or None.

    The header's type must suit the template's category (a promotional template goes out
    only from a numeric header), which ``register_template`` does not check by itself.
    """
    if not header:
        return ui("dlt_header_first", lang)
    try:
        dlt.validate_header(header, category)
    except ValueError as exc:
        return _header_problem(exc, header, category, lang)
    try:
        dlt.compile_template(body)
    except ValueError as exc:
        return _sentence(str(exc)) if lang == "en" else f"{ui('dlt_err_body', lang)} {exc}"
    return None


# -- one message (after the fixed /console/sms/dlt paths, which it would otherwise shadow) ------


@router.get("/console/sms/{message_id}")
def sms_detail(
    request: Request, session: SessionDep, official: ConsoleOfficial, message_id: str
) -> Response:
    wanted = _message_id(message_id)
    view = messaging.message(session, wanted) if wanted is not None else None
    if view is None or (
        official.role is not Role.GATEWAY_ADMIN
        and (official.department_id is None or view.department_id != official.department_id)
    ):
        return not_found(request, "sms_not_found")
    batch = messaging.batch(session, view.batch_id)
    department = tenancy.department_by_id(session, view.department_id)
    return render(
        request,
        "console_sms_message.html",
        {
            "m": view,
            "text": shown_text(view),
            "masked": view.kind == "otp",
            "department": department,
            "batch": batch,
            "batch_counts": messaging.batch_counts(session, view.batch_id),
            "states": STATES,
            "parts": messaging.message_parts(session, view.id),
            "when": ist_text,
        },
    )
