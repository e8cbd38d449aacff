"""The call page speaks its reader's language: the words its scripts write (statuses, the
record and file messages, the buttons they make) come from the message catalog, handed over
in the page's configuration; the officials' console writes its queue in theirs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seva import i18n
from seva.citizens import service as citizens
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.i18n import tool
from seva.rtc import service as rtc
from seva.rtc.router import CALL_PAGE_WORDS
from seva.tenancy import service as tenancy
from tests.rtc.test_meetings import create_meeting, official, page_config
from tests.web.test_citizen import log_in

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

STATIC = Path(i18n.__file__).resolve().parents[1] / "web" / "static" / "rtc"
CALL_SCRIPTS = ("call.js", "sfu.js")
_KEY = re.compile(r"""["'](room_[a-z0-9_]+)["']""")


def keys_the_scripts_ask_for() -> dict[str, str]:
    asked: dict[str, str] = {}
    for name in CALL_SCRIPTS:
        for key in _KEY.findall((STATIC / name).read_text(encoding="utf-8")):
            asked.setdefault(key, name)
    return asked


def test_every_key_the_call_scripts_ask_for_is_handed_over_and_in_the_catalog() -> None:
    asked = keys_the_scripts_ask_for()
    assert len(asked) > 40
    # A key the page does not hand over would show up in front of the reader as the key.
    assert sorted(set(asked) - set(CALL_PAGE_WORDS)) == []
    # And the page carries nothing the scripts never write.
    assert sorted(set(CALL_PAGE_WORDS) - set(asked)) == []
    for lang in ("en", "hi"):
        missing = [key for key in CALL_PAGE_WORDS if not i18n.messages(lang).get(key)]
        assert missing == [], lang


@SQLITE
def test_the_call_page_hands_its_script_the_readers_words_with_placeholders_to_fill(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    host = official(client, "food.admin")
    room = create_meeting(host)

    hindi = page_config(host.get(f"/meet/{room}?lang=hi").text)["words"]
    assert set(hindi) == set(CALL_PAGE_WORDS)
    assert hindi["room_waiting_other"] == i18n.messages("hi")["room_waiting_other"]
    assert hindi["room_record_stop"] == "रिकॉर्डिंग रोकें"
    # The script fills the placeholders: they arrive as the catalog has them.
    assert hindi["room_admit"] == "{name} को अंदर आने दें"
    for key, found in hindi.items():
        assert tool.placeholders(found) == tool.placeholders(i18n.messages("en")[key]), key

    # The language stays with the browser (the cookie ?lang= set); English when asked.
    assert page_config(host.get(f"/meet/{room}").text)["words"] == hindi
    english = page_config(host.get(f"/meet/{room}?lang=en").text)["words"]
    assert english["room_waiting_other"] == "Waiting for the other side to join…"
    assert english["room_file_too_big"] == "Files are limited to {mb} MB."


@SQLITE
def test_the_console_writes_the_queue_in_the_officials_language(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    log_in(client, gateway, "+919811000531")
    with gateway.session() as session:
        department = tenancy.department_by_code(session, "FOOD")
        citizen = citizens.find(session, "+919811000531")
        assert department is not None and citizen is not None
        rtc.join_queue(session, department, citizen, now=datetime.now(UTC))

    officer = official(client, "food.admin")
    page = officer.get("/console/calls?lang=hi")
    assert "प्रतीक्षा में" in page.text and " सेकंड<" in page.text
    [row] = officer.get("/console/calls/offer.json").json()["queue"]
    assert row["status"] == "waiting" and row["status_text"] == "प्रतीक्षा में"
    assert row["waited_text"] == f"{row['waited']} सेकंड"

    english = officer.get("/console/calls/offer.json?lang=en").json()["queue"][0]
    assert english["status_text"] == "Waiting" and english["waited_text"].endswith(" s")
