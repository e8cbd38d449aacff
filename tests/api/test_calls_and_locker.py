"""The app books, moves and cancels calls and reads its locker through ``/api/v1``, with the
same rules and the same SMS as the other channels."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from tests.api.helpers import bearer, login, outbox

PHONE = "+919811000701"


def test_the_app_books_moves_and_cancels_a_call(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    assert client.get("/api/v1/calls/FOOD/slots").status_code == 401
    auth = bearer(login(client, gateway, PHONE))
    departments = client.get("/api/v1/calls/departments").json()
    assert "FOOD" in [d["code"] for d in departments]
    assert client.get("/api/v1/calls/NOPE/slots", headers=auth).status_code == 404

    slots = client.get("/api/v1/calls/FOOD/slots", headers=auth).json()
    assert len(slots) >= 3
    booked = client.post(
        "/api/v1/calls/FOOD/appointments", json={"starts_at": slots[0]["starts_at"]}, headers=auth
    )
    assert booked.status_code == 201, booked.text
    call = booked.json()
    assert call["department"] == "FOOD" and call["status"] == "booked"
    assert call["join_url"].endswith(f"/call/a/{call['id']}")
    assert call["join_url"] in outbox(gateway, PHONE)[-1].text

    # The same time twice: refused, as on every channel.
    again = client.post(
        "/api/v1/calls/FOOD/appointments", json={"starts_at": slots[0]["starts_at"]}, headers=auth
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "slot_taken"
    naive = client.post(
        "/api/v1/calls/FOOD/appointments", json={"starts_at": "2026-12-01T10:00:00"}, headers=auth
    )
    assert naive.status_code == 422

    mine = client.get("/api/v1/me/calls", headers=auth).json()
    assert [c["id"] for c in mine] == [call["id"]]
    targets = client.get(f"/api/v1/me/calls/{call['id']}/slots", headers=auth).json()
    assert slots[0]["starts_at"] not in [t["starts_at"] for t in targets]
    moved = client.post(
        f"/api/v1/me/calls/{call['id']}/move",
        json={"starts_at": targets[1]["starts_at"]},
        headers=auth,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["label"] == targets[1]["label"]
    assert "moved to" in outbox(gateway, PHONE)[-1].text

    # Another citizen cannot touch it.
    other = bearer(login(client, gateway, "+919811000702"))
    assert client.delete(f"/api/v1/me/calls/{moved.json()['id']}", headers=other).status_code == 404

    cancelled = client.delete(f"/api/v1/me/calls/{moved.json()['id']}", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.get("/api/v1/me/calls", headers=auth).json() == []


def test_the_app_lists_and_downloads_the_locker(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    from seva.citizens import service as citizens
    from seva.locker import service as locker

    pdf = b"%PDF-1.4\n% a test\n%%EOF\n"
    with gateway.session() as session:
        person = citizens.get_or_create(session, PHONE)
        kept = locker.add_file(session, gateway.locker, person, filename="rent.pdf", data=pdf)
        document_id = kept.id
    auth = bearer(login(client, gateway, PHONE))
    listed = client.get("/api/v1/me/documents", headers=auth).json()
    assert [(d["id"], d["kind"], d["filename"]) for d in listed] == [
        (document_id, "uploaded", "rent.pdf")
    ]
    got = client.get(f"/api/v1/me/documents/{document_id}/file", headers=auth)
    assert got.status_code == 200 and got.content == pdf
    assert got.headers["content-type"] == "application/pdf"
    other = bearer(login(client, gateway, "+919811000703"))
    assert client.get("/api/v1/me/documents", headers=other).json() == []
    refused = client.get(f"/api/v1/me/documents/{document_id}/file", headers=other)
    assert refused.status_code == 404
