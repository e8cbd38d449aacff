"""Running services through the app API: JSON messages, the same answers as SMS, ownership."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.dashboard.models import Transaction
from seva.db.base import utcnow
from seva.demo.seed import SeedReport
from seva.flows.models import Conversation
from seva.gateway import Gateway
from tests.api.helpers import answer, bearer, error_of, login, sms, start

RATION_ANSWER = (
    "Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
)


def test_ration_card_over_the_api_answers_exactly_like_sms(
    client: TestClient, seeded: SeedReport
) -> None:
    started = start(client, "FOOD", "ration-card-status")
    assert started["finished"] is False
    assert started["answer"] is None
    assert started["lang"] == "en"
    assert started["messages"] == [
        {
            "type": "ask",
            "var": "card_no",
            "text": "Enter your ration card number",
            "kind": "digits",
            "options": [],
            "error": None,
            "attempt": 1,
        }
    ]
    assert started["question"]["var"] == "card_no"

    done = answer(client, started["id"], "1234567890")
    assert done["finished"] is True
    assert done["question"] is None
    assert done["messages"][-1] == {"type": "end", "text": RATION_ANSWER, "outcome": "completed"}
    assert done["answer"] == RATION_ANSWER
    assert done["answer"] == sms(client, "RATION 1234567890", "+919811000201")


def test_refused_answers_come_back_with_the_reason(client: TestClient, seeded: SeedReport) -> None:
    conversation = start(client, "FOOD", "ration-card-status")["id"]
    refused = answer(client, conversation, "abc")
    assert refused["finished"] is False
    assert refused["question"]["error"] == "Please enter digits only."
    assert refused["question"]["attempt"] == 2
    # Same text an SMS user sees for the same mistake.
    sms(client, "RATION", "+919811000202")
    assert (
        sms(client, "abc", "+919811000202")
        == "Please enter digits only.\nEnter your ration card number"
    )


def test_choices_are_listed_and_answered_by_key(client: TestClient, seeded: SeedReport) -> None:
    started = start(client, "AGRI", "mandi-price")
    question = started["question"]
    assert question["kind"] == "choice"
    assert question["options"][:2] == [
        {"key": "1", "value": "wheat", "label": "Wheat"},
        {"key": "2", "value": "paddy", "label": "Paddy"},
    ]
    done = answer(client, started["id"], "1")
    sms(client, "MANDI", "+919811000203")
    assert done["answer"] == sms(client, "1", "+919811000203")
    assert done["answer"].startswith("Wheat at Azadpur (Delhi)")


def test_hindi_conversation_by_request(client: TestClient, seeded: SeedReport) -> None:
    started = start(client, "FOOD", "ration-card-status", lang="hi")
    assert started["lang"] == "hi"
    assert started["question"]["text"] == "अपना राशन कार्ड नंबर दर्ज करें"
    done = answer(client, started["id"], "९८७६५४३२१०")
    assert done["answer"] == (
        "राशन कार्ड 9876543210 (Mohd. Irfan): निलंबित (eKYC लंबित)। सदस्य: 3। दुकान: FPS 078, Okhla।"
    )


def test_a_finished_conversation_cannot_be_answered_again(
    client: TestClient, seeded: SeedReport
) -> None:
    conversation = start(client, "SEVA", "nearest-centre")["id"]
    done = answer(client, conversation, "110092")
    assert done["answer"].startswith("Nearest to 110092:\n1. ")
    again = client.post(f"/api/v1/sessions/{conversation}/answer", json={"text": "110092"})
    assert again.status_code == 404
    assert error_of(again)["code"] == "not_found"


def test_cancel_ends_the_conversation(client: TestClient, seeded: SeedReport) -> None:
    conversation = start(client, "AGRI", "kisan-status")["id"]
    cancelled = client.delete(f"/api/v1/sessions/{conversation}")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["finished"] is True
    assert body["messages"][-1]["outcome"] == "cancelled"
    assert body["answer"].startswith("Cancelled.")
    assert client.delete(f"/api/v1/sessions/{conversation}").status_code == 404


def test_an_open_conversation_can_be_resumed(client: TestClient, seeded: SeedReport) -> None:
    conversation = start(client, "AGRI", "mandi-price")["id"]
    answer(client, conversation, "nonsense")
    resumed = client.get(f"/api/v1/sessions/{conversation}")
    assert resumed.status_code == 200
    body = resumed.json()
    assert body["messages"] == []
    assert body["question"]["var"] == "crop"
    assert body["question"]["error"] is not None
    assert len(body["question"]["options"]) == 5


def test_unknown_services_and_conversations_are_404(client: TestClient, seeded: SeedReport) -> None:
    for department, service in (("FOOD", "no-such-service"), ("MCD", "ration-card-status")):
        response = client.post(
            "/api/v1/sessions", json={"department": department, "service": service}
        )
        assert response.status_code == 404
        assert error_of(response)["field"] == "service"
    for conversation in ("x" * 32, "not a valid id!"):
        response = client.post(f"/api/v1/sessions/{conversation}/answer", json={"text": "1"})
        assert response.status_code in (400, 404)
        error_of(response)
    bad_lang = client.post(
        "/api/v1/sessions",
        json={"department": "FOOD", "service": "ration-card-status", "lang": "xx"},
    )
    assert bad_lang.status_code == 400
    assert error_of(bad_lang)["field"] == "lang"


def test_a_citizens_conversation_answers_only_to_that_citizen(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    owner = login(client, gateway, "+919811000211")
    other = login(client, gateway, "+919811000212")
    conversation = start(client, "FOOD", "ration-card-status", token=owner)["id"]

    for headers in (bearer(other), {}):
        refused = client.post(
            f"/api/v1/sessions/{conversation}/answer", json={"text": "1234567890"}, headers=headers
        )
        assert refused.status_code == 403
        assert error_of(refused)["code"] == "forbidden"
        assert client.delete(f"/api/v1/sessions/{conversation}", headers=headers).status_code == 403
        assert client.get(f"/api/v1/sessions/{conversation}", headers=headers).status_code == 403

    done = answer(client, conversation, "1234567890", token=owner)
    assert done["answer"] == RATION_ANSWER


def test_data_collected_once_is_not_asked_again(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811000221"
    token = login(client, gateway, phone)

    def complaint() -> list[str]:
        asked: list[str] = []
        reply = start(client, "MCD", "civic-complaint", token=token)
        inputs = {"category": "1", "pincode": "110092", "name": "Asha Rani"}
        inputs |= {"details": "Behind the school gate", "confirm": "yes"}
        while not reply["finished"]:
            var = reply["question"]["var"]
            asked.append(var)
            reply = answer(client, reply["id"], inputs[var], token=token)
        assert reply["answer"].startswith("Complaint MCD-")
        return asked

    assert complaint() == ["category", "pincode", "name", "details", "confirm"]
    assert complaint() == ["category", "pincode", "details", "confirm"]

    me = client.get("/api/v1/me", headers=bearer(token)).json()
    assert me["profile"] == {"name": "Asha Rani"}
    assert [(c["department"], c["fields"]) for c in me["consents"]] == [("MCD", ["name"])]
    assert me["consents"][0]["department_name"]["hi"] == "नगर निगम"
    mine = client.get("/api/v1/me/applications", headers=bearer(token)).json()
    assert [a["channel"] for a in mine] == ["app", "app"]
    assert mine[0]["timeline"][0]["status"] == "Registered"


def test_an_anonymous_conversation_does_not_touch_the_registry(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    token = login(client, gateway, "+919811000231")
    # Without the token the name question is asked and nothing is remembered for the citizen.
    reply = start(client, "MCD", "civic-complaint")
    for text in ("2", "110092", "Ravi", "Near the park", "no"):
        reply = answer(client, reply["id"], text)
    assert reply["answer"].startswith("Complaint not registered.")
    assert client.get("/api/v1/me", headers=bearer(token)).json()["profile"] == {}


def test_a_conversation_left_too_long_times_out(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    conversation = start(client, "FOOD", "ration-card-status")["id"]
    with gateway.session() as session:
        row = session.scalar(
            select(Conversation).where(
                Conversation.channel == "app", Conversation.key == conversation
            )
        )
        assert row is not None
        state = dict(row.state)
        state["expires_at"] = (utcnow() - timedelta(seconds=1)).isoformat()
        row.state = state
    late = client.post(f"/api/v1/sessions/{conversation}/answer", json={"text": "1234567890"})
    assert late.status_code == 404
    # The app can tell the citizen which request timed out, in their language.
    assert error_of(late)["code"] == "timed_out"
    assert error_of(late)["message"] == (
        "Your Ration card status request timed out. Start it again from the list of services."
    )
    # Once said, the conversation is simply gone.
    again = client.post(f"/api/v1/sessions/{conversation}/answer", json={"text": "1234567890"})
    assert again.status_code == 404 and error_of(again)["code"] == "not_found"
    with gateway.session() as session:
        outcomes = session.scalars(
            select(Transaction.outcome).where(
                Transaction.channel == "app", Transaction.service == "ration-card-status"
            )
        ).all()
        assert list(outcomes) == ["timeout"]
        assert session.scalar(select(Conversation).where(Conversation.key == conversation)) is None
