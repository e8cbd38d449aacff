"""The phone simulator: SMS and USSD through the operators' code paths, and the inbox."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seva.app import create_app
from seva.demo.seed import DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway, build_gateway
from seva.settings import Settings
from tests.web.pages import csrf_of

RATION_ANSWER = (
    "Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
)


def thread(page: str) -> list[str]:
    found = re.findall(
        r'<li class="bubble (?:in|out)">.*?<span class="text">(.*?)</span>', page, re.S
    )
    return [html.unescape(text) for text in found]


def ussd_screen(page: str) -> str:
    match = re.search(r'id="ussd-screen"[^>]*>(.*?)</div>', page, re.S)
    assert match
    return html.unescape(match.group(1))


def test_sms_round_trip_without_javascript(client: TestClient, seeded: SeedReport) -> None:
    page = client.get("/sim")
    assert page.status_code == 200
    assert f'value="{DEMO_CITIZEN}"' in page.text
    csrf = csrf_of(client, "/sim")
    sent = client.post(
        "/sim/sms", data={"csrf": csrf, "text": "RATION 1234567890"}, follow_redirects=False
    )
    assert sent.status_code == 303
    assert thread(client.get(sent.headers["location"]).text) == ["RATION 1234567890", RATION_ANSWER]


def test_sms_with_javascript_gets_json_and_conversations_continue(
    client: TestClient, seeded: SeedReport
) -> None:
    csrf = csrf_of(client, "/sim")
    headers = {"Accept": "application/json"}
    first = client.post("/sim/sms", data={"csrf": csrf, "text": "MANDI"}, headers=headers).json()
    assert first["sent"]["text"] == "MANDI" and first["sent"]["dir"] == "out"
    assert first["reply"]["text"].startswith("Choose the crop\n1. Wheat")
    second = client.post("/sim/sms", data={"csrf": csrf, "text": "1"}, headers=headers).json()
    assert second["reply"]["text"].startswith("Wheat at Azadpur (Delhi)")


def test_ussd_menus_to_an_answer(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/sim")
    client.post("/sim/dial", data={"csrf": csrf, "code": "*166#"})
    page = client.get("/sim").text
    assert ussd_screen(page).startswith("Seva *166#\n1. Transport Department\n2. Food")
    client.post("/sim/ussd", data={"csrf": csrf, "value": "2"})
    client.post("/sim/ussd", data={"csrf": csrf, "value": "1"})
    assert ussd_screen(client.get("/sim").text) == "Enter your ration card number"
    last = client.post(
        "/sim/ussd",
        data={"csrf": csrf, "value": "1234567890"},
        headers={"Accept": "application/json"},
    )
    assert last.json() == {"screen": RATION_ANSWER, "end": True}
    page = client.get("/sim").text
    assert 'class="ussd-screen ended"' in page
    assert 'id="ussd-form" hidden' in page  # nothing to answer on a closed session
    closed = client.post(
        "/sim/ussd", data={"csrf": csrf, "value": "1"}, headers={"Accept": "application/json"}
    )
    assert closed.json() == {"screen": "Session ended.", "end": True}


def test_dialling_a_shortcut_and_a_wrong_code(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/sim")
    json = {"Accept": "application/json"}
    shortcut = client.post("/sim/dial", data={"csrf": csrf, "code": "*166*2*1#"}, headers=json)
    assert shortcut.json() == {"screen": "Enter your ration card number", "end": False}
    wrong = client.post("/sim/dial", data={"csrf": csrf, "code": "*99#"}, headers=json)
    assert wrong.json() == {"screen": "Connection problem or invalid MMI code.", "end": True}


def test_inbox_shows_what_seva_queued_to_the_number(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    page = client.get("/sim").text
    assert "Application TEST-0001: Approved. Card ready for collection at FPS 112" in page
    last_id = int(re.search(r'data-last-id="(\d+)"', page).group(1))  # type: ignore[union-attr]
    polled = client.get(f"/sim/inbox?after={last_id}", headers={"Accept": "application/json"})
    assert polled.json() == {"phone": DEMO_CITIZEN, "messages": []}
    # The citizen asks the portal for a login code: it arrives in the simulator's inbox.
    csrf = csrf_of(client, "/citizen/login")
    client.post("/citizen/login", data={"csrf": csrf, "phone": DEMO_CITIZEN})
    polled = client.get(f"/sim/inbox?after={last_id}", headers={"Accept": "application/json"})
    (message,) = polled.json()["messages"]
    assert message["kind"] == "otp" and message["text"].startswith("Seva OTP ")
    assert re.search(r"Seva OTP \d{6}\.", client.get("/sim").text)


def test_changing_the_number_starts_a_new_thread(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/sim")
    client.post("/sim/sms", data={"csrf": csrf, "text": "HELP"})
    client.post("/sim/number", data={"csrf": csrf, "phone": "98110 00401"})
    page = client.get("/sim").text
    assert 'value="+919811000401"' in page and thread(page) == []
    assert "Application TEST-0001" not in page  # another phone's inbox
    bad = client.post("/sim/number", data={"csrf": csrf, "phone": "not a number"})
    assert bad.status_code == 400


def test_thread_is_bounded_and_escaped(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/sim")
    client.post("/sim/sms", data={"csrf": csrf, "text": "<b>bold</b> <script>x()</script>"})
    page = client.get("/sim").text
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; &lt;script&gt;" in page
    for i in range(20):
        client.post("/sim/sms", data={"csrf": csrf, "text": f"HELLO{i}"})
    messages = thread(client.get("/sim").text)
    assert len(messages) == 30
    assert messages[-2] == "HELLO19" and "HELLO4" not in messages


def test_posts_need_the_form_token(client: TestClient, seeded: SeedReport) -> None:
    client.get("/sim")
    refused = client.post(
        "/sim/sms", data={"text": "RATION 1234567890"}, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "csrf"
    assert thread(client.get("/sim").text) == []


@pytest.fixture
def production_client(settings: Settings, sqlite_url: str) -> Iterator[TestClient]:
    production = settings.model_copy(update={"env": "production"})
    gateway = build_gateway(production, database_url=sqlite_url)
    with TestClient(create_app(production, gateway=gateway)) as test_client:
        yield test_client
    gateway.close()


def test_off_in_production(production_client: TestClient) -> None:
    """Anyone could read any number's login codes: the simulator is a demo tool only."""
    assert production_client.get("/sim").status_code == 404
    assert (
        production_client.get("/sim/inbox", headers={"Accept": "application/json"}).status_code
        == 404
    )
    assert production_client.post("/sim/sms", data={"text": "HELP"}).status_code == 404


