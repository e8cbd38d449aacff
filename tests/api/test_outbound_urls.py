"""Server-side request forgery: a department cannot make Seva call its own network.

Status callbacks and service backends that point at loopback, link-local (cloud metadata),
private or reserved addresses are refused when they are registered, and a name that resolves to
such an address is refused again when it is called. Only the refusals are exercised: nothing
here is sent beyond loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport
from seva.flows.loader import parse_definition
from seva.flows.service import load_service
from seva.gateway import Gateway
from seva.outbound import Bulkheads, Outbound, UrlPolicy
from seva.tenancy import service as tenancy
from tests.api.helpers import error_of, sms
from tests.test_outbound import Listener

INTERNAL = [
    "http://127.0.0.1:8000/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.8/hook",
    "http://localhost/hook",
]


@pytest.fixture
def strict(gateway: Gateway) -> Iterator[Gateway]:
    """The gateway as production runs it: no network allowed beyond the public ones."""
    allowing = gateway.runtime.outbound
    gateway.runtime.outbound = Outbound(UrlPolicy(), Bulkheads())
    yield gateway
    allowing.close()


def key(seeded: SeedReport, code: str = "FOOD") -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.api_keys[code]}"}


@pytest.mark.parametrize("url", INTERNAL)
def test_a_send_with_an_internal_callback_is_refused_and_nothing_queued(
    client: TestClient, seeded: SeedReport, strict: Gateway, url: str
) -> None:
    before = client.get("/api/v1/messages", headers=key(seeded)).json()
    response = client.post(
        "/api/v1/messages",
        json={"to": "9811000001", "text": "Your card is ready.", "callback_url": url},
        headers=key(seeded),
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "callback_url_refused"
    assert error_of(response)["field"] == "callback_url"
    assert client.get("/api/v1/messages", headers=key(seeded)).json() == before


def test_the_accounts_default_callback_is_checked_too(
    client: TestClient, seeded: SeedReport, strict: Gateway
) -> None:
    refused = client.put(
        "/api/v1/sms/account",
        json={"callback_url": "http://169.254.169.254/latest/"},
        headers=key(seeded),
    )
    assert refused.status_code == 422
    assert error_of(refused)["code"] == "callback_url_refused"
    taken = client.put(
        "/api/v1/sms/account",
        json={"callback_url": "https://food.example.gov.in/sms-status"},
        headers=key(seeded),
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["callback_url"] == "https://food.example.gov.in/sms-status"


SERVICE = """\
seva: 1
service: card-check
department: FOOD
title: {{en: Card check, hi: कार्ड जाँच}}
keywords: [CARDCHK]
steps:
  - ask: card_no
    type: digits
    length: 10
    prompt: {{en: Card number, hi: कार्ड नंबर}}
  - call:
      url: "{url}"
      save: card
      error:
        en: The card office cannot be reached now.
        hi: कार्ड कार्यालय से अभी संपर्क नहीं हो सकता।
  - end: {{en: "Card {{card_no}}: {{card.status}}", hi: "कार्ड {{card_no}}: {{card.status}}"}}
"""


def put_service(client: TestClient, seeded: SeedReport, url: str) -> object:
    return client.put(
        "/api/v1/dept/services/card-check",
        content=SERVICE.format(url=url).encode(),
        headers=key(seeded) | {"Content-Type": "application/yaml"},
    )


@pytest.mark.parametrize(
    "url", [*INTERNAL, "https://{card_no}.example.gov.in/cards", "http://user:pw@pds.example.in/"]
)
def test_a_service_calling_an_internal_or_answer_chosen_host_is_refused(
    client: TestClient, seeded: SeedReport, strict: Gateway, url: str
) -> None:
    response = put_service(client, seeded, url)
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    assert error_of(response)["code"] == "call_url_refused"  # type: ignore[arg-type]
    assert "not a Seva keyword" in sms(client, "CARDCHK 1234567890", "+919811000402")


def test_a_public_backend_is_taken(client: TestClient, seeded: SeedReport, strict: Gateway) -> None:
    response = put_service(client, seeded, "https://pds.example.gov.in/cards/{card_no}")
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]


def test_a_name_that_resolves_inside_is_refused_when_called(
    client: TestClient, seeded: SeedReport, gateway: Gateway
) -> None:
    """Registered while loopback was allowed, called after it no longer is: the citizen gets
    the service's own error at once and the listener on loopback never sees a connection."""
    listener = Listener()
    try:
        with gateway.session() as session:
            food = tenancy.department_by_code(session, "FOOD")
            definition = parse_definition(SERVICE.format(url=f"http://localhost:{listener.port}/"))
            load_service(
                session, definition, department=food, urls=UrlPolicy.from_setting("127.0.0.1")
            )
        gateway.runtime.outbound.close()
        gateway.runtime.outbound = Outbound(UrlPolicy(), Bulkheads())
        reply = sms(client, "CARDCHK 1234567890", "+919811000403")
        assert reply == "The card office cannot be reached now."
        assert listener.accepted == 0
    finally:
        listener.close()
