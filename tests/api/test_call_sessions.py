"""Booking, moving and cancelling a call with an official as a conversation of the app API:
the gateway's ``call`` and ``my-calls`` services, started like any service, answered with the
number of a time, told in the same words as the other channels."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from seva.citizens import service as citizens
from seva.db.base import utcnow
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.rtc import service as rtc
from seva.tenancy import service as tenancy
from tests.api.helpers import answer, error_of, login, outbox, start

PHONE = "+919811000711"


def test_the_app_books_a_call_by_answering_with_the_number_of_a_time(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    token = login(client, gateway, PHONE)
    started = start(client, "FOOD", "call", token=token)
    question = started["question"]
    assert question["kind"] == "choice" and question["text"] == "Call with FOOD (IST):"
    first = question["options"][0]
    assert first["key"] == "1" and datetime.fromisoformat(first["value"]).tzinfo is not None
    assert 1 <= len(question["options"]) <= 5

    booked = answer(client, started["id"], "1", token=token)
    assert booked["finished"] is True
    assert booked["answer"].startswith(
        f"Your call with Food & Civil Supplies is booked for {first['label']}. Join: "
    )
    with gateway.session() as session:
        person = citizens.find(session, PHONE)
        assert person is not None
        [appointment] = rtc.upcoming(session, person, now=utcnow())
    assert appointment.channel == "app"
    assert appointment.starts_at == datetime.fromisoformat(first["value"])
    link = rtc.join_link(gateway.settings.base_url, appointment.room)
    assert booked["answer"].endswith(link)
    # The join link also arrives by SMS, as a booking on the portal sends it.
    assert link in outbox(gateway, PHONE)[-1].text

    # The app moves it, then cancels it, through the gateway's other call service.
    mine = start(client, "FOOD", "my-calls", token=token)
    assert [o["label"] for o in mine["question"]["options"]] == [first["label"]]
    actions = answer(client, mine["id"], "1", token=token)["question"]
    assert actions["text"] == f"Your call with FOOD at {first['label']} IST:"
    times = answer(client, mine["id"], "move", token=token)["question"]
    assert first["value"] not in [o["value"] for o in times["options"]]
    moved = answer(client, mine["id"], "1", token=token)
    assert moved["answer"].startswith(
        f"Your call with Food & Civil Supplies is moved to {times['options'][0]['label']}."
    )
    again = start(client, "FOOD", "my-calls", token=token)
    answer(client, again["id"], "1", token=token)
    cancelled = answer(client, again["id"], "1", token=token)
    assert cancelled["answer"] == f"Your call on {times['options'][0]['label']} IST is cancelled."
    with gateway.session() as session:
        person = citizens.find(session, PHONE)
        assert person is not None and rtc.upcoming(session, person, now=utcnow()) == []
    nothing = start(client, "FOOD", "my-calls", token=token)
    assert nothing["finished"] and nothing["answer"] == "You have no call booked."


def test_a_time_taken_meanwhile_is_said_and_the_free_times_offered_again(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    token = login(client, gateway, "+919811000712")
    started = start(client, "FOOD", "call", token=token)
    first = started["question"]["options"][0]
    with gateway.session() as session:
        food = tenancy.department_by_code(session, "FOOD")
        assert food is not None
        rtc.book(
            session,
            department=food,
            citizen=citizens.get_or_create(session, "+919811000713"),
            starts_at=datetime.fromisoformat(first["value"]),
            now=utcnow(),
            notify=False,
        )
    refused = answer(client, started["id"], "1", token=token)
    assert refused["finished"] is False
    assert [m["type"] for m in refused["messages"]] == ["say", "ask"]
    assert refused["messages"][0]["text"] == "That time was just taken."
    assert first["value"] not in [o["value"] for o in refused["question"]["options"]]
    booked = answer(client, started["id"], "1", token=token)
    assert "is booked for" in booked["answer"]


def test_a_call_needs_a_login_and_a_department_that_takes_calls(
    client: TestClient, seeded: SeedReport
) -> None:
    anonymous = start(client, "FOOD", "call")
    assert anonymous["finished"] is True
    assert anonymous["answer"] == "Log in with your mobile number to book a call."
    # AGRI's officials publish no call hours; and the name is not a department's own service.
    refused = client.post("/api/v1/sessions", json={"department": "AGRI", "service": "call"})
    assert refused.status_code == 404 and error_of(refused)["field"] == "service"
    listed = {s["slug"] for s in client.get("/api/v1/services").json()}
    assert not listed & {"call", "my-calls"}


def test_the_gateways_call_services_are_not_a_departments_to_load_or_manage(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    token = login(client, gateway, "+919811000714")
    start(client, "FOOD", "call", token=token)  # FOOD's booking service now exists
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    mine = client.get("/api/v1/dept/services", headers=food).json()
    assert not {s["slug"] for s in mine} & {"call", "my-calls"}
    assert client.get("/api/v1/dept/services/call", headers=food).status_code == 404
    source = (
        "seva: 1\nservice: call\ndepartment: FOOD\ntitle: {en: Call, hi: कॉल}\n"
        "steps:\n  - end: {en: Hello, hi: नमस्ते}\n"
    )
    refused = client.put(
        "/api/v1/dept/services/call",
        content=source.encode(),
        headers=food | {"Content-Type": "application/yaml"},
    )
    assert refused.status_code == 400, refused.text
    assert error_of(refused)["code"] == "reserved_service"
