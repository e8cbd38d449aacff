"""The officials' SMS console: messages and their delivery status, and DLT registrations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from seva.demo.seed import DEMO_PASSWORD, SeedReport
from seva.gateway import Gateway
from seva.messaging import dlt
from seva.messaging import service as messaging
from seva.messaging.models import DltHeader, DltTemplate, SmsAccount, SmsBatch
from seva.messaging.service import Receipt, Send, Submitted
from seva.tenancy import service as tenancy
from seva.tenancy.models import AuditEvent, Role
from tests.console.pages import csrf_of, login

NOW = 1_700_000_000.0
"""Before any message the demo seed queues, so ``claim(now=NOW)`` takes only this test's."""
LIST = "/console/sms"
DLT = "/console/sms/dlt"
FOOD_TEMPLATE = "Your ration card {#var#} is ready at {#var#}. -Food Dept"


def department_id(gateway: Gateway, code: str) -> int:
    with gateway.session() as session:
        department = tenancy.department_by_code(session, code)
        assert department is not None
        return department.id


def queue(
    gateway: Gateway,
    code: str,
    to: list[str],
    text: str,
    *,
    kind: str = "transactional",
    source: str = "system",
) -> list[int]:
    """Queue a message the way Seva's own notifications do (no DLT check), return its ids."""
    with gateway.session() as session:
        department = tenancy.department_by_code(session, code)
        assert department is not None
        accepted = messaging.send(
            session,
            Send(
                to=to,
                text=text,
                kind=kind,
                department_id=department.id,
                department_code=code,
                source=source,
            ),
            now=NOW,
        )
    return accepted.message_ids


def batch_of(gateway: Gateway, message_id: int) -> int:
    with gateway.session() as session:
        view = messaging.message(session, message_id)
    assert view is not None
    return view.batch_id


def add_officer(gateway: Gateway, code: str, username: str) -> None:
    with gateway.session() as session:
        tenancy.create_official(
            session,
            username=username,
            name=f"Officer of {code}",
            role=Role.OFFICER,
            password=DEMO_PASSWORD,
            department=tenancy.department_by_code(session, code),
        )


def listed(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'<a href="/console/sms/(\d+)">', html)]


def counts(html: str) -> dict[str, tuple[int, int]]:
    """Status → (today, all time), read from the counts table."""
    found = re.findall(
        r'<tr data-status="(\w+)">.*?data-today="(\d+)".*?data-overall="(\d+)"', html, re.S
    )
    return {status: (int(today), int(overall)) for status, today, overall in found}


def row_of(html: str, message_id: int) -> str:
    start = html.index(f'<tr id="m{message_id}">')
    return html[start : html.index("</tr>", start)]


# -- messages -----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client: TestClient, seeded: SeedReport) -> None:
    for path in (LIST, f"{LIST}/1", DLT):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
    response = client.post(f"{DLT}/headers", data={"header": "FOODCS"}, follow_redirects=False)
    assert response.status_code == 303


