"""``seva sms``: send a CSV campaign through a gateway's SMS API and follow its status.

A client of the department API (``POST /api/v1/messages``) like any department's system, so
it works against any Seva gateway with the department's API key. The CSV needs a header row
and a phone column (``phone``, ``mobile`` or ``number``, or the one ``--column`` names);
other columns fill ``{column}`` placeholders in ``--text``, or a ``text`` column gives each
row its own message.

Before anything is sent it prints what the campaign costs: the encoding (GSM-7, or UCS-2 for
any Indian script or a stray curly quote, at 70 characters a part instead of 160), the
characters and SMS parts of each message and the parts in all (``--dry-run`` stops there).

Rows go in chunks of 10,000 per request, each with an Idempotency-Key derived from the
chunk's content: running the same command again after an interruption re-sends only the
chunks the gateway had not accepted yet (the others come back as replays and queue
nothing). ``--again`` sends the same campaign a second time on purpose.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from seva.cli.common import console, err
from seva.messaging.sends import Cost

app = typer.Typer(
    help="Send SMS campaigns from a CSV and follow their status.", no_args_is_help=True
)

CHUNK = 10_000
MAX_BODY = 8 * 1024 * 1024
"""The API's body cap for sends; a chunk of long personalised texts is split to fit."""
PHONE_COLUMNS = ("phone", "mobile", "number")
RETRIES = 3
SHOW_REJECTED = 20
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class Kind(StrEnum):
    bulk = "bulk"
    transactional = "transactional"
    otp = "otp"


class CampaignError(Exception):
    """A problem with the CSV or the options, said in a sentence for the person running it."""


@dataclass
class Campaign:
    numbers: list[str]
    text: str | None
    """One text for every row (no placeholders), or None when ``texts`` holds one per row."""
    texts: list[str] | None


@dataclass
class Totals:
    accepted: int = 0
    rejected: list[str] = field(default_factory=list)
    opted_out: int = 0
    duplicates: int = 0
    replayed: int = 0
    parts: int = 0
    batches: list[int] = field(default_factory=list)