def test_a_call_from_the_simulator_walks_the_phone_menu_with_audio(
    client: TestClient, seeded: SeedReport
) -> None:
    import shutil

    csrf = csrf_of(client, "/sim")
    client.post("/sim/number", data={"csrf": csrf, "phone": "9811500001"})  # a new caller
    json = {"Accept": "application/json"}
    first = client.post("/sim/call", data={"csrf": csrf, "start": "1"}, headers=json).json()
    assert first["text"].startswith("Hindi ke liye 1 dabaiye") and first["num_digits"] == 1
    steps = [("2", "Welcome to Seva."), ("2", "Food & Civil Supplies."),
             ("1", "Enter your ration card number.")]  # fmt: skip
    for keys, heard in steps:
        prompt = client.post("/sim/call", data={"csrf": csrf, "keys": keys}, headers=json).json()
        assert prompt["text"].startswith(heard), prompt
    answer = client.post("/sim/call", data={"csrf": csrf, "keys": "1234567890#"}, headers=json)
    final = answer.json()
    assert final["end"] is True and final["text"].startswith("Ration card 1234567890")
    if shutil.which("espeak-ng"):
        audio = client.get(final["audio"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        assert audio.content.startswith(b"RIFF")
    assert client.get("/sim/call/audio/not-a-key.wav").status_code == 404
    # Without JavaScript the page shows the prompt.
    page = client.get("/sim").text
    assert "Ration card 1234567890" in page
    # Calling again starts over.
    again = client.post("/sim/call", data={"csrf": csrf, "start": "1"}, headers=json).json()
    assert again["text"].startswith("Welcome to Seva.")  # the language is remembered
