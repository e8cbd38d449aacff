"""Departments load, read and retire service definitions over the API."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport
from tests.api.helpers import error_of, sms

YAML = "application/yaml"

PENSION = """\
# Old-age pension status, loaded over the department API.
seva: 1
service: pension-status
department: FOOD
title: {en: Pension status, hi: पेंशन की स्थिति}
keywords: [PENSION]
steps:
  - ask: ppo
    type: digits
    length: 6
    prompt: {en: Enter your 6-digit PPO number, hi: अपना 6 अंकों का PPO नंबर दर्ज करें}
  - end:
      en: "Pension {ppo}: credited on the 1st of every month."
      hi: "पेंशन {ppo}: हर महीने की 1 तारीख को जमा।"
"""


def key(seeded: SeedReport, code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.api_keys[code]}"}


def put(
    client: TestClient,
    seeded: SeedReport,
    slug: str,
    text: str,
    *,
    code: str = "FOOD",
    ctype: str = YAML,
) -> object:
    headers = key(seeded, code) | {"Content-Type": ctype}
    return client.put(f"/api/v1/dept/services/{slug}", content=text.encode(), headers=headers)


def response_code(response: object) -> str:
    code: str = response.json()["error"]["code"]  # type: ignore[attr-defined]
    return code


def test_a_service_loaded_over_the_api_answers_its_sms_keyword(
    client: TestClient, seeded: SeedReport
) -> None:
    assert "not a Seva keyword" in sms(client, "PENSION 123456", "+919811000401")
    created = put(client, seeded, "pension-status", PENSION)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["slug"] == "pension-status"
    assert body["keywords"] == ["PENSION"]
    assert body["revision"] == 1
    assert body["active"] is True

    assert sms(client, "PENSION 123456", "+919811000401") == (
        "Pension 123456: credited on the 1st of every month."
    )
    # The app sees it too.
    slugs = {s["slug"] for s in client.get("/api/v1/services").json()}
    assert "pension-status" in slugs

    updated = put(client, seeded, "pension-status", PENSION.replace("1st", "2nd"))
    assert updated.status_code == 200
    assert updated.json()["revision"] == 2
    assert sms(client, "PENSION 123456", "+919811000401").endswith("the 2nd of every month.")


def test_json_definitions_are_accepted_and_the_source_is_kept(
    client: TestClient, seeded: SeedReport
) -> None:
    definition = {
        "seva": 1,
        "service": "pension-status",
        "department": "FOOD",
        "title": {"en": "Pension status", "hi": "पेंशन की स्थिति"},
        "keywords": ["pension"],
        "steps": [{"end": {"en": "Call 1800-11-0001.", "hi": "1800-11-0001 पर कॉल करें।"}}],
    }
    text = json.dumps(definition, ensure_ascii=False)
    created = put(client, seeded, "pension-status", text, ctype="application/json")
    assert created.status_code == 201, created.text
    got = client.get("/api/v1/dept/services/pension-status", headers=key(seeded, "FOOD"))
    assert got.status_code == 200
    assert got.json()["source"] == text
    assert got.json()["definition"]["keywords"] == ["PENSION"]
    listed = client.get("/api/v1/dept/services", headers=key(seeded, "FOOD")).json()
    assert {s["slug"] for s in listed} == {
        "ration-card-status",
        "grain-entitlement",
        "pension-status",
    }


def test_definition_errors_name_each_line(client: TestClient, seeded: SeedReport) -> None:
    broken = PENSION.replace("type: digits", "type: fingerprint").replace(
        "length: 6", "length: six"
    )
    response = put(client, seeded, "pension-status", broken)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_definition"
    problems = {(p["path"], p["line"]) for p in error["problems"]}
    assert ("steps.0.type", 9) in problems
    assert ("steps.0.length", 10) in problems
    assert "line 9" in error["message"]

    not_yaml = put(client, seeded, "pension-status", "seva: 1\nsteps: [unclosed\n")
    assert not_yaml.status_code == 400
    (problem,) = not_yaml.json()["error"]["problems"]
    assert problem["line"] == 3
    assert "not valid YAML" in problem["message"]
    assert "not a Seva keyword" in sms(client, "PENSION", "+919811000402")


def test_a_keyword_held_by_another_department_is_a_conflict(
    client: TestClient, seeded: SeedReport
) -> None:
    grab = PENSION.replace("department: FOOD", "department: MCD").replace(
        "[PENSION]", "[PENSION, RATION]"
    )
    response = put(client, seeded, "pension-status", grab, code="MCD")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "keyword_taken"
    assert "RATION" in error["message"]
    assert sms(client, "RATION 1234567890", "+919811000403").startswith("Ration card 1234567890")


def test_a_service_loaded_over_the_api_answers_its_keyword_in_indian_scripts(
    client: TestClient, seeded: SeedReport
) -> None:
    local = PENSION.replace(
        "keywords: [PENSION]", "keywords: [PENSION]\nlocal_keywords: {hi: [पेंशन]}"
    )
    assert put(client, seeded, "pension-status", local).status_code == 201
    assert sms(client, "पेंशन 123456", "+919811000404") == "पेंशन 123456: हर महीने की 1 तारीख को जमा।"
    # Carried into Gurmukhi without being given.
    assert sms(client, "ਪੇਂਸ਼ਨ 123456", "+919811000404").startswith("Pension 123456: credited")
    # A word another department gives is a conflict, like a keyword.
    grab = PENSION.replace("department: FOOD", "department: MCD").replace(
        "keywords: [PENSION]", "keywords: [OLDAGE]\nlocal_keywords: {hi: [पेंशन]}"
    )
    response = put(client, seeded, "old-age", grab.replace("pension-status", "old-age"), code="MCD")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "keyword_taken" and error["field"] == "local_keywords"
    assert "पेंशन" in error["message"] and "FOOD/pension-status" in error["message"]


def test_slug_department_and_reserved_keywords_are_checked(
    client: TestClient, seeded: SeedReport
) -> None:
    mismatch = put(client, seeded, "other-slug", PENSION)
    assert mismatch.status_code == 400
    assert error_of(mismatch)["field"] == "service"

    foreign = put(client, seeded, "pension-status", PENSION, code="MCD")
    assert foreign.status_code == 403
    assert error_of(foreign)["code"] == "wrong_department"

    reserved = put(client, seeded, "pension-status", PENSION.replace("[PENSION]", "[HELP]"))
    assert reserved.status_code == 400
    assert error_of(reserved)["code"] == "reserved_keyword"


def test_deleting_a_service_takes_it_off_the_channels(
    client: TestClient, seeded: SeedReport
) -> None:
    assert put(client, seeded, "pension-status", PENSION).status_code == 201
    deleted = client.delete("/api/v1/dept/services/pension-status", headers=key(seeded, "FOOD"))
    assert deleted.status_code == 200
    assert deleted.json()["active"] is False
    assert "not a Seva keyword" in sms(client, "PENSION 123456", "+919811000404")
    assert "pension-status" not in {s["slug"] for s in client.get("/api/v1/services").json()}
    # Its keyword is free for another department now.
    moved = PENSION.replace("department: FOOD", "department: MCD")
    assert put(client, seeded, "pension-status", moved, code="MCD").status_code == 201
    # And loading it again brings it back.
    retired = client.delete("/api/v1/dept/services/pension-status", headers=key(seeded, "MCD"))
    assert retired.status_code == 200
    assert put(client, seeded, "pension-status", PENSION).status_code == 200


def test_wrong_content_type_and_oversize_definitions(
    client: TestClient, seeded: SeedReport
) -> None:
    form = put(client, seeded, "pension-status", PENSION, ctype="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert error_of(form)["code"] == "unsupported_media_type"

    huge = PENSION + "# " + "x" * (512 * 1024) + "\n"
    too_big = put(client, seeded, "pension-status", huge)
    assert too_big.status_code == 413
    assert error_of(too_big)["code"] == "too_large"

    empty = put(client, seeded, "pension-status", "")
    assert empty.status_code == 400
    assert response_code(empty) == "invalid_definition"
    binary = client.put(
        "/api/v1/dept/services/pension-status",
        content=b"seva: 1\n\xff\xfe",
        headers=key(seeded, "FOOD") | {"Content-Type": YAML},
    )
    assert binary.status_code == 400
    assert "line 2" in error_of(binary)["message"]
