"""An address nothing answers: a browser gets the site's page saying so, in the language it
reads the site in; API clients and operators' callbacks keep the error bodies they parse."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "There is no page at this address"), ("hi", "इस पते पर कोई पृष्ठ नहीं है")],
)
def test_a_browser_gets_the_sites_not_found_page(client: TestClient, lang: str, words: str) -> None:
    page = client.get(f"/nope?lang={lang}", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert words in page.text
    assert 'href="/"' in page.text
    assert f'<html lang="{lang}" dir="ltr">' in page.text


def test_the_language_a_browser_chose_carries_to_the_not_found_page(client: TestClient) -> None:
    client.cookies.set("seva_lang", "hi")
    page = client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404 and "इस पते पर कोई पृष्ठ नहीं है" in page.text


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/api/v1/nope", HTML["Accept"]),
        ("/channels/sms/nope", HTML["Accept"]),
        ("/api/v1/nope", "application/json"),
    ],
)
def test_api_clients_keep_the_json_error(client: TestClient, path: str, accept: str) -> None:
    answer = client.get(path, headers={"Accept": accept})
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "not_found", "message": "Not Found", "field": None}}


def test_a_client_that_does_not_ask_for_html_keeps_the_plain_answer(client: TestClient) -> None:
    answer = client.get("/nope", headers={"Accept": "*/*"})
    assert answer.status_code == 404 and answer.text == "Not Found"
