"""The durable SMS queue: what is accepted is stored, claimed in priority order, and its
receipts decide delivered or failed."""

from __future__ import annotations

import time

import pytest

from seva.db.session import writer_turn
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as queue
from seva.messaging.service import Failure, Receipt, Send, SendRefused, Submitted
from seva.tenancy.service import department_by_code

NOW = 1_700_000_000.0
"""Before any message the demo seed queues (those are due at the real time of seeding)."""


def food_id(gateway: Gateway) -> int:
    with gateway.session() as session:
        department = department_by_code(session, "FOOD")
        assert department is not None
        return department.id


def test_claim_gives_otp_before_transactional_before_bulk(
    gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        bulk = queue.send(
            session,
            Send(to=["+919800000001", "+919800000002"], text="Camp on Sunday", kind="bulk"),
            now=NOW,
        )
        tx = queue.send(session, Send(to=["+919800000003"], text="Card ready"), now=NOW + 1)
        otp = queue.send(
            session, Send(to=["+919800000004"], text="OTP 123456", kind="otp"), now=NOW + 2
        )
    with gateway.session() as session:
        first = queue.claim(session, limit=2, now=NOW + 3)
        rest = queue.claim(session, limit=10, now=NOW + 3)
        none = queue.claim(session, limit=10, now=NOW + 3)
    assert [c.id for c in first] == otp.message_ids + tx.message_ids
    assert sorted(c.id for c in rest) == sorted(bulk.message_ids)
    assert none == []
    assert all(c.attempts == 1 for c in first + rest)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one writer at a time
def test_an_empty_queue_is_claimed_without_the_writer_turn(
    gateway: Gateway, seeded: SeedReport
) -> None:
    """A dispatcher polls the queue several times a second; finding it empty must not take
    SQLite's one writer turn from the citizens' hops (``channels.front``)."""
    turn = writer_turn(gateway.db.engine)
    assert turn is not None and turn.acquire(timeout=5)  # held elsewhere: by this test
    try:
        started = time.monotonic()
        with gateway.session() as session:
            assert queue.claim(session, limit=10, now=NOW) == []
        assert time.monotonic() - started < 1  # not the turn's 10 s wait
    finally:
        turn.release()


def test_scheduled_message_waits_for_its_time(gateway: Gateway, seeded: SeedReport) -> None:
    with gateway.session() as session:
        accepted = queue.send(
            session, Send(to=["+919800000001"], text="Later", due_at=NOW + 3600), now=NOW
        )
    with gateway.session() as session:
        assert queue.claim(session, limit=10, now=NOW + 60) == []
        assert [c.id for c in queue.claim(session, limit=10, now=NOW + 3600)] == (
            accepted.message_ids
        )


def test_a_dead_dispatchers_lease_returns_the_message(gateway: Gateway, seeded: SeedReport) -> None:
    with gateway.session() as session:
        accepted = queue.send(session, Send(to=["+919800000001"], text="Hello"), now=NOW)
    with gateway.session() as session:
        assert len(queue.claim(session, limit=10, now=NOW, lease=30)) == 1
    with gateway.session() as session:
        assert queue.recover_leases(session, now=NOW + 10) == 0
        assert queue.claim(session, limit=10, now=NOW + 10) == []
        assert queue.recover_leases(session, now=NOW + 31) == 1
        again = queue.claim(session, limit=10, now=NOW + 31)
    assert [c.id for c in again] == accepted.message_ids
    assert again[0].attempts == 2


def test_long_message_is_delivered_when_every_part_is(gateway: Gateway, seeded: SeedReport) -> None:
    with gateway.session() as session:
        accepted = queue.send(
            session, Send(to=["+919800000001"], text="नमस्ते " * 30, kind="transactional"), now=NOW
        )
        assert accepted.parts == 4
        (mid,) = accepted.message_ids
        queue.claim(session, limit=1, now=NOW)
        queue.record_submitted(
            session, [Submitted(mid, "sim", ["a1", "a2", "a3", "a4"])], now=NOW + 1
        )
    assert _status(gateway, mid) == "submitted"
    with gateway.session() as session:
        receipts = [Receipt("sim", f"a{n}", "DELIVRD") for n in (1, 2, 3)]
        unknown = queue.apply_receipts(session, receipts, now=NOW + 2)
    assert unknown == []
    assert _status(gateway, mid) == "submitted"
    with gateway.session() as session:
        # A repeated receipt must not count twice; the fourth part completes the message.
        queue.apply_receipts(session, [Receipt("sim", "a1", "DELIVRD")], now=NOW + 3)
        assert _status(gateway, mid) == "submitted"
        queue.apply_receipts(session, [Receipt("sim", "a4", "DELIVRD")], now=NOW + 3)
    assert _status(gateway, mid) == "delivered"


def test_one_undeliverable_part_fails_the_message(gateway: Gateway, seeded: SeedReport) -> None:
    with gateway.session() as session:
        (mid,) = queue.send(
            session, Send(to=["+919800000001"], text="x" * 200), now=NOW
        ).message_ids
        queue.claim(session, limit=1, now=NOW)
        queue.record_submitted(session, [Submitted(mid, "sim", ["b1", "b2"])], now=NOW)
        unknown = queue.apply_receipts(
            session,
            [
                Receipt("sim", "b1", "DELIVRD"),
                Receipt("sim", "b2", "UNDELIV", "001"),
                Receipt("sim", "zz", "DELIVRD"),
            ],
            now=NOW + 1,
        )
    assert [r.smsc_id for r in unknown] == ["zz"]
    with gateway.session() as session:
        view = queue.message(session, mid)
    assert view is not None and view.status == "failed"
    assert view.error == "UNDELIV (err 001)"


def test_failures_retry_with_backoff_then_give_up(gateway: Gateway, seeded: SeedReport) -> None:
    with gateway.session() as session:
        (mid,) = queue.send(session, Send(to=["+919800000001"], text="Hi"), now=NOW).message_ids
    now = NOW
    for attempt in range(1, queue.MAX_ATTEMPTS + 1):
        with gateway.session() as session:
            (claimed,) = queue.claim(session, limit=1, now=now)
            assert claimed.attempts == attempt
            queue.record_failures(
                session,
                [Failure(mid, "ESME_RSYSERR", permanent=False)],
                now=now,
                attempts={mid: claimed.attempts},
            )
            assert queue.claim(session, limit=1, now=now + 1) == []
        now += queue.retry_delay(attempt)
    with gateway.session() as session:
        view = queue.message(session, mid)
    assert view is not None and view.status == "failed"
    assert view.error == f"gave up after {queue.MAX_ATTEMPTS} tries: ESME_RSYSERR"


def test_a_permanent_error_fails_at_once(gateway: Gateway, seeded: SeedReport) -> None:
    with gateway.session() as session:
        (mid,) = queue.send(session, Send(to=["+919800000001"], text="Hi"), now=NOW).message_ids
        queue.claim(session, limit=1, now=NOW)
        queue.record_failures(
            session, [Failure(mid, "invalid destination", permanent=True)], now=NOW, attempts={}
        )
    assert _status(gateway, mid) == "failed"


def test_throttled_messages_go_back_untried(gateway: Gateway, seeded: SeedReport) -> None:
    with gateway.session() as session:
        (mid,) = queue.send(session, Send(to=["+919800000001"], text="Hi"), now=NOW).message_ids
        queue.claim(session, limit=1, now=NOW)
        queue.requeue(session, [mid], now=NOW, delay=2)
        assert queue.claim(session, limit=1, now=NOW + 1) == []
        (again,) = queue.claim(session, limit=1, now=NOW + 2)
    assert again.attempts == 1


def test_stop_keeps_bulk_away_but_not_otp(gateway: Gateway, seeded: SeedReport) -> None:
    dept = food_id(gateway)
    with gateway.session() as session:
        queue.opt_out(session, "+919800000002", "FOOD")
        bulk = queue.send(
            session,
            Send(
                to=["+919800000001", "+919800000002"],
                text="Camp",
                kind="bulk",
                department_id=dept,
                department_code="FOOD",
            ),
            now=NOW,
        )
        otp = queue.send(
            session,
            Send(
                to=["+919800000002"],
                text="OTP 1",
                kind="otp",
                department_id=dept,
                department_code="FOOD",
            ),
            now=NOW,
        )
    assert bulk.accepted == 1 and bulk.opted_out == ["+919800000002"]
    assert otp.accepted == 1


def test_daily_quota_refuses_the_whole_request(gateway: Gateway, seeded: SeedReport) -> None:
    dept = food_id(gateway)
    with gateway.session() as session:
        queue.ensure_account(session, dept).daily_quota = 3
    with gateway.session() as session:
        queue.send(
            session,
            Send(to=["+919800000001", "+919800000002"], text="a", department_id=dept),
            now=NOW,
        )
    with pytest.raises(SendRefused) as refused, gateway.session() as session:
        queue.send(
            session,
            Send(to=["+919800000003", "+919800000004"], text="b", department_id=dept),
            now=NOW,
        )
    assert refused.value.code == "daily_limit"
    with gateway.session() as session:
        # The refused request left nothing behind, and one more still fits today.
        assert (
            queue.send(
                session,
                Send(to=["+919800000005"], text="c", department_id=dept),
                now=NOW,
            ).accepted
            == 1
        )
        assert queue.inbox(session, "+919800000003") == []


def test_dlt_templates_decide_what_a_registered_header_may_send(
    gateway: Gateway, seeded: SeedReport
) -> None:
    dept = food_id(gateway)
    with gateway.session() as session:
        queue.register_header(session, dept, "FOODGV", "government")
        queue.register_template(
            session,
            dept,
            template_id="1107160000000000001",
            header="FOODGV",
            category="government",
            body="Ration card {#var#}: your grain is ready at FPS {#var#}. -Food Dept",
        )
    send = Send(
        to=["+919800000001"],
        text="Ration card 1234567890: your grain is ready at FPS 112. -Food Dept",
        department_id=dept,
        sender="FOODGV",
    )
    with gateway.session() as session:
        accepted = queue.send(session, send, now=NOW)
        view = queue.message(session, accepted.message_ids[0])
        assert view is not None and view.template_id == "1107160000000000001"
    for sender, text, code in [
        ("FOODGV", "Ration card 1: your rice is ready at FPS 2. -Food Dept", "template_mismatch"),
        ("OTHERS", send.text, "sender_not_registered"),
    ]:
        with pytest.raises(SendRefused) as refused, gateway.session() as session:
            queue.send(
                session,
                Send(to=send.to, text=text, department_id=dept, sender=sender),
                now=NOW,
            )
        assert refused.value.code == code, refused.value.message


def test_idempotency_key_replays_instead_of_sending_twice(
    gateway: Gateway, seeded: SeedReport
) -> None:
    dept = food_id(gateway)
    send = Send(
        to=["+919800000001"],
        text="Once",
        department_id=dept,
        idempotency_key="order-77",
    )
    with gateway.session() as session:
        first = queue.send(session, send, now=NOW)
    with gateway.session() as session:
        second = queue.send(session, send, now=NOW + 5)
        assert len(queue.inbox(session, "+919800000001")) == 1
    assert second.replayed and second.batch_id == first.batch_id
    assert second.message_ids == first.message_ids


def _status(gateway: Gateway, message_id: int) -> str:
    with gateway.session() as session:
        view = queue.message(session, message_id)
        assert view is not None
        return view.status


def test_a_quota_lowered_earlier_in_the_same_transaction_already_counts(
    gateway: Gateway, seeded: SeedReport
) -> None:
    """The quota is read with a statement of its own: what the transaction changed but has not
    written yet is written first, as an ORM query would."""
    dept = food_id(gateway)
    with pytest.raises(SendRefused) as refused, gateway.session() as session:
        queue.ensure_account(session, dept).daily_quota = 1
        queue.send(
            session,
            Send(to=["+919800000001", "+919800000002"], text="a", department_id=dept),
            now=NOW,
        )
    assert refused.value.code == "daily_limit"
