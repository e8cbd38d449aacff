"""Application references: unguessable, unique, and found however a citizen types them."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

from fastapi.testclient import TestClient

from seva import references
from seva.applications import service as applications
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.tenancy.service import department_by_code

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NEW_REF = re.compile(r"^FOOD-([0-9A-HJKMNP-TV-Z]{8})$")


def sms(client: TestClient, text: str, sender: str) -> str:
    response = client.get("/channels/sms/kannel", params={"from": sender, "text": text})
    assert response.status_code == 200, response.text
    return response.text


def file_applications(gateway: Gateway, count: int) -> list[str]:
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        return [
            applications.create(
                session,
                department=food,
                service="ration-card-new",
                kind="new-ration-card",
                status="Received",
                data={},
                channel="sms",
                citizen=None,
            ).ref
            for _ in range(count)
        ]


def common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), len(a))


def test_a_thousand_references_are_unique_and_unguessable(
    gateway: Gateway, seeded: SeedReport
) -> None:
    refs = file_applications(gateway, 1000)
    assert len(set(refs)) == 1000
    parts = []
    for ref in refs:
        match = NEW_REF.match(ref)
        assert match, ref
        parts.append(match.group(1))
    # Counting would make neighbours: read as base-32 numbers, one reference never tells the
    # next (no steady step between consecutive ones), and no two share a long beginning.
    numbers = [
        int(part.translate(str.maketrans(CROCKFORD, "0123456789abcdefghijklmnopqrstuv")), 32)
        for part in parts
    ]
    steps = {b - a for a, b in itertools.pairwise(numbers)}
    assert len(steps) > 990
    ordered = sorted(parts)
    assert max(common_prefix(a, b) for a, b in itertools.pairwise(ordered)) <= 6
    # Every position uses the whole alphabet about evenly: close to 5 bits a character.
    for position in range(8):
        counts = Counter(part[position] for part in parts)
        assert set(counts) == set(CROCKFORD), position
        assert max(counts.values()) < 70, (position, counts.most_common(1))
    letters = Counter("".join(parts))
    entropy = -sum(n / 8000 * math.log2(n / 8000) for n in letters.values())
    assert entropy > 4.95
    assert references.BITS >= 40


def test_a_reference_is_found_however_it_is_typed(gateway: Gateway, seeded: SeedReport) -> None:
    (ref,) = file_applications(gateway, 1)
    part = ref.removeprefix("FOOD-")
    # What people type for a printed 0 or 1, for illustration on a part that has them.
    misread = part.replace("0", "O").replace("1", "l")
    typed = [ref.lower(), f" food - {part[:4]} {part[4:]} ", f"FOOD{part}", f"food-{misread}"]
    with gateway.session() as session:
        for text in typed:
            found = applications.find(session, text)
            assert found is not None and found.ref == ref, text
        assert applications.find(session, "FOOD-" + "Z" * 8) is None
        assert applications.find(session, "TEST-0001") is not None  # older references too


def test_references_with_letters_in_place_of_digits() -> None:
    assert references.forms_of("food-4f7k2m9o") == ["FOOD-4F7K2M9O", "FOOD-4F7K2M90"]
    assert references.forms_of("FOOD 4F7K 2M9Q") == ["FOOD4F7K2M9Q", "FOOD-4F7K2M9Q"]
    assert references.forms_of("test-0001") == ["TEST-0001"]
    assert references.forms_of("MCD-000042") == ["MCD-000042"]
    assert references.forms_of("FOOD-4F7K2M9U") == ["FOOD-4F7K2M9U"]  # U is never in one
    assert len({references.random_part() for _ in range(100)}) == 100


def test_the_status_keyword_takes_a_new_reference_typed_loosely(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    (ref,) = file_applications(gateway, 1)
    part = ref.removeprefix("FOOD-")
    for text in (f"STATUS {ref}", f"status {ref.lower()}", f"STATUS FOOD {part[:4]} {part[4:]}"):
        reply = sms(client, text, "+919811700001")
        assert reply.startswith(f"Application {ref} (Food & Civil Supplies): Received"), text
