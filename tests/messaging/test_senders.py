"""A department sends only in its own name: its registered DLT headers and templates, or the
gateway's sender before it has any. Every way in (JSON, MSDG, CSV campaigns, the console) is
refused another department's header or a bank's, and queues nothing."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from seva.applications import service as applications
from seva.citizens import service as citizens
from seva.cli import app as cli
from seva.demo.seed import DEMO_PASSWORD, SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.messaging.models import DltHeader, SmsBatch, SmsMessage
from seva.messaging.service import GATEWAY_SENDER, Send, SendRefused
from seva.tenancy import service as tenancy
from seva.tenancy.models import Role
from tests.api.helpers import error_of
from tests.console.pages import csrf_of, login

LICENCE = "Your driving licence DL0420190012345 is ready for dispatch. -Transport Dept"
TRANSPORT_TEMPLATE = "1107161000000000001"
FOREIGN = ["TRNSPT", "SBIINB"]
"""Transport's header, and a bank's that no department registered."""


def key(seeded: SeedReport, code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.api_keys[code]}"}


def send(client: TestClient, seeded: SeedReport, code: str, **body: Any) -> Any:
    body.setdefault("to", "9811000001")
    body.setdefault("text", LICENCE)
    return client.post("/api/v1/messages", json=body, headers=key(seeded, code))


def queued(gateway: Gateway) -> tuple[int, int]:
    """Batches and messages in the queue."""
    with gateway.session() as session:
        batches = session.scalar(select(func.count()).select_from(SmsBatch))
        messages = session.scalar(select(func.count()).select_from(SmsMessage))
    return int(batches or 0), int(messages or 0)


def department_id(gateway: Gateway, code: str) -> int:
    with gateway.session() as session:
        found = tenancy.department_by_code(session, code)
        assert found is not None
        return found.id


@pytest.mark.parametrize("sender", FOREIGN)
def test_a_department_cannot_send_from_another_ones_header_on_the_json_api(
    client: TestClient, gateway: Gateway, seeded: SeedReport, sender: str
) -> None:
    before = queued(gateway)
    for code in ("AGRI", "FOOD"):  # no header registered yet
        response = send(client, seeded, code, sender=sender)
        assert response.status_code == 422, response.text
        assert error_of(response)["code"] == "sender_not_registered"
        assert error_of(response)["field"] == "sender"
    assert queued(gateway) == before


def test_a_department_with_a_header_cannot_borrow_another(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    before = queued(gateway)
    response = send(client, seeded, "TRANSPORT", sender="SBIINB")
    assert response.status_code == 422 and error_of(response)["code"] == "sender_not_registered"
    # Nor the gateway's own sender, which would escape its templates.
    response = send(client, seeded, "TRANSPORT", sender=GATEWAY_SENDER)
    assert response.status_code == 422 and error_of(response)["code"] == "sender_not_registered"
    assert queued(gateway) == before


def test_without_a_header_a_department_sends_from_the_gateways_sender(
    client: TestClient, seeded: SeedReport
) -> None:
    # AGRI's onboarding sender ID (AGRIFW) is not a registered header, so it is not used.
    for body in ({}, {"sender": "seva"}):
        response = send(client, seeded, "AGRI", text="Mandi prices are updated.", **body)
        assert response.status_code == 202, response.text
        [ref] = response.json()["messages"]
        message = client.get(f"/api/v1/messages/{ref['id']}", headers=key(seeded, "AGRI")).json()
        assert message["sender"] == GATEWAY_SENDER
    response = send(client, seeded, "AGRI", text="Mandi prices are updated.", sender="AGRIFW")
    assert response.status_code == 422 and error_of(response)["code"] == "sender_not_registered"


def test_a_retried_send_without_sender_replays_its_batch(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """The batch records the sender it went out from; a retry naming none is the same send."""
    headers = key(seeded, "AGRI") | {"Idempotency-Key": "subsidy-7"}
    body = {"to": "9811000001", "text": "Subsidy credited."}
    first = client.post("/api/v1/messages", json=body, headers=headers)
    again = client.post("/api/v1/messages", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.json()["replayed"] and again.json()["batch_id"] == first.json()["batch_id"]
    same = client.post("/api/v1/messages", json=body | {"sender": "SEVA"}, headers=headers)
    assert same.status_code == 200 and same.json()["replayed"]


def test_another_departments_template_id_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    before = queued(gateway)
    # AGRI has no header, so no template of its own at all.
    response = send(client, seeded, "AGRI", template_id=TRANSPORT_TEMPLATE)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "template_unknown"
    assert error_of(response)["field"] == "template_id"
    # FOOD with a header and template of its own still cannot name Transport's.
    headers = key(seeded, "FOOD")
    assert (
        client.post(
            "/api/v1/dlt/headers",
            json={"header": "FOODCS", "category": "government"},
            headers=headers,
        ).status_code
        == 201
    )
    own = {"template_id": "1107169999000000001", "header": "FOODCS", "category": "government"}
    created = client.post(
        "/api/v1/dlt/templates",
        json=own | {"body": "Ration card {#var#} is ready."},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    response = send(
        client, seeded, "FOOD", text="Ration card 12 is ready.", template_id=TRANSPORT_TEMPLATE
    )
    assert response.status_code == 422 and error_of(response)["code"] == "template_unknown"
    assert queued(gateway) == before

    # Its own header and template work, and the header is now its default sender.
    response = send(
        client, seeded, "FOOD", text="Ration card 12 is ready.", template_id=own["template_id"]
    )
    assert response.status_code == 202, response.text
    [ref] = response.json()["messages"]
    message = client.get(f"/api/v1/messages/{ref['id']}", headers=headers).json()
    assert message["sender"] == "FOODCS" and message["template_id"] == own["template_id"]


def test_own_header_and_template_still_work(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    for body in ({"sender": "trnspt", "template_id": TRANSPORT_TEMPLATE}, {}):
        response = send(client, seeded, "TRANSPORT", **body)
        assert response.status_code == 202, response.text
        [ref] = response.json()["messages"]
        message = client.get(
            f"/api/v1/messages/{ref['id']}", headers=key(seeded, "TRANSPORT")
        ).json()
        assert message["sender"] == "TRNSPT" and message["template_id"] == TRANSPORT_TEMPLATE


def test_registering_another_departments_header_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    # TRNSPT is Transport's header; MCDELH is the MCD's sender ID, not registered yet.
    for header in ("TRNSPT", "trnspt", "MCDELH"):
        response = client.post(
            "/api/v1/dlt/headers",
            json={"header": header, "category": "government"},
            headers=key(seeded, "AGRI"),
        )
        assert response.status_code == 422, response.text
        assert error_of(response)["code"] == "header_taken"
        assert error_of(response)["field"] == "header"
    with gateway.session() as session:
        owners = dict(session.execute(select(DltHeader.header, DltHeader.department_id)).all())
    assert owners == {"TRNSPT": department_id(gateway, "TRANSPORT")}
    # The MCD itself may register its sender ID.
    response = client.post(
        "/api/v1/dlt/headers",
        json={"header": "MCDELH", "category": "government"},
        headers=key(seeded, "MCD"),
    )
    assert response.status_code == 201, response.text


def test_the_queue_itself_refuses_whatever_way_a_send_arrives(
    gateway: Gateway, seeded: SeedReport
) -> None:
    """``send_many`` is what every entry point (the group commit included) goes through."""
    agri = department_id(gateway, "AGRI")
    transport = department_id(gateway, "TRANSPORT")
    requests = [
        Send(to=["+919811000001"], text=LICENCE, sender="TRNSPT", department_id=agri),
        Send(to=["+919811000002"], text=LICENCE, sender="TRNSPT", department_id=transport),
        Send(to=["+919811000003"], text=LICENCE, sender="SBIINB", department_id=agri, source="csv"),
        # Seva's own message for a department never goes out in another's name either.
        Send(to=["+919811000004"], text="x", sender="TRNSPT", department_id=agri, source="system"),
    ]
    with gateway.session() as session:
        outcomes = messaging.send_many(session, requests)
    assert [getattr(o, "code", "accepted") for o in outcomes] == [
        "sender_not_registered",
        "accepted",
        "sender_not_registered",
        "accepted",
    ]
    with gateway.session() as session:
        assert [m.sender for m in messaging.inbox(session, "+919811000002")] == ["TRNSPT"]
        assert messaging.inbox(session, "+919811000001") == []
        assert [m.sender for m in messaging.inbox(session, "+919811000004")] == [GATEWAY_SENDER]
        with pytest.raises(SendRefused):
            messaging.sender_of(session, requests[0])


# -- MSDG ---------------------------------------------------------------------------------

MSDG_USER = "agri-msdg"
MSDG_PASSWORD = "Agri2025pass"
MSDG_KEY = "agri-secure-key"


def msdg_fields(sender: str, content: str = LICENCE) -> dict[str, str]:
    sha1 = hashlib.sha1(MSDG_PASSWORD.encode()).hexdigest()
    digest = hashlib.sha512((MSDG_USER + sender + content + MSDG_KEY).encode()).hexdigest()
    return {
        "username": MSDG_USER,
        "password": sha1,
        "senderid": sender,
        "content": content,
        "smsservicetype": "singlemsg",
        "mobileno": "9811000001",
        "key": digest,
        "templateid": TRANSPORT_TEMPLATE,
    }


@pytest.mark.parametrize("sender", FOREIGN)
def test_msdg_answers_412_for_another_departments_header(
    client: TestClient, gateway: Gateway, seeded: SeedReport, sender: str
) -> None:
    response = client.put(
        "/api/v1/sms/msdg-credentials",
        json={"username": MSDG_USER, "password": MSDG_PASSWORD, "secure_key": MSDG_KEY},
        headers=key(seeded, "AGRI"),
    )
    assert response.status_code == 204, response.text
    before = queued(gateway)
    reply = client.post("/esms/sendsmsrequestDLT", data=msdg_fields(sender))
    assert reply.status_code == 200 and reply.text.startswith("412,"), reply.text
    # Even with a bad number too, the sender is what MSDG reports first.
    fields = msdg_fields(sender) | {"mobileno": "12345"}
    assert client.post("/esms/sendsmsrequestDLT", data=fields).text.startswith("412,")
    assert queued(gateway) == before


# -- CSV campaigns ------------------------------------------------------------------------


@pytest.mark.parametrize("sender", FOREIGN)
def test_a_csv_campaign_from_another_departments_header_sends_nothing(
    live: str, gateway: Gateway, seeded: SeedReport, tmp_path: Path, sender: str
) -> None:
    path = tmp_path / "farmers.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mobile", "name"])
        writer.writerows([[f"98{n:08d}", f"Farmer {n}"] for n in range(20)])
    before = queued(gateway)
    args = ["sms", "send", "--csv", str(path), "--api-key", seeded.api_keys["AGRI"]]
    args += ["--url", live, "--text", "Dear {name}, your instalment is paid.", "--sender", sender]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert "sender_not_registered" in result.output
    assert queued(gateway) == before


# -- the console --------------------------------------------------------------------------


def test_the_console_refuses_another_departments_header_and_template(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    dlt = "/console/sms/dlt"
    token = csrf_of(client.get(dlt).text)
    page = client.post(
        f"{dlt}/headers", data={"header": "TRNSPT", "category": "government", "csrf": token}
    )
    assert page.status_code == 400 and "belongs to another department" in page.text
    registered = client.post(
        f"{dlt}/headers", data={"header": "FOODCS", "category": "government", "csrf": token}
    )
    assert registered.status_code == 200, registered.text
    page = client.post(
        f"{dlt}/templates",
        data={
            "template_id": TRANSPORT_TEMPLATE,
            "header": "FOODCS",
            "category": "government",
            "body": "Your driving licence {#var#} is ready for dispatch. -Transport Dept",
            "csrf": token,
        },
    )
    assert page.status_code == 400 and "belongs to another department" in page.text
    with gateway.session() as session:
        owners = dict(session.execute(select(DltHeader.header, DltHeader.department_id)).all())
    assert owners == {
        "TRNSPT": department_id(gateway, "TRANSPORT"),
        "FOODCS": department_id(gateway, "FOOD"),
    }


def test_a_status_sms_from_the_console_never_goes_out_in_another_departments_name(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """An onboarding sender ID is typed by the gateway admin and checked by no one: a new
    department given Transport's header as its sender ID does not get to use it."""
    with gateway.session() as session:
        health = tenancy.create_department(
            session, code="HEALTH", name={"en": "Health", "hi": "स्वास्थ्य"}, sender_id="TRNSPT"
        )
        tenancy.create_official(
            session,
            username="health.admin",
            name="Health Admin",
            role=Role.DEPARTMENT_ADMIN,
            password=DEMO_PASSWORD,
            department=health,
        )
        citizen = citizens.get_or_create(session, "+919811000777")
        application = applications.create(
            session,
            department=health,
            service="vaccination",
            kind="vaccination",
            status="Received",
            data={},
            channel="web",
            citizen=citizen,
        )
        ref = application.ref
    login(client, "health.admin")
    detail = f"/console/applications/{ref}"
    response = client.post(
        f"{detail}/status",
        data={"status": "Approved", "csrf": csrf_of(client.get(detail).text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with gateway.session() as session:
        [message] = messaging.inbox(session, "+919811000777")
    assert message.sender == GATEWAY_SENDER
