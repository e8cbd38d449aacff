"""``seva sms``: a CSV campaign sent to a running gateway over HTTP, and its status."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seva.cli import app
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from tests.conftest import free_port

ROWS = 2_500


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def citizens(count: int) -> list[dict[str, str]]:
    return [
        {"Mobile": f"98{n:08d}", "name": f"Citizen {n}", "ward": str(n % 7)} for n in range(count)
    ]


def test_a_csv_campaign_arrives_with_personalised_texts(
    runner: CliRunner, live: str, gateway: Gateway, seeded: SeedReport, tmp_path: Path
) -> None:
    rows = [*citizens(ROWS), {"Mobile": "12345", "name": "Nobody", "ward": "0"}]
    path = write_csv(tmp_path / "campaign.csv", rows)
    args = ["sms", "send", "--csv", str(path), "--api-key", seeded.api_keys["FOOD"]]
    args += ["--url", live, "--text", "Dear {name}, ward {ward} camp is on Sunday."]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"{ROWS} accepted" in result.stdout and "1 rejected" in result.stdout
    assert "'12345'" in result.stdout

    batch_id = int(result.stdout.split("batches: ")[1].split()[0])
    with gateway.session() as session:
        batch = messaging.batch(session, batch_id)
        assert batch is not None and batch.department_id is not None
        department_id = batch.department_id
        sent = messaging.messages_of_department(
            session, department_id, limit=ROWS + 10, batch_id=batch_id
        )
        queued = sum(messaging.status_counts(session, department_id).values())
    texts = {m.to_phone: m.text for m in sent}
    assert len(texts) == ROWS
    assert texts["+919800000000"] == "Dear Citizen 0, ward 0 camp is on Sunday."
    assert texts["+919800000010"] == "Dear Citizen 10, ward 3 camp is on Sunday."
    assert texts["+919800002499"] == "Dear Citizen 2499, ward 0 camp is on Sunday."
    assert {m.kind for m in sent} == {"bulk"}

    # Running it again (say, after an interruption) sends nothing twice.
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "not sent again" in again.stdout
    with gateway.session() as session:
        assert sum(messaging.status_counts(session, department_id).values()) == queued

    key = seeded.api_keys["FOOD"]
    status = runner.invoke(
        app, ["sms", "status", str(batch_id), "--batch", "--api-key", key, "--url", live]
    )
    assert status.exit_code == 0, status.output
    assert str(ROWS) in status.stdout and "Dear Citizen 0" in status.stdout


def test_a_text_column_gives_each_row_its_message(
    runner: CliRunner, live: str, gateway: Gateway, seeded: SeedReport, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "texts.csv",
        [
            {"phone": "9811000001", "text": "Your licence is ready."},
            {"phone": "9811000002", "text": "Your permit is ready."},
        ],
    )
    key = seeded.api_keys["FOOD"]
    result = runner.invoke(
        app,
        [
            "sms",
            "send",
            "--csv",
            str(path),
            "--api-key",
            key,
            "--url",
            live,
            "--kind",
            "transactional",
        ],
    )
    assert result.exit_code == 0, result.output
    with gateway.session() as session:
        [first] = messaging.inbox(session, "+919811000001")
        [second] = messaging.inbox(session, "+919811000002")
    assert (first.text, second.text) == ("Your licence is ready.", "Your permit is ready.")
    assert first.kind == "transactional"

    message_status = runner.invoke(
        app, ["sms", "status", str(first.id), "--api-key", seeded.api_keys["FOOD"], "--url", live]
    )
    assert message_status.exit_code == 0, message_status.output
    assert "Your licence is ready." in message_status.stdout


def test_a_refused_key_stops_with_the_gateways_reason(
    runner: CliRunner, live: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", citizens(3))
    result = runner.invoke(
        app,
        [
            "sms",
            "send",
            "--csv",
            str(path),
            "--api-key",
            "sk_nope.nope",
            "--url",
            live,
            "--text",
            "Hi",
        ],
    )
    assert result.exit_code == 1
    assert "API key was refused" in result.output


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        (None, [], "no such file"),
        ([{"name": "A", "ward": "1"}], ["--text", "Hi"], "no phone column"),
        ([{"phone": "9811000001"}], ["--text", "Hi {name}"], "{name}"),
        ([{"phone": "9811000001"}], [], "--text"),
        ([{"phone": "9811000001"}], ["--column", "msisdn", "--text", "Hi"], "no column 'msisdn'"),
    ],
)
def test_problems_with_the_csv_are_explained_before_anything_is_sent(
    runner: CliRunner,
    tmp_path: Path,
    rows: list[dict[str, str]] | None,
    extra: list[str],
    message: str,
) -> None:
    path = tmp_path / "campaign.csv"
    if rows is not None:
        write_csv(path, rows)
    unreachable = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(
        app,
        ["sms", "send", "--csv", str(path), "--api-key", "sk_x.y", "--url", unreachable, *extra],
    )
    assert result.exit_code == 2
    assert message in result.output


def test_an_unreachable_gateway_is_named(runner: CliRunner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", citizens(2))
    unreachable = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(
        app,
        [
            "sms",
            "send",
            "--csv",
            str(path),
            "--api-key",
            "sk_x.y",
            "--url",
            unreachable,
            "--text",
            "Hi",
            "--retries",
            "0",
        ],
    )
    assert result.exit_code == 1
    assert f"cannot reach {unreachable}" in result.output


def test_the_cost_is_printed_before_sending_and_a_dry_run_sends_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", citizens(1000))
    unreachable = f"http://127.0.0.1:{free_port()}"
    args = ["sms", "send", "--csv", str(path), "--api-key", "sk_x.y", "--url", unreachable]
    hindi = "प्रिय {name}, वार्ड {ward} का शिविर रविवार को है। अपना आधार कार्ड और राशन कार्ड साथ लाएँ।"
    result = runner.invoke(app, [*args, "--text", hindi, "--dry-run"])
    assert result.exit_code == 0, result.output  # the gateway was never called
    assert "1000 rows, UCS-2" in result.stdout
    assert "2 SMS part(s) per message, 2000 parts in all" in result.stdout
    curly = runner.invoke(app, [*args, "--text", "Dear {name}, the camp’s on Sunday.", "--dry-run"])
    assert "1 SMS part(s) per message, 1000 parts in all (UCS-2 because of ’;" in curly.stdout