def read_campaign(path: Path, *, column: str | None, text: str | None) -> Campaign:
    """The recipients and texts of a CSV file, or CampaignError saying what is wrong."""
    if not path.exists():
        raise CampaignError(f"{path}: no such file")
    if path.is_dir():
        raise CampaignError(f"{path} is a folder, not a CSV file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = columns
            rows = list(reader)
    except UnicodeDecodeError:
        raise CampaignError(f"{path} is not UTF-8 text (save it as CSV UTF-8)") from None
    except csv.Error as exc:
        raise CampaignError(f"{path} is not a valid CSV file: {exc}") from None
    if not columns:
        raise CampaignError(f"{path} is empty; it needs a header row and one row per number")
    phone = _phone_column(columns, column)
    if text is None and "text" not in columns:
        raise CampaignError("give the message with --text, or add a text column to the CSV")
    numbers = [(row.get(phone) or "").strip() for row in rows]
    if not numbers:
        raise CampaignError(f"{path} has a header row but no rows to send to")
    if text is None:
        texts = [row.get("text") or "" for row in rows]
    else:
        names = _PLACEHOLDER.findall(text)
        unknown = sorted({name for name in names if name not in columns})
        if unknown:
            raise CampaignError(
                f"--text uses {', '.join('{' + n + '}' for n in unknown)} but the CSV has no "
                f"such column (columns: {', '.join(columns)})"
            )
        if not names:
            return Campaign(numbers=numbers, text=text, texts=None)
        texts = [_fill(text, row) for row in rows]
    if len(set(texts)) == 1:
        return Campaign(numbers=numbers, text=texts[0], texts=None)
    return Campaign(numbers=numbers, text=None, texts=texts)


def cost_of(campaign: Campaign) -> Cost:
    """What the campaign costs if every row is sent (before the gateway leaves out numbers
    that are not mobile numbers, repeats and, for bulk, numbers that sent STOP)."""
    if campaign.texts is not None:
        return Cost.of(campaign.texts, outside=True)
    return Cost.of([campaign.text or ""], len(campaign.numbers), outside=True)


def cost_line(campaign: Campaign) -> str:
    cost = cost_of(campaign)
    encoding = "UCS-2" if cost.encoding == "ucs2" else "GSM-7"
    line = (
        f"{len(campaign.numbers)} rows, {encoding}, {cost.characters} characters: "
        f"{cost.parts} SMS part(s) per message, {cost.total_parts} parts in all"
    )
    if cost.outside:
        shown = " ".join(cost.outside)
        line += f" (UCS-2 because of {shown}; without them it would go as GSM-7)"
    return line


def _fill(text: str, row: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda found: (row.get(found.group(1)) or "").strip(), text)


def _phone_column(columns: list[str], wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise CampaignError(f"the CSV has no column {wanted!r} (columns: {', '.join(columns)})")
        return wanted
    by_name = {name.lower(): name for name in columns}
    for candidate in PHONE_COLUMNS:
        if candidate in by_name:
            return by_name[candidate]
    raise CampaignError(
        f"no phone column: name one {', '.join(PHONE_COLUMNS)} or pass --column "
        f"(columns: {', '.join(columns)})"
    )


def _bodies(
    campaign: Campaign, start: int, end: int, options: dict[str, Any]
) -> list[tuple[int, int, bytes]]:
    """The JSON body for rows ``start:end``, split in halves until each fits ``MAX_BODY``."""
    body: dict[str, Any] = {"to": campaign.numbers[start:end], **options}
    if campaign.texts is not None:
        body["texts"] = campaign.texts[start:end]
    else:
        body["text"] = campaign.text
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(encoded) <= MAX_BODY or end - start == 1:
        return [(start, end, encoded)]
    middle = (start + end) // 2
    return _bodies(campaign, start, middle, options) + _bodies(campaign, middle, end, options)


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase


def _post(client: httpx.Client, body: bytes, key: str, retries: int) -> dict[str, Any]:
    """POST one chunk, retrying what may be passing (network errors, 5xx, 409) with the key."""
    delay = 1.0
    tries = retries + 1
    for attempt in range(1, tries + 1):
        try:
            response = client.post(
                "/api/v1/messages",
                content=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
            )
        except httpx.TransportError as exc:
            if attempt == tries:
                raise CampaignError(f"cannot reach {client.base_url}: {exc}") from None
        else:
            if response.status_code in (200, 202):
                result: dict[str, Any] = response.json()
                return result
            if response.status_code == 401:
                raise CampaignError(f"the API key was refused: {_error_message(response)}")
            if (response.status_code < 500 and response.status_code != 409) or attempt == tries:
                raise CampaignError(
                    f"the gateway refused the send ({response.status_code} "
                    f"{_error_message(response)})"
                )
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


@app.command("send")
def send(
    csv_path: Path = typer.Option(..., "--csv", help="CSV with a header row and a phone column"),
    api_key: str = typer.Option(..., "--api-key", envvar="SEVA_API_KEY", help="Department key"),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", envvar="SEVA_URL"),
    kind: Kind = typer.Option(Kind.bulk, "--kind"),
    sender: str | None = typer.Option(None, "--sender", help="DLT header (default: yours)"),
    template_id: str | None = typer.Option(None, "--template-id", help="DLT template ID"),
    text: str | None = typer.Option(
        None, "--text", help="Message; {column} fills in that column (default: a text column)"
    ),
    column: str | None = typer.Option(None, "--column", help="The phone column's name"),
    again: bool = typer.Option(
        False, "--again", help="Send even chunks an earlier run of this campaign already sent"
    ),
    retries: int = typer.Option(
        RETRIES, "--retries", min=0, max=10, help="Retries of a chunk after a network error"
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what the campaign would cost and send nothing"
    ),
) -> None:
    """Send an SMS to every row of a CSV file, in chunks of 10,000, with a progress bar."""
    try:
        campaign = read_campaign(csv_path, column=column, text=text)
    except CampaignError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(escape(cost_line(campaign)), soft_wrap=True, highlight=False)
    if dry_run:
        return
    options: dict[str, Any] = {"kind": kind.value, "skip_invalid": True}
    if sender:
        options["sender"] = sender
    if template_id:
        options["template_id"] = template_id
    salt = uuid.uuid4().hex if again else ""
    totals = Totals()
    rows = len(campaign.numbers)
    failure: str | None = None
    progress = Progress(
        TextColumn("[bold]sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with (
        httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(120.0, connect=10.0),
        ) as client,
        progress,
    ):
        task = progress.add_task("send", total=rows)
        try:
            for first in range(0, rows, CHUNK):
                for start, end, body in _bodies(campaign, first, min(first + CHUNK, rows), options):
                    key = "csv-" + hashlib.sha256(body + salt.encode()).hexdigest()[:40]
                    result = _post(client, body, key, retries)
                    _add(totals, result)
                    progress.advance(task, end - start)
        except CampaignError as exc:
            failure = str(exc)
    _report(totals, rows)
    if failure is not None:
        done = totals.accepted + len(totals.rejected)
        err.print(f"[red]{escape(failure)}[/red]", soft_wrap=True)
        err.print(
            f"stopped after {done} of {rows} rows; run the same command again to send the rest",
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _add(totals: Totals, result: dict[str, Any]) -> None:
    totals.accepted += int(result["accepted"])
    totals.rejected.extend(result["rejected"])
    totals.opted_out += len(result["opted_out"])
    totals.duplicates += int(result.get("duplicates", 0))
    totals.replayed += 1 if result["replayed"] else 0
    totals.parts += int(result.get("total_parts", 0))
    totals.batches.append(int(result["batch_id"]))


def _report(totals: Totals, rows: int) -> None:
    if not totals.batches:
        return
    say = partial(console.print, soft_wrap=True, highlight=False)
    say(
        f"[green]{totals.accepted} accepted[/green], {len(totals.rejected)} rejected, "
        f"{totals.opted_out} opted out, {totals.duplicates} duplicates (of {rows} rows); "
        f"{totals.parts} SMS parts"
    )
    say("batches: " + ", ".join(str(b) for b in totals.batches))
    if totals.replayed:
        say(
            f"{totals.replayed} chunk(s) had been sent before and were not sent again "
            "(use --again to send them anew)"
        )
    if totals.rejected:
        shown = escape(", ".join(repr(n) for n in totals.rejected[:SHOW_REJECTED]))
        more = len(totals.rejected) - SHOW_REJECTED
        say(f"rejected (not mobile numbers): {shown}" + (f" and {more} more" if more > 0 else ""))


@app.command("status")
def status(
    ident: int = typer.Argument(..., metavar="ID", help="A message id (or batch id with --batch)"),
    batch: bool = typer.Option(False, "--batch", help="ID is a batch id"),
    api_key: str = typer.Option(..., "--api-key", envvar="SEVA_API_KEY", help="Department key"),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", envvar="SEVA_URL"),
) -> None:
    """Print a message's status, or a batch's counts by status."""
    path = f"/api/v1/batches/{ident}" if batch else f"/api/v1/messages/{ident}"
    try:
        response = httpx.get(
            url.rstrip("/") + path,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30.0,
        )
    except httpx.HTTPError as exc:
        err.print(f"[red]{escape(f'cannot reach {url}: {exc}')}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    if response.status_code != 200:
        problem = f"{response.status_code} {_error_message(response)}"
        err.print(f"[red]{escape(problem)}[/red]", soft_wrap=True)
        raise typer.Exit(1)
    data: dict[str, Any] = response.json()
    table = Table(show_header=False, box=None)
    counts = data.pop("counts", None)
    for name, value in data.items():
        table.add_row(name, "" if value is None else escape(str(value)))
    console.print(table)
    if counts is not None:
        by_status = Table("status", "messages")
        for name, count in sorted(counts.items()):
            by_status.add_row(name, str(count))
        console.print(by_status)
