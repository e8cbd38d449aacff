"""Every bundled service gives the same answer over SMS, USSD, the web portal, the app API and
the phone (TwiML and Exotel webhooks: the text that is spoken).

Each service is driven with the same answers on every channel by a different citizen (so "data
collected once" does not skip questions on the later channels), and the final answers are
compared. The app and the web run anonymously, so a service that files an application asks
them for the number its updates go to before it files. Application references differ by
construction (each run files a new application), so they are masked before comparing. The
status lookups use a random reference filed for the test, which anyone holding it may look up,
and the demo's older-style ``TEST-0001``, which none of these callers filed and so is not found
for any of them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from seva.applications import service as applications
from seva.channels.voice.ivr import encode_keypad
from seva.citizens import service as citizens
from seva.citizens.models import Citizen
from seva.demo.seed import DEMO_APPLICATION, SeedReport
from seva.gateway import Gateway
from seva.tenancy.service import department_by_code
from tests.web import pages

REF = re.compile(r"\b[A-Z]+-[0-9A-HJKMNP-TV-Z]{8}\b")
FILED = "<an application filed for the test>"


@dataclass(frozen=True)
class Script:
    department: str
    service: str
    keyword: str
    ussd_path: tuple[str, str]
    answers: tuple[str, ...]
    expect: str
    name: str = ""


SCRIPTS = [
    Script("TRANSPORT", "dl-status", "DL", ("1", "1"), ("DL0420190012345",),
           "Licence DL0420190012345 (Arjun Mehta): Valid"),
    Script("TRANSPORT", "learner-test-slot", "LEARNER", ("1", "2"),
           ("Asha Verma", "15-08-1990", "2", "1"), "Asha Verma, your learner test request for LMV"),
    Script("FOOD", "ration-card-status", "RATION", ("2", "1"), ("1234567890",),
           "Ration card 1234567890 (Sunita Devi): Active."),
    Script("FOOD", "grain-entitlement", "GRAIN", ("2", "2"), ("220011223344",),
           "Card 220011223344 (Antyodaya): 35 kg"),
    Script("MCD", "property-tax", "TAX", ("3", "1"), ("12345678",),
           "Property 12345678, ward"),
    Script("MCD", "civic-complaint", "COMPLAINT", ("3", "2"),
           ("2", "110092", "Ravi Kumar", "Near gate 3, Vikas Marg", "1"),
           "Complaint <REF> registered: Streetlight not working at 110092."),
    Script("AGRI", "mandi-price", "MANDI", ("4", "1"), ("3",),
           "Mustard at Alwar (Rajasthan): modal Rs 5880/quintal"),
    Script("AGRI", "kisan-status", "KISAN", ("4", "2"), ("BR987654321",),
           "Sita Kumari: instalments are on hold until eKYC is done."),
    Script("SEVA", "application-status", "STATUS", ("5", "1"), (FILED,),
           "Application <REF> (Food & Civil Supplies): Approved (updated"),
    Script("SEVA", "nearest-centre", "NEAR", ("5", "2"), ("110092",),
           "Nearest to 110092:\n1. Circle Office Shakarpur"),
    Script("SEVA", "application-status", "STATUS", ("5", "1"), (DEMO_APPLICATION,),
           f"No application {DEMO_APPLICATION} was found.", name="STATUS-not-theirs"),
]  # fmt: skip


def normal(text: str) -> str:
    return " ".join(REF.sub("<REF>", text).split())


def over_sms(client: TestClient, script: Script, phone: str) -> str:
    reply = ""
    for text in (script.keyword, *script.answers):
        response = client.get("/channels/sms/kannel", params={"from": phone, "text": text})
        assert response.status_code == 200
        reply = response.text
    return reply


def over_ussd(client: TestClient, script: Script, phone: str) -> str:
    history: list[str] = []
    pages: list[str] = []

    def hop(value: str | None) -> str:
        if value is not None:
            history.append(value)
        form = {
            "sessionId": f"x-{phone}",
            "serviceCode": "*166#",
            "phoneNumber": phone,
            "text": "*".join(history),
        }
        response = client.post("/channels/ussd/africastalking", data=form)
        assert response.status_code == 200
        return response.text

    screen = hop(None)
    for value in (*script.ussd_path, *script.answers):
        assert screen.startswith("CON "), screen
        screen = hop(value)
    pages.append(screen)
    while screen.startswith("CON ") and screen.endswith("\n98. More"):
        screen = hop("98")
        pages.append(screen)
    assert screen.startswith("END "), screen
    return "\n".join(p[4:].removesuffix("\n98. More") for p in pages)


CONTACT = "Your mobile number, for SMS updates on this application"


def over_web(client: TestClient, script: Script, phone: str) -> str:
    url = f"/services/{script.department}/{script.service}"
    page = client.get(url).text
    for text in script.answers:
        page = pages.answer(client, url, text)
    if CONTACT in page:  # no one is logged in: the updates need a number
        page = pages.answer(client, url, phone)
    return pages.final_answer(page)


def over_api(client: TestClient, script: Script, phone: str) -> str:
    started = client.post(
        "/api/v1/sessions", json={"department": script.department, "service": script.service}
    )
    assert started.status_code in (200, 201), started.text
    body = started.json()
    for text in script.answers:
        assert not body["finished"], body
        response = client.post(f"/api/v1/sessions/{body['id']}/answer", json={"text": text})
        assert response.status_code == 200, response.text
        body = response.json()
    if not body["finished"] and body["question"]["var"] == "phone":  # anonymous: as on the web
        response = client.post(f"/api/v1/sessions/{body['id']}/answer", json={"text": phone})
        body = response.json()
    assert body["finished"], body
    answer: str = body["answer"]
    return answer


DATE = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")


def keyed(answer: str) -> str:
    """An answer as a caller keys it: dates as eight digits, text in the keypad letter form
    (punctuation other than dashes cannot be keyed, so it is left out)."""
    if DATE.match(answer):
        return answer.replace("-", "")
    return encode_keypad("".join(c for c in answer if c.isalnum() or c in " -").strip())


def voice_keys(script: Script) -> list[str]:
    return ["1", *script.ussd_path, *(keyed(a) for a in script.answers)]  # 1: English


def over_twiml(client: TestClient, script: Script, phone: str) -> str:
    def step(form: dict[str, str]) -> ET.Element:
        form = {"CallSid": f"CA-{script.keyword}", "From": phone, "To": "+911800166166", **form}
        response = client.post("/channels/voice/twiml", data=form)
        assert response.status_code == 200, response.text
        return ET.fromstring(response.text)

    document = step({})
    for keys in voice_keys(script):
        if document.find("Record") is not None:
            # A question answered in the caller's words: the provider records and posts the
            # recording's address (never fetched by Seva).
            document = step({"RecordingUrl": f"https://recordings.example/{script.keyword}",
                             "RecordingDuration": "7"})  # fmt: skip
            continue
        assert document.find("Gather") is not None, ET.tostring(document)
        document = step({"Digits": keys})
    assert document.find("Hangup") is not None, ET.tostring(document)
    return document.findtext("Say") or ""


def over_exotel(client: TestClient, script: Script, phone: str) -> str:
    call = {"CallSid": f"ex-{script.keyword}", "CallFrom": phone.removeprefix("+91")}
    prompt = client.get("/channels/voice/exotel", params=call).json()
    for keys in voice_keys(script):
        passed = client.get(
            "/channels/voice/exotel", params={**call, "digits": f'"{keys}"'}, follow_redirects=False
        )
        assert passed.status_code == 200, passed.text
        prompt = client.get("/channels/voice/exotel", params=call).json()
    spoken: str = prompt["gather_prompt"]["text"]
    done = client.get(
        "/channels/voice/exotel", params={**call, "digits": '""'}, follow_redirects=False
    )
    assert done.status_code == 302  # the answer was played: hang up
    return spoken


def file_application(gateway: Gateway) -> str:
    """An approved application with a random reference, as the status scripts look up."""
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        application = applications.create(
            session,
            department=food,
            service="ration-card-new",
            kind="new-ration-card",
            status="Received",
            data={},
            channel="web",
            citizen=None,
        )
        applications.change_status(
            session, application, status="Approved", note="Collect it at FPS 112."
        )
        return application.ref


@pytest.mark.demo_routes  # the property tax service asks the demo's backend
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name or s.keyword)
def test_same_answer_on_every_channel(
    client: TestClient, live: str, gateway: Gateway, seeded: SeedReport, script: Script
) -> None:
    if FILED in script.answers:
        ref = file_application(gateway)
        script = replace(script, answers=tuple(ref if a == FILED else a for a in script.answers))
    answers = {
        "sms": over_sms(client, script, "+919811100001"),
        "ussd": over_ussd(client, script, "+919811100002"),
        "api": over_api(client, script, "+919811100003"),
        "web": over_web(client, script, "+919811100006"),
        "twiml": over_twiml(client, script, "+919811100004"),
        "exotel": over_exotel(client, script, "+919811100005"),
    }
    assert normal(answers["sms"]).startswith(normal(script.expect)), answers["sms"]
    assert {channel: normal(text) for channel, text in answers.items()} == dict.fromkeys(
        answers, normal(answers["sms"])
    )


def test_profile_field_given_on_sms_is_not_asked_on_ussd(
    client: TestClient, seeded: SeedReport
) -> None:
    phone = "+919811100009"
    complaint = SCRIPTS[5]
    assert "Complaint" in over_sms(client, complaint, phone)
    # Same citizen on USSD: category, pincode, then straight to the description.
    history = ["3", "2", "1", "110092"]
    form = {"sessionId": "u-9", "serviceCode": "*166#", "phoneNumber": phone}
    client.post("/channels/ussd/africastalking", data=form | {"text": ""})
    screen = ""
    for i in range(len(history)):
        screen = client.post(
            "/channels/ussd/africastalking", data=form | {"text": "*".join(history[: i + 1])}
        ).text
    assert screen == "CON Describe the place (landmark, street)"
    assert "Your full name" not in screen


def test_hindi_chosen_on_ussd_is_used_on_sms(client: TestClient, seeded: SeedReport) -> None:
    phone = "+919811100010"
    form = {"sessionId": "u-10", "serviceCode": "*166#", "phoneNumber": phone}
    client.post("/channels/ussd/africastalking", data=form | {"text": ""})
    client.post("/channels/ussd/africastalking", data=form | {"text": "0"})
    menu = client.post("/channels/ussd/africastalking", data=form | {"text": "0*2"}).text
    assert menu.startswith("CON सेवा")
    reply = client.get("/channels/sms/kannel", params={"from": phone, "text": "MANDI"}).text
    assert reply.startswith("फसल चुनें\n1. गेहूँ")


def test_a_citizen_starting_a_service_is_registered_once_and_seen_on_each_channel(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811100011"
    with gateway.session() as session:
        assert citizens.find(session, phone) is None
    reply = client.get("/channels/sms/kannel", params={"from": phone, "text": "RATION 1234567890"})
    assert "Active" in reply.text
    with gateway.session() as session:
        first = citizens.find(session, phone)
        assert first is not None and first.preferred_channel == "sms"
        registered, seen_sms = first.id, first.last_seen_at
    form = {"sessionId": "u-11", "serviceCode": "*166#", "phoneNumber": phone}
    for text in ["", "2", "2*1"]:
        client.post("/channels/ussd/africastalking", data=form | {"text": text})
    with gateway.session() as session:
        again = citizens.find(session, phone)
        assert again is not None and again.id == registered
        assert again.preferred_channel == "ussd"
        assert again.last_seen_at is not None and seen_sms is not None
        assert again.last_seen_at >= seen_sms
        assert session.scalar(select(func.count()).where(Citizen.phone == phone)) == 1


def test_seen_registers_a_new_citizen_once_and_says_so(gateway: Gateway) -> None:
    """A new citizen's profile is not looked up (there is none): ``seen`` must tell a row it
    just made from one registered before, on either database."""
    phone = "+919811100012"
    with gateway.session() as session:
        first = citizens.seen(session, phone, channel="sms")
        assert first.new
    with gateway.session() as session:
        again = citizens.seen(session, phone)
        assert again == citizens.Seen(first.id, new=False)
        found = citizens.find(session, phone)
        assert found is not None and found.preferred_channel == "sms"


def test_seeing_a_known_citizen_again_uses_up_no_id(gateway: Gateway) -> None:
    """PostgreSQL draws an id for every INSERT … ON CONFLICT, an update included: a known
    citizen is updated without one, so the ids last as long as the citizens."""
    with gateway.session() as session:
        first = citizens.seen(session, "+919811100013", channel="sms")
        for _ in range(3):
            assert citizens.seen(session, "+919811100013") == citizens.Seen(first.id, new=False)
        second = citizens.seen(session, "+919811100014", channel="ussd")
        assert second.new and second.id == first.id + 1
