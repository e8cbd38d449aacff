"""Looking an application up by reference the way a citizen does on each channel."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.gateway import Gateway
from tests.web.pages import answer, field, final_answer, last_code

STATUS_PAGE = "/services/SEVA/application-status"


def sms(client: TestClient, text: str, sender: str) -> str:
    response = client.get("/channels/sms/kannel", params={"from": sender, "text": text})
    assert response.status_code == 200, response.text
    return response.text


def ussd_status(client: TestClient, phone: str, ref: str) -> str:
    form = {"sessionId": f"look-{phone}", "serviceCode": "*166#", "phoneNumber": phone}
    screen = ""
    for text in ("", "5", "5*1", f"5*1*{ref}"):
        screen = client.post("/channels/ussd/africastalking", data=form | {"text": text}).text
    # An answer longer than a screen (80 characters in an Indian script) comes in pages: read
    # them all with 98, and give the whole answer as its last page ends (END).
    pages, history = [screen[4:]], f"5*1*{ref}"
    for _ in range(10):
        if not screen.startswith("CON ") or "\n98. " not in screen:
            break
        history += "*98"
        screen = client.post("/channels/ussd/africastalking", data=form | {"text": history}).text
        pages.append(screen[4:])
    return screen[:4] + "\n".join(page.rsplit("\n98. ", 1)[0] for page in pages)


def web_status(client: TestClient, ref: str) -> str:
    client.get(STATUS_PAGE)
    return final_answer(answer(client, STATUS_PAGE, ref))


def web_log_in(client: TestClient, gateway: Gateway, phone: str) -> None:
    page = client.get("/citizen/login").text
    client.post("/citizen/login", data={"csrf": field(page, "csrf"), "phone": phone})
    page = client.get("/citizen/login").text
    done = client.post(
        "/citizen/verify",
        data={"csrf": field(page, "csrf"), "code": last_code(gateway, phone)},
        follow_redirects=False,
    )
    assert done.status_code == 303
