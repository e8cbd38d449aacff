"""The department API's send, between its parsed body (``schemas.SendIn``) and the queue: the
numbers read and normalised, repeats left out, the queue's ``Send`` built for the department
the API key names, and the answer built from what the queue said.

The route (``router.send_messages``) parses, calls these and renders. The department is
known only inside the group commit's transaction (``messaging.intake`` checks the key there),
so the plan hands the intake a job that builds its ``Send`` then.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from seva.messaging.intake import SendJob
from seva.messaging.schemas import MessageRef, PreviewOut, SendIn, SendOut, SendProblem
from seva.messaging.sends import RETURN_IDS_UP_TO, Accepted, Preview, Send
from seva.numbers import mobile_msisdns
from seva.tenancy.models import Department

SHOW_INVALID = 20
PARSE_INLINE = 1000
"""Recipient lists longer than this are parsed in a worker thread, off the event loop."""


@dataclass(frozen=True, slots=True)
class SendPlan:
    """A send ready for the queue: its valid numbers without repeats and their texts, with
    what was left out (entries that are not mobile numbers, repeats)."""

    body: SendIn
    recipients: list[str]
    texts: list[str] | None
    rejected: list[str]
    duplicates: int

    def job(self, api_key: str, idempotency_key: str | None) -> SendJob:
        """The request as the group commit takes it (``messaging.intake``)."""
        make = functools.partial(self.send_for, idempotency_key=idempotency_key)
        return SendJob(api_key, make, len(self.recipients))

    def send_for(self, department: Department, *, idempotency_key: str | None) -> Send:
        body = self.body
        texts = self.texts
        return Send(
            to=self.recipients,
            text=body.text if body.text is not None else (texts[0] if texts else ""),
            texts=texts,
            kind=body.kind,
            sender=body.sender,
            department_id=department.id,
            department_code=department.code,
            template_id=body.template_id,
            due_at=body.scheduled_at.timestamp() if body.scheduled_at is not None else None,
            callback_url=str(body.callback_url) if body.callback_url is not None else None,
            client_ref=body.client_ref,
            idempotency_key=idempotency_key,
            source="api",
        )

    def answer(self, outcome: Accepted) -> SendOut:
        """The API's answer: each message queued (for a small send), or for a replay each
        message of the earlier send with its status now."""
        if outcome.replayed:
            refs = [
                MessageRef(id=mid, to=phone, status=status)
                for mid, phone, status in outcome.replayed_messages
            ] or None
        else:
            blocked = set(outcome.opted_out)
            queued = [phone for phone in self.recipients if phone not in blocked]
            refs = (
                [
                    MessageRef(id=mid, to=phone, status="queued")
                    for mid, phone in zip(outcome.message_ids, queued, strict=True)
                ]
                if len(queued) <= RETURN_IDS_UP_TO
                else None
            )
        cost = outcome.cost
        return SendOut(
            batch_id=outcome.batch_id,
            accepted=outcome.accepted,
            parts=outcome.parts,
            encoding=cost.encoding,
            characters=cost.characters,
            total_parts=cost.total_parts,
            messages=refs,
            opted_out=outcome.opted_out,
            rejected=self.rejected,
            duplicates=self.duplicates,
            scheduled_at=datetime.fromtimestamp(outcome.due_at, UTC),
            replayed=outcome.replayed,
        )

    def preview(self, found: Preview) -> PreviewOut:
        """The preview's answer: what the send would queue and cost."""
        cost = found.cost
        return PreviewOut(
            recipients=found.recipients,
            parts=cost.parts,
            encoding=cost.encoding,
            characters=cost.characters,
            total_parts=cost.total_parts,
            outside_gsm=list(cost.outside),
            sender=found.sender,
            template_id=found.template_id,
            opted_out=found.opted_out,
            rejected=self.rejected,
            duplicates=self.duplicates,
        )


async def plan(body: SendIn, region: str) -> SendPlan | SendProblem:
    """Read the body's numbers as mobile numbers of ``region``; refuse the send when any is
    not one (unless ``skip_invalid``) or none is."""
    raw = body.numbers
    numbers = (
        mobile_msisdns(raw, region)
        if len(raw) <= PARSE_INLINE
        else await asyncio.to_thread(mobile_msisdns, raw, region)
    )
    invalid = [entry for entry, number in zip(raw, numbers, strict=True) if number is None]
    if invalid and not body.skip_invalid:
        return _invalid_numbers(invalid, total=len(raw))
    recipients, texts, duplicates = _recipients(numbers, body.texts)
    if not recipients:
        return _invalid_numbers(invalid, total=len(raw))
    return SendPlan(body, recipients, texts, invalid, duplicates)


def _recipients(
    numbers: Sequence[str | None], texts: Sequence[str] | None
) -> tuple[list[str], list[str] | None, int]:
    """Valid numbers in order without repeats of the same number with the same text.

    A list that names a number twice would otherwise send (and charge) the same SMS twice
    to one person; with per-recipient texts only an identical pair counts as a repeat.
    """
    if texts is None:
        unique = list(dict.fromkeys(n for n in numbers if n is not None))
        return unique, None, sum(1 for n in numbers if n is not None) - len(unique)
    pairs = dict.fromkeys((n, t) for n, t in zip(numbers, texts, strict=True) if n is not None)
    valid = sum(1 for n in numbers if n is not None)
    return [n for n, _ in pairs], [t for _, t in pairs], valid - len(pairs)


def _invalid_numbers(invalid: list[str], *, total: int) -> SendProblem:
    shown = ", ".join(repr(entry) for entry in invalid[:SHOW_INVALID])
    more = f" and {len(invalid) - SHOW_INVALID} more" if len(invalid) > SHOW_INVALID else ""
    what = "is not a mobile number" if len(invalid) == 1 else "are not mobile numbers"
    hint = (
        "; nothing was sent"
        if len(invalid) == total
        else "; nothing was sent (set skip_invalid to send to the rest)"
    )
    return SendProblem(
        "invalid_numbers",
        f"{len(invalid)} of {total} {what}: {shown}{more}{hint}",
        "to",
        extra={"invalid": invalid[:SHOW_INVALID], "invalid_count": len(invalid)},
    )