def test_an_officer_sees_only_their_departments_messages(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    add_officer(gateway, "FOOD", "food.officer")
    login(client, "food.officer")
    before = counts(client.get(LIST).text)
    (food,) = queue(gateway, "FOOD", ["+919810000001"], "Your ration card is ready.")
    (mcd,) = queue(gateway, "MCD", ["+919810000002"], "Property tax receipt 2291 issued.")

    page = client.get(LIST)
    assert page.status_code == 200
    assert food in listed(page.text) and mcd not in listed(page.text)
    assert "Property tax receipt" not in page.text
    row = row_of(page.text, food)
    assert "+919810000001" in row and "SEVA" in row and "Transactional" in row
    assert "Your ration card is ready." in row
    assert counts(page.text)["queued"][1] == before["queued"][1] + 1

    detail = client.get(f"{LIST}/{food}")
    assert detail.status_code == 200
    assert "Your ration card is ready." in detail.text
    missing = client.get(f"{LIST}/{mcd}")
    assert missing.status_code == 404
    assert "There is no message with this number in your department." in missing.text
    assert "Property tax receipt" not in missing.text
    assert client.get(f"{LIST}/{mcd + 1000}").text == missing.text
    assert client.get(f"{LIST}/abc").status_code == 404

    client.post("/logout", data={"csrf": csrf_of(page.text)})
    login(client, "mcd.officer")
    other = client.get(LIST).text
    assert mcd in listed(other) and food not in listed(other)
    assert client.get(f"{LIST}/{food}").status_code == 404


def test_gateway_admin_sees_every_department_or_one(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    (food,) = queue(gateway, "FOOD", ["+919810000001"], "Card ready.")
    (mcd,) = queue(gateway, "MCD", ["+919810000002"], "Tax paid.")
    login(client, "admin")
    every = client.get(LIST).text
    assert {food, mcd} <= set(listed(every))
    assert "<td>MCD</td>" in row_of(every, mcd) and "<td>FOOD</td>" in row_of(every, food)
    narrowed = client.get(LIST, params={"dept": "mcd"}).text
    assert mcd in listed(narrowed) and food not in listed(narrowed)
    assert client.get(f"{LIST}/{food}").status_code == 200
    assert client.get(f"{LIST}/{mcd}").status_code == 200


def test_csc_operators_have_no_sms_console(client: TestClient, seeded: SeedReport) -> None:
    login(client, "csc.laxminagar")
    assert client.get(LIST).status_code == 403
    assert client.get(DLT).status_code == 403


def test_filters_by_status_phone_and_batch(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    first = queue(gateway, "FOOD", ["+919810000001", "+919810000002"], "Camp on Sunday.")
    (other,) = queue(gateway, "FOOD", ["+919810000003"], "Card ready.")
    batch_id = batch_of(gateway, first[0])
    with gateway.session() as session:
        messaging.claim(session, limit=1, now=NOW)  # the lowest id: first[0]
    login(client, "food.admin")

    sending = client.get(LIST, params={"status": "sending"}).text
    assert listed(sending) == [first[0]]
    queued = listed(client.get(LIST, params={"status": "queued"}).text)
    assert first[1] in queued and other in queued and first[0] not in queued

    # Written as citizens and department lists write numbers: normalised to E.164.
    for written in ("09810000003", "98100 00003", "+91 98100-00003"):
        page = client.get(LIST, params={"phone": written}).text
        assert listed(page) == [other], written
        assert 'value="+919810000003"' in page

    bad = client.get(LIST, params={"phone": "not a number"}).text
    assert listed(bad) == []
    assert "Enter a mobile number" in bad

    assert sorted(listed(client.get(LIST, params={"batch": str(batch_id)}).text)) == first
    assert "A batch number is digits only." in client.get(LIST, params={"batch": "12a"}).text
    both = client.get(LIST, params={"batch": str(batch_id), "status": "queued"}).text
    assert listed(both) == [first[1]]


def test_list_is_paged_25_at_a_time(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    ids = queue(gateway, "FOOD", [f"+9198200{n:05d}" for n in range(30)], "Camp on Sunday.")
    batch_id = batch_of(gateway, ids[0])
    login(client, "food.admin")
    first = client.get(LIST, params={"batch": str(batch_id)}).text
    second = client.get(LIST, params={"batch": str(batch_id), "page": "2"}).text
    assert listed(first) == sorted(ids, reverse=True)[:25]
    assert listed(second) == sorted(ids, reverse=True)[25:]
    assert "Showing 1–25 of 30" in first and "Showing 26–30 of 30" in second
    assert f'href="/console/sms?batch={batch_id}&amp;page=2" rel="next"' in first
    assert client.get(LIST, params={"page": "abc"}).status_code == 200


def test_counts_today_and_all_time(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    before = counts(client.get(LIST).text)
    queue(gateway, "FOOD", ["+919810000001", "+919810000002"], "Camp on Sunday.")
    (old,) = queue(gateway, "FOOD", ["+919810000003"], "Last week's notice.")
    batch_id = batch_of(gateway, old)
    with gateway.session() as session:
        session.execute(
            update(SmsBatch)
            .where(SmsBatch.id == batch_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=3))
        )
    queue(gateway, "MCD", ["+919810000004"], "Not FOOD's.")
    after = counts(client.get(LIST).text)
    assert after["queued"] == (before["queued"][0] + 2, before["queued"][1] + 3)
    assert after["delivered"] == before["delivered"]


def test_delivery_receipts_update_the_status_officials_see(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    text = "नमस्ते " * 30  # four UCS-2 parts
    (mid,) = queue(gateway, "FOOD", ["+919810000001"], text)
    (lost,) = queue(gateway, "FOOD", ["+919810000002"], "Card ready.")
    login(client, "food.admin")
    before = counts(client.get(LIST).text)

    def badge(message_id: int) -> str:
        found = re.search(r'class="badge sms-(\w+)"', row_of(client.get(LIST).text, message_id))
        assert found
        return found.group(1)

    assert badge(mid) == "queued"
    assert "not submitted to an operator yet." in client.get(f"{LIST}/{mid}").text.lower()
    with gateway.session() as session:
        assert {c.id for c in messaging.claim(session, limit=10, now=NOW)} == {mid, lost}
    assert badge(mid) == "sending"
    with gateway.session() as session:
        messaging.record_submitted(
            session,
            [
                Submitted(mid, "sim", ["a1", "a2", "a3", "a4"]),
                Submitted(lost, "sim", ["b1"]),
            ],
            now=NOW + 1,
        )
    assert badge(mid) == "submitted"
    with gateway.session() as session:
        receipts = [Receipt("sim", f"a{n}", "DELIVRD") for n in (1, 2, 3, 4)]
        receipts.append(Receipt("sim", "b1", "UNDELIV", "001"))
        assert messaging.apply_receipts(session, receipts, now=NOW + 5) == []

    page = client.get(LIST).text
    assert badge(mid) == "delivered"
    assert '<span class="badge sms-delivered">Delivered</span>' in row_of(page, mid)
    assert "UNDELIV (err 001)" in row_of(page, lost) and badge(lost) == "failed"
    after = counts(page)
    assert after["delivered"][1] == before["delivered"][1] + 1
    assert after["failed"][1] == before["failed"][1] + 1
    assert after["queued"][1] == before["queued"][1] - 2

    detail = client.get(f"{LIST}/{mid}").text
    assert 'id="current-status" data-status="delivered">Delivered<' in detail
    # Times in IST, like the applications console: NOW + 1 is 14-11-2023 22:13:21 UTC.
    assert "<dt>Submitted to the operator</dt><dd>15-11-2023 03:43 IST</dd>" in detail
    assert detail.count("DELIVRD") == 4 and "a4" in detail
    assert re.search(r"<dt>Attempts</dt><dd>1</dd>", detail)
    assert "UNDELIV (err 001)" in client.get(f"{LIST}/{lost}").text


def test_detail_shows_full_text_and_its_batch(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    text = (
        "Dear citizen, free health camp at the community hall, Sector 4, on Sunday "
        "from 9 am to 1 pm. Bring your ration card."
    )
    ids = queue(gateway, "FOOD", ["+919810000001", "+919810000002", "+919810000003"], text)
    batch_id = batch_of(gateway, ids[0])
    with gateway.session() as session:
        messaging.claim(session, limit=1, now=NOW)
    login(client, "food.admin")
    row = row_of(client.get(LIST).text, ids[2])
    assert text[:60] + "…" in row and "Bring your ration card." not in row

    detail = client.get(f"{LIST}/{ids[2]}").text
    assert text in detail
    assert f"Batch {batch_id}" in detail and "3 recipients in this batch." in detail
    batch_table = detail[detail.index('id="batch"') :]
    assert re.search(r'data-status="queued">.*?<td class="num">2</td>', batch_table)
    assert re.search(r'data-status="sending">.*?<td class="num">1</td>', batch_table)
    assert f'href="/console/sms?batch={batch_id}"' in detail


def test_otp_digits_are_masked(client: TestClient, gateway: Gateway, seeded: SeedReport) -> None:
    (mid,) = queue(gateway, "FOOD", ["+919810000001"], "Your OTP is 482913.", kind="otp")
    login(client, "admin")
    page = client.get(LIST).text
    detail = client.get(f"{LIST}/{mid}").text
    for html in (page, detail):
        assert "482913" not in html
        assert "Your OTP is ••••••." in html
    assert "OTP digits are hidden." in detail


def test_sms_pages_in_hindi(client: TestClient, gateway: Gateway, seeded: SeedReport) -> None:
    (mid,) = queue(gateway, "FOOD", ["+919810000001"], "Card ready.")
    login(client, "food.admin")
    page = client.get(LIST, params={"lang": "hi"}).text
    assert "स्थिति के अनुसार संदेश" in page and "कतार में" in page and "आज (IST)" in page
    detail = client.get(f"{LIST}/{mid}").text  # the cookie keeps Hindi
    assert "प्राप्तकर्ता" in detail and "भाग और डिलीवरी रसीदें" in detail
    assert "DLT पंजीकरण" in client.get(DLT).text


def test_officials_get_an_sms_link_in_the_menu(client: TestClient, seeded: SeedReport) -> None:
    assert 'href="/console/sms"' not in client.get("/").text
    login(client, "food.admin")
    assert '<a href="/console/sms">SMS</a>' in client.get("/console").text


# -- DLT registrations -------------------------------------------------------------------------


def post(client: TestClient, path: str, data: dict[str, str], page: str = DLT) -> str:
    """Submit one of the DLT page's forms with the page's CSRF token; the response body."""
    token = csrf_of(client.get(page).text)
    response = client.post(path, data={**data, "csrf": token}, follow_redirects=False)
    if response.status_code == 303:
        return client.get(response.headers["location"]).text
    return f"{response.status_code}\n{response.text}"


def test_department_admin_registers_entity_header_and_template(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    page = client.get(DLT).text
    assert "No DLT header is registered" in page
    assert 'action="/console/sms/dlt/templates"' not in page  # a header comes first

    saved = post(client, f"{DLT}/entity", {"entity_id": " 1201160000000012345 "})
    assert "Entity ID saved." in saved and 'id="entity-id">1201160000000012345<' in saved

    page = post(client, f"{DLT}/headers", {"header": "foodcs", "category": "government"})
    assert "Header registered: FOODCS (FOODCS-G)" in page
    assert "<code>FOODCS</code>" in page and "No DLT header is registered" not in page

    page = post(
        client,
        f"{DLT}/templates",
        {
            "template_id": "1207160000000054321",
            "header": "FOODCS",
            "category": "government",
            "name": "Card ready",
            "body": FOOD_TEMPLATE,
        },
    )
    assert "Template registered: 1207160000000054321" in page
    row = page[page.index('id="template-1207160000000054321"') :]
    assert row.count("<code>{#var#}</code> · up to 30 characters") == 2
    example = re.search(r'<td lang="" class="template-example">(.*?)</td>', row)
    assert example
    assert example.group(1) == "Your ration card Sunita Devi is ready at FPS 112. -Food Dept"
    assert dlt.compile_template(FOOD_TEMPLATE).match(example.group(1))

    food = department_id(gateway, "FOOD")
    with gateway.session() as session:
        account = session.get(SmsAccount, food)
        assert account is not None and account.entity_id == "1201160000000012345"
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("sms.dlt_%")).order_by(AuditEvent.id)
        ).all()
        # The registration is in force: FOOD's API sends must now match it.
        accepted = messaging.send(
            session,
            Send(
                to=["+919810000001"],
                text="Your ration card 1234 is ready at FPS 9. -Food Dept",
                sender="FOODCS",
                department_id=food,
            ),
        )
    assert accepted.accepted == 1
    assert [(a.action, a.department_id) for a in audit] == [
        ("sms.dlt_entity", food),
        ("sms.dlt_header", food),
        ("sms.dlt_template", food),
    ]
    assert audit[1].detail == {"header": "FOODCS", "category": "government"}
    assert audit[2].detail["template_id"] == "1207160000000054321"


def test_invalid_registrations_show_the_reason(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    page = post(client, f"{DLT}/headers", {"header": "FOOD1", "category": "transactional"})
    assert page.startswith("400")
    assert "Transactional headers are 6 letters (A-Z); &#39;FOOD1&#39; is not" in page
    assert 'value="FOOD1"' in page  # what was typed stays in the form
    page = post(client, f"{DLT}/headers", {"header": "123456", "category": "government"})
    assert "numeric, which DLT reserves for promotional templates" in page
    page = post(client, f"{DLT}/headers", {"header": "FOODCS", "category": "bogus"})
    assert "Choose one of the categories listed." in page
    page = post(client, f"{DLT}/entity", {"entity_id": "12345"})
    assert page.startswith("400") and "A DLT entity ID is 19 digits" in page

    # Another department's header cannot be taken over.
    with gateway.session() as session:
        messaging.register_header(session, department_id(gateway, "MCD"), "MCDELH", "government")
    page = post(client, f"{DLT}/headers", {"header": "MCDELH", "category": "government"})
    assert "Header MCDELH belongs to another department" in page

    post(client, f"{DLT}/headers", {"header": "FOODCS", "category": "government"})
    template = {
        "template_id": "1207160000000054321",
        "header": "FOODCS",
        "category": "government",
        "body": "Your card {#Var#} is ready",
    }
    page = post(client, f"{DLT}/templates", template)
    assert page.startswith("400") and "&#39;{#Var#}&#39; is not a DLT variable" in page
    page = post(client, f"{DLT}/templates", {**template, "body": "ok", "template_id": "12ab"})
    assert "A DLT template ID is a number of up to 30 digits" in page
    page = post(client, f"{DLT}/templates", {**template, "body": "ok", "category": "promotional"})
    assert "promotional templates are sent from a 6-digit numeric header" in page

    with gateway.session() as session:
        # Only the demo's own Transport registrations besides what this test stored.
        headers = session.scalars(select(DltHeader.header).order_by(DltHeader.header)).all()
        templates = session.scalars(select(DltTemplate.header)).all()
    assert headers == ["FOODCS", "MCDELH", "TRNSPT"]
    assert set(templates) == {"TRNSPT"}


def test_registration_errors_in_hindi(client: TestClient, seeded: SeedReport) -> None:
    login(client, "food.admin")
    client.get(DLT, params={"lang": "hi"})
    page = post(client, f"{DLT}/headers", {"header": "FOOD1", "category": "transactional"})
    assert "लेन-देन संबंधी हेडर 6 अक्षरों (A-Z) का होता है; &#39;FOOD1&#39; ऐसा नहीं है।" in page
    page = post(client, f"{DLT}/entity", {"entity_id": "12345"})
    assert "DLT इकाई आईडी 19 अंकों की होती है" in page


def test_officers_read_registrations_but_cannot_change_them(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        messaging.register_header(session, department_id(gateway, "FOOD"), "FOODCS", "government")
    add_officer(gateway, "FOOD", "food.officer")
    login(client, "food.officer")
    page = client.get(DLT).text
    assert "<code>FOODCS</code>" in page
    assert "Only the department&#39;s admin can change these registrations." in page
    assert 'action="/console/sms/dlt/' not in page
    token = csrf_of(page)  # the menu's logout form
    for path, data in (
        (f"{DLT}/headers", {"header": "FOODAB", "category": "government"}),
        (f"{DLT}/entity", {"entity_id": "1201160000000012345"}),
    ):
        response = client.post(path, data={**data, "csrf": token})
        assert response.status_code == 403
        assert "Your role may not open this page." in response.text
    with gateway.session() as session:
        assert session.scalars(
            select(DltHeader.header).where(DltHeader.header != "TRNSPT")
        ).all() == ["FOODCS"]
        food = department_id(gateway, "FOOD")
        assert (
            session.scalar(select(SmsAccount.entity_id).where(SmsAccount.department_id == food))
            is None
        )


def test_dlt_forms_need_the_csrf_token(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    client.get(DLT)
    for token in ("", "forged-token"):
        response = client.post(
            f"{DLT}/headers", data={"header": "FOODCS", "category": "government", "csrf": token}
        )
        assert response.status_code == 400
        assert "This form has expired" in response.text
    with gateway.session() as session:
        assert session.scalars(select(DltHeader).where(DltHeader.header != "TRNSPT")).all() == []


def test_gateway_admin_picks_the_department(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "admin")
    chooser = client.get(DLT).text
    assert 'href="/console/sms/dlt?dept=MCD"' in chooser
    page = f"{DLT}?dept=MCD"
    assert 'name="dept" value="MCD"' in client.get(page).text
    result = post(
        client,
        f"{DLT}/headers",
        {"header": "MCDELH", "category": "government", "dept": "MCD"},
        page,
    )
    assert "Header registered: MCDELH" in result
    with gateway.session() as session:
        row = session.scalar(select(DltHeader).where(DltHeader.header != "TRNSPT"))
    assert row is not None and row.department_id == department_id(gateway, "MCD")
    missing = client.post(
        f"{DLT}/headers",
        data={"header": "ABCDEF", "category": "government", "csrf": csrf_of(chooser)},
    )
    assert missing.status_code == 404
