"""The operator routes answer their operator only: a shared secret and/or an address allow-list
per operator (and Twilio's signature for TwiML), refusing everyone when nothing is set.

The shared test settings allow loopback, where TestClient's requests come from
(``tests.conftest.LOCAL_CLIENT``); here requests come from elsewhere too.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from structlog.testing import capture_logs

from seva import errors
from seva.app import create_app
from seva.channels.operators import ROUTES, operator_only, twilio_signature
from seva.demo.seed import DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from seva.settings import Settings

STRANGER = ("203.0.113.9", 40000)
"""An address no test setting allows."""
NOTHING_SET = {f"{name}_{kind}": value for name in ("kannel", "africastalking", "twiml", "exotel")
               for kind, value in (("allow", ""), ("secret", None))}  # fmt: skip
SECRET = "op-secret-6f1c2a"
DOCS = {"from": DEMO_CITIZEN.removeprefix("+91"), "to": "166", "text": "DOCS"}
USSD = {"sessionId": "op-1", "serviceCode": "*166#", "phoneNumber": DEMO_CITIZEN, "text": ""}
TWIML = {"CallSid": "CA-op", "From": DEMO_CITIZEN}
EXOTEL = {"CallSid": "ex-op", "CallFrom": "09900000001"}


def client_for(settings: Settings, gateway: Gateway, address: tuple[str, int]) -> TestClient:
    """A client at ``address`` of an app whose gateway has these settings."""
    gateway.settings = settings
    return TestClient(create_app(settings, gateway=gateway), client=address)


@pytest.fixture
def stranger(settings: Settings, gateway: Gateway) -> Iterator[TestClient]:
    with client_for(settings, gateway, STRANGER) as client:
        yield client


def channel_requests(app: FastAPI) -> list[tuple[str, str]]:
    """Every method and path (path parameters filled in) the app serves under /channels/."""
    found = []
    for route in iter_route_contexts(app.routes):
        if route.path and route.path.startswith("/channels/"):
            path = re.sub(r"\{[^}]+\}", "x.wav", route.path)
            found += [(method, path) for method in sorted(route.methods or ())]
    return found


def test_every_channel_route_refuses_a_stranger(stranger: TestClient, seeded: SeedReport) -> None:
    requests = channel_requests(stranger.app)  # type: ignore[arg-type]
    assert {path for _, path in requests} >= {
        "/channels/sms/kannel", "/channels/ussd/africastalking", "/channels/voice/twiml",
        "/channels/voice/exotel", "/channels/voice/audio/x.wav",
    }  # fmt: skip
    for method, path in requests:
        for params, data in (({}, {}), (DOCS, {}), ({}, USSD | TWIML)):
            response = stranger.request(method, path, params=params, data=data or None)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "forbidden"


def test_the_attack_on_a_citizens_documents_is_refused(
    stranger: TestClient, seeded: SeedReport
) -> None:
    refused = stranger.get("/channels/sms/kannel", params=DOCS)
    assert refused.status_code == 403 and "DOCS" not in refused.text


def test_with_nothing_set_every_operator_route_refuses_even_loopback(
    settings: Settings, gateway: Gateway, seeded: SeedReport
) -> None:
    bare = settings.model_copy(update=NOTHING_SET)
    with client_for(bare, gateway, ("127.0.0.1", 40000)) as client, capture_logs() as logs:
        assert client.get("/channels/sms/kannel", params=DOCS).status_code == 403
        assert client.post("/channels/ussd/africastalking", data=USSD).status_code == 403
        assert client.post("/channels/voice/twiml", data=TWIML).status_code == 403
        assert client.get("/channels/voice/exotel", params=EXOTEL).status_code == 403
    reasons = [entry["reason"] for entry in logs if entry["event"] == "operator.refused"]
    assert any("SEVA_KANNEL_SECRET and/or SEVA_KANNEL_ALLOW" in r for r in reasons)
    assert any("SEVA_AFRICASTALKING_SECRET" in r for r in reasons)
    assert any("SEVA_TWIML_SECRET" in r and "SEVA_TWILIO_AUTH_TOKEN" in r for r in reasons)
    assert any("SEVA_EXOTEL_SECRET and/or SEVA_EXOTEL_ALLOW" in r for r in reasons)


@pytest.mark.parametrize("operator", ["kannel", "africastalking", "twiml", "exotel"])
def test_a_shared_secret_lets_the_operator_in_from_anywhere(
    operator: str, settings: Settings, gateway: Gateway, seeded: SeedReport
) -> None:
    configured = settings.model_copy(update=NOTHING_SET | {f"{operator}_secret": SecretStr(SECRET)})

    def call(client: TestClient, secret: str | None = None, **extra: Any) -> int:
        query = {} if secret is None else {"secret": secret}
        if operator == "kannel":
            return client.get("/channels/sms/kannel", params=DOCS | query, **extra).status_code
        if operator == "exotel":
            return client.get("/channels/voice/exotel", params=EXOTEL | query, **extra).status_code
        path = (
            "/channels/ussd/africastalking"
            if operator == "africastalking"
            else "/channels/voice/twiml"
        )
        form = USSD if operator == "africastalking" else TWIML
        return client.post(path, params=query, data=form, **extra).status_code  # fmt: skip

    basic = base64.b64encode(f"seva:{SECRET}".encode()).decode()
    with client_for(configured, gateway, STRANGER) as client:
        assert call(client, SECRET) == 200  # ?secret= in the URL the operator is given
        assert call(client, headers={"X-Seva-Secret": SECRET}) == 200
        assert call(client, headers={"Authorization": f"Basic {basic}"}) == 200
        assert call(client) == 403
        assert call(client, SECRET[:-1]) == 403
        assert call(client, SECRET + "x") == 403
        # Not base64, or not ASCII: a refusal like any wrong secret, never a 500.
        assert call(client, headers={"Authorization": "Basic %%%"}) == 403
        assert (
            call(client, headers={"Authorization": "Basic \u00e9\u00e9".encode("latin-1")}) == 403
        )


def test_secret_and_addresses_together_must_both_be_met(
    settings: Settings, gateway: Gateway, seeded: SeedReport
) -> None:
    both = settings.model_copy(
        update={"kannel_secret": SecretStr(SECRET), "kannel_allow": "10.20.0.0/24"}
    )
    kannel = "/channels/sms/kannel"
    with client_for(both, gateway, ("10.20.0.5", 40000)) as inside:
        assert inside.get(kannel, params=DOCS | {"secret": SECRET}).status_code == 200
        assert inside.get(kannel, params=DOCS).status_code == 403
    with client_for(both, gateway, STRANGER) as outside:
        assert outside.get(kannel, params=DOCS | {"secret": SECRET}).status_code == 403


def test_twiml_signed_and_from_an_allowed_address(
    settings: Settings, gateway: Gateway, seeded: SeedReport
) -> None:
    token = "twilio-token-77"
    signed = settings.model_copy(
        update={"twilio_auth_token": SecretStr(token), "twiml_allow": "54.172.60.0/30"}
    )
    url = signed.base_url.rstrip("/") + "/channels/voice/twiml"
    good = {"X-Twilio-Signature": twilio_signature(token, url, list(TWIML.items()))}
    with client_for(signed, gateway, ("54.172.60.1", 40000)) as twilio:
        assert twilio.post("/channels/voice/twiml", data=TWIML, headers=good).status_code == 200
        assert twilio.post("/channels/voice/twiml", data=TWIML).status_code == 403
    with client_for(signed, gateway, STRANGER) as stranger:
        refused = stranger.post("/channels/voice/twiml", data=TWIML, headers=good)
        assert refused.status_code == 403


def test_prompt_audio_needs_the_link_seva_signed(stranger: TestClient) -> None:
    name = "0" * 64 + ".wav"
    assert stranger.get(f"/channels/voice/audio/{name}").status_code == 403
    assert (
        stranger.get(f"/channels/voice/audio/{name}", params={"sig": "forged"}).status_code == 403
    )


def test_a_channel_route_nobody_guarded_is_refused(gateway: Gateway) -> None:
    """A new route on a channel router, not yet given an operator in ROUTES."""
    router = APIRouter(prefix="/channels", dependencies=[Depends(operator_only)])

    @router.get("/sms/newly-added")
    def newly_added() -> dict[str, str]:
        return {"citizen": "data"}

    app = FastAPI()
    errors.install(app)
    app.state.gateway = gateway
    app.include_router(router)
    assert "/channels/sms/newly-added" not in ROUTES
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        assert client.get("/channels/sms/newly-added").status_code == 403


def test_allow_lists_are_checked_at_start_up(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="not an IP address or CIDR network"):
        Settings(**settings.model_dump() | {"kannel_allow": "kannel.example.net"})
    assert Settings(**settings.model_dump() | {"exotel_allow": "10.0.0.5, 10.1.0.0/16 ::1"})


def test_a_twiml_call_keeps_its_secret_from_step_to_step(
    settings: Settings, gateway: Gateway, seeded: SeedReport
) -> None:
    """The next step goes to the action the document names: it must carry the secret too."""
    configured = settings.model_copy(update=NOTHING_SET | {"twiml_secret": SecretStr(SECRET)})
    with client_for(configured, gateway, STRANGER) as provider:
        first = provider.post("/channels/voice/twiml", params={"secret": SECRET}, data=TWIML)
        action = ET.fromstring(first.text).find("Gather").get("action")  # type: ignore[union-attr]
        assert action == f"/channels/voice/twiml?secret={SECRET}"
        second = provider.post(action, data=TWIML | {"Digits": "2"})
        assert second.status_code == 200 and second.text != first.text
        assert f"?secret={SECRET}" in second.text
