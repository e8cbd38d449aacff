"""Group commit: requests queued together are checked one by one and written together, and
one request's refusal never costs another its place."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import accept
from seva.messaging import service as queue
from seva.messaging.intake import SendIntake, SendJob
from seva.messaging.models import SmsBatch, SmsDailyUsage, SmsMessage
from seva.messaging.service import Accepted, Send, SendRefused
from seva.tenancy.models import Department
from seva.tenancy.service import department_by_code

NOW = 1_700_000_000.0
LICENCE = "Your driving licence DL-0420110012345 is ready for dispatch. -Transport Dept"


def department(gateway: Gateway, code: str) -> Department:
    with gateway.session() as session:
        found = department_by_code(session, code)
        assert found is not None
        return found


def for_department(code: str, dept_id: int, *, to: str, text: str, **extra: object) -> Send:
    sender = "TRNSPT" if code == "TRANSPORT" else None  # FOOD has no header: the default
    return Send(
        to=[to],
        text=text,
        sender=sender,
        department_id=dept_id,
        department_code=code,
        **extra,  # type: ignore[arg-type]
    )


def messages_to(gateway: Gateway, phone: str) -> int:
    with gateway.session() as session:
        return int(session.scalar(select(func.count()).where(SmsMessage.to_phone == phone)) or 0)


def test_a_refused_request_leaves_the_rest_of_its_group_queued(
    gateway: Gateway, seeded: SeedReport
) -> None:
    transport = department(gateway, "TRANSPORT")
    requests = [
        for_department("TRANSPORT", transport.id, to="+919811100001", text=LICENCE),
        for_department("TRANSPORT", transport.id, to="+919811100002", text="Pay a bribe here"),
        for_department("TRANSPORT", transport.id, to="+919811100003", text=LICENCE),
        Send(to=["+919811100004"], text="   ", department_id=transport.id),
    ]
    with gateway.session() as session:
        outcomes = queue.send_many(session, requests, now=NOW)
    assert [type(o).__name__ for o in outcomes] == [
        "Accepted",
        "SendRefused",
        "Accepted",
        "SendRefused",
    ]
    assert isinstance(outcomes[1], SendRefused) and outcomes[1].code == "template_mismatch"
    assert isinstance(outcomes[3], SendRefused) and outcomes[3].code == "empty_text"
    assert [messages_to(gateway, f"+91981110000{n}") for n in (1, 2, 3, 4)] == [1, 0, 1, 0]
    first, third = outcomes[0], outcomes[2]
    assert isinstance(first, Accepted) and isinstance(third, Accepted)
    assert first.batch_id != third.batch_id
    assert len(first.message_ids) == 1 and first.message_ids != third.message_ids


def test_the_daily_quota_refuses_whole_requests_at_the_end_of_a_group(
    gateway: Gateway, seeded: SeedReport
) -> None:
    food = department(gateway, "FOOD")
    with gateway.session() as session:
        queue.ensure_account(session, food.id).daily_quota = 5
    requests = [
        Send(
            to=[f"+91981120{i}{k}00" for k in range(2)],
            text=f"Ration slot {i}",
            department_id=food.id,
            department_code="FOOD",
        )
        for i in range(4)
    ]
    with gateway.session() as session:
        outcomes = queue.send_many(session, requests, now=NOW)
    accepted = [o for o in outcomes if isinstance(o, Accepted)]
    refused = [o for o in outcomes if isinstance(o, SendRefused)]
    # 2 + 2 fit in 5; the third pair would make 6: it and the fourth are refused whole.
    assert [type(o).__name__ for o in outcomes] == ["Accepted"] * 2 + ["SendRefused"] * 2
    assert {r.code for r in refused} == {"daily_limit"}
    assert sum(a.accepted for a in accepted) == 4
    with gateway.session() as session:
        used = session.scalar(
            select(SmsDailyUsage.count).where(
                SmsDailyUsage.department_id == food.id, SmsDailyUsage.day == accept._day(NOW)
            )
        )
    assert used == 4  # what was refused is not counted against tomorrow's patience
    with gateway.session() as session:
        one_more = queue.send_many(
            session,
            [Send(to=["+919811299999"], text="x", department_id=food.id, department_code="FOOD")],
            now=NOW,
        )
    assert isinstance(one_more[0], Accepted)


def test_two_requests_with_one_idempotency_key_in_a_group_queue_once(
    gateway: Gateway, seeded: SeedReport
) -> None:
    food = department(gateway, "FOOD")
    twin = for_department(
        "FOOD", food.id, to="+919811300001", text="Card ready", idempotency_key="k-1"
    )
    with gateway.session() as session:
        outcomes = queue.send_many(session, [twin, twin], now=NOW)
    assert isinstance(outcomes[0], Accepted)
    assert isinstance(outcomes[1], SendRefused) and outcomes[1].code == "idempotency_conflict"
    with gateway.session() as session:
        again = queue.send_many(session, [twin], now=NOW)
    assert isinstance(again[0], Accepted) and again[0].replayed
    assert again[0].batch_id == outcomes[0].batch_id
    assert again[0].replayed_messages == [(outcomes[0].message_ids[0], "+919811300001", "queued")]
    assert messages_to(gateway, "+919811300001") == 1


def test_concurrent_requests_are_written_in_fewer_transactions_than_requests(
    gateway: Gateway, seeded: SeedReport
) -> None:
    food_key = seeded.api_keys["FOOD"]
    woken: list[int] = []
    intake = SendIntake(gateway.db, on_commit=lambda: woken.append(1))

    def job(n: int, key: str = food_key) -> SendJob:
        def make(dept: Department) -> Send:
            return for_department(
                "FOOD", dept.id, to=f"+9198114{n:05d}", text=f"Token {n} is ready"
            )

        return SendJob(key, make)

    async def burst() -> list[object]:
        jobs = [job(n) for n in range(200)] + [job(999, "sk_nothere.secret")]
        return await asyncio.gather(*(intake.submit(j) for j in jobs))

    outcomes = asyncio.run(burst())
    assert all(isinstance(o, Accepted) and o.accepted == 1 for o in outcomes[:200])
    assert outcomes[200] is None  # an unknown key is refused, not queued
    assert intake.requests == 201
    assert intake.groups < 20, intake.groups
    assert 1 <= len(woken) <= intake.groups
    with gateway.session() as session:
        batches = session.scalar(select(func.count()).where(SmsBatch.text.like("Token % is ready")))
    assert batches == 200
    assert messages_to(gateway, "+919811499999") == 0


def test_a_twin_committed_by_another_process_mid_group_is_replayed(
    gateway: Gateway, seeded: SeedReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process commits the same idempotency key after this group looked for it: the
    group's insert clashes, so each request is written on its own and the twin replays."""
    food_key = seeded.api_keys["FOOD"]
    food = department(gateway, "FOOD")
    twin = for_department(
        "FOOD", food.id, to="+919811500001", text="Card ready", idempotency_key="race-1"
    )
    raced: list[int] = []
    replays = accept._replays

    def other_process_commits_after_the_lookup(*args: Any) -> None:
        replays(*args)
        if not raced:
            raced.append(0)
            with gateway.session() as other:
                raced[0] = queue.send(other, twin, now=NOW).batch_id

    def make_other(dept: Department) -> Send:
        return for_department("FOOD", dept.id, to="+919811500002", text="Card ready too")

    intake = SendIntake(gateway.db)
    # Use the key once first, so the group below writes nothing before its insert (on SQLite a
    # write would hold the database, and the other process could not commit in between).
    assert isinstance(asyncio.run(intake.submit(SendJob(food_key, make_other))), Accepted)
    monkeypatch.setattr(accept, "_replays", other_process_commits_after_the_lookup)

    async def both() -> list[object]:
        return await asyncio.gather(
            intake.submit(SendJob(food_key, make_other)),
            intake.submit(SendJob(food_key, lambda dept: twin)),
        )

    other, replay = asyncio.run(both())
    assert isinstance(other, Accepted) and other.accepted == 1 and not other.replayed
    assert isinstance(replay, Accepted) and replay.replayed and replay.batch_id == raced[0]
    assert messages_to(gateway, "+919811500001") == 1
    assert messages_to(gateway, "+919811500002") == 2


def test_small_requests_and_campaigns_take_turns_in_groups(gateway: Gateway) -> None:
    intake = SendIntake(gateway.db)
    loop = asyncio.new_event_loop()
    try:

        def job(recipients: int) -> tuple[SendJob, asyncio.Future[object]]:
            return SendJob("sk_x.y", lambda dept: Send(to=[], text=""), recipients), (
                loop.create_future()
            )

        campaign_a, campaign_b = job(10_000), job(5_000)
        singles = [job(1) for _ in range(3)]
        intake._waiting = [campaign_a, singles[0], campaign_b, singles[1], singles[2]]  # type: ignore[assignment]
        order = []
        while intake._waiting:
            order.append([entry[0].recipients for entry in intake._next_group()])
    finally:
        loop.close()
    # The singles waiting behind a campaign go first, then the campaigns one at a time.
    assert order == [[1, 1, 1], [10_000], [5_000]]
