"""The header's menu: citizens' links and staff links in two groups, and an official is never
offered a citizen's login."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from tests.console.pages import login as official_login
from tests.web.test_citizen import log_in as citizen_log_in

# Page chrome is the same on every database.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class _Menu(HTMLParser):
    """The header menu's groups, each as its heading and the words of its links and buttons
    (a link as ``words -> href``)."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[str, list[str]] = {}
        self.summary = ""
        self._in_menu = False
        self._group: list[str] | None = None
        self._heading: str | None = None
        self._text: list[str] | None = None
        self._href = ""
        self._where = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "details" and found.get("id") == "menu":
            self._in_menu = True
        elif not self._in_menu:
            return
        elif tag == "summary":
            self._where, self._text = "summary", []
        elif tag == "nav":
            self._group = []
        elif tag == "p" and found.get("class") == "menu-head":
            self._where, self._text = "heading", []
        elif tag in ("a", "button") and self._group is not None:
            self._where, self._text, self._href = tag, [], found.get("href") or ""

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if not self._in_menu or (self._text is None and tag not in ("nav", "details")):
            return
        words = " ".join("".join(self._text or []).split())
        if tag == "summary" and self._where == "summary":
            self.summary, self._text = words, None
        elif tag == "p" and self._where == "heading":
            self._heading, self._text = words, None
        elif tag == "a" and self._where == "a" and self._group is not None:
            self._group.append(f"{words} -> {self._href}")
            self._text = None
        elif tag == "button" and self._where == "button" and self._group is not None:
            self._group.append(words)
            self._text = None
        elif tag == "nav" and self._group is not None and self._heading is not None:
            self.groups[self._heading] = self._group
            self._group = self._heading = None
        elif tag == "details":
            self._in_menu = False


def menu(page: str) -> _Menu:
    parsed = _Menu()
    parsed.feed(page)
    return parsed


CITIZENS, STAFF = "For citizens", "For officials and CSC operators"


def test_a_visitor_sees_citizens_links_apart_from_staff_links(
    client: TestClient, seeded: SeedReport
) -> None:
    found = menu(client.get("/").text)
    assert found.summary == "Menu"
    assert found.groups == {
        CITIZENS: [
            "Services -> /",
            "Talk to an official -> /call",
            "Live status -> /status",
            "Citizen login -> /citizen/login",
        ],
        STAFF: ["Officials' console -> /console", "CSC kiosk -> /kiosk"],
    }

    hindi = menu(client.get("/?lang=hi").text)
    assert hindi.summary == "मेन्यू"
    assert list(hindi.groups) == ["नागरिकों के लिए", "अधिकारियों और CSC संचालकों के लिए"]
    assert "नागरिक लॉग इन -> /citizen/login" in hindi.groups["नागरिकों के लिए"]


def test_a_logged_in_citizen_gets_their_pages_instead_of_the_login(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    citizen_log_in(client, gateway, "+919811000621")
    found = menu(client.get("/call").text)
    assert found.groups[CITIZENS][-2:] == ["My Seva -> /me", "My documents -> /me/locker"]
    assert not any("/citizen/login" in link for link in found.groups[CITIZENS])
    assert found.groups[STAFF] == ["Officials' console -> /console", "CSC kiosk -> /kiosk"]


@pytest.mark.parametrize("path", ["/console", "/console/calls", "/status", "/", "/call"])
def test_an_official_is_not_offered_a_citizens_login(
    client: TestClient, seeded: SeedReport, path: str
) -> None:
    official_login(client, "food.admin")
    page = client.get(path)
    assert page.status_code == 200
    found = menu(page.text)
    assert 'href="/citizen/login"' not in page.text
    assert not any("/citizen/login" in link for link in found.groups[CITIZENS])
    staff = found.groups[STAFF]
    assert staff[:2] == ["Officials' console -> /console", "CSC kiosk -> /kiosk"]
    assert staff[-1].startswith("Log out")
    if path.startswith("/console") or path == "/status":  # pages that look the login up
        assert staff[2:] == [
            "Calls -> /console/calls",
            "SMS -> /console/sms",
            "Administration -> /admin",
            "Log out (food.admin)",
        ]


def test_a_csc_operator_gets_neither_officers_pages_nor_administration(
    client: TestClient, seeded: SeedReport
) -> None:
    official_login(client, "csc.laxminagar")
    found = menu(client.get("/kiosk").text)
    assert found.groups[STAFF] == [
        "Officials' console -> /console",
        "CSC kiosk -> /kiosk",
        "Log out (csc.laxminagar)",
    ]
    assert "Citizen login -> /citizen/login" not in found.groups[CITIZENS]
