"""A service answered by the department's own backend (signed webhook) over the app API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport
from tests.api.helpers import answer, sms, start


@pytest.mark.demo_routes  # the demo's stand-in for the department's backend
def test_property_tax_over_the_api_equals_sms(
    client: TestClient, seeded: SeedReport, live: str
) -> None:
    started = start(client, "MCD", "property-tax")
    assert started["question"]["kind"] == "digits"
    done = answer(client, started["id"], "12345678")
    assert done["finished"] is True
    assert done["answer"].startswith("Property 12345678, ward ")
    assert done["answer"] == sms(client, "TAX 12345678", "+919811000801")
