"""Two citizens opening a department's menu at the same moment, before its gateway call
services were ever stored: both get the menu (the second finds the row the first stored)."""

from __future__ import annotations

import threading

from sqlalchemy import delete, select

from seva.demo.seed import SeedReport
from seva.flows import calls
from seva.flows.models import Service
from seva.gateway import Gateway
from seva.tenancy import service as tenancy


def test_first_use_by_two_requests_at_once_stores_one_row(
    gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        session.execute(delete(Service).where(Service.builtin, Service.slug == calls.CALL))
    barrier = threading.Barrier(2)
    found: list[int] = []
    failed: list[BaseException] = []

    def first_use() -> None:
        try:
            with gateway.session() as session:
                department = tenancy.department_by_code(session, "FOOD")
                assert department is not None
                barrier.wait(timeout=10)
                service = calls.service_for(session, department, calls.CALL)
                assert service is not None
                found.append(service.id)
        except BaseException as exc:  # reported below, on the test's thread
            failed.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failed, failed
    with gateway.session() as session:
        stored = session.scalars(
            select(Service.id).where(Service.builtin, Service.slug == calls.CALL)
        ).all()
    assert len(found) == 2 and len(set(found)) == 1
    assert stored == found[:1]
