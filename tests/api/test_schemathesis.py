"""Every operation in ``/openapi.json``, fuzzed by schemathesis: no input a client can send
gets a 5xx, and every documented response matches its schema.

Operations that declare ``DepartmentKey`` are called with the FOOD department's key and those
that declare ``CitizenToken`` with a logged-in citizen's token, so the generated inputs reach
the handlers instead of stopping at a 401. The number of examples per operation is bounded
(``SEVA_FUZZ_EXAMPLES``, 25 by default) so the run stays within a few minutes; a longer run is
the same test with a larger number. The counts are printed at the end of the run.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from seva.app import create_app
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.settings import Settings
from tests.api.helpers import login

EXAMPLES = int(os.environ.get("SEVA_FUZZ_EXAMPLES", "15"))


def not_a_server_error(ctx: Any, response: Any, case: Any) -> bool:
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: "
        f"{response.text[:300]}"
    )
    return True


CHECKS = (not_a_server_error, response_schema_conformance, content_type_conformance)


def test_no_input_gets_a_server_error(
    gateway: Gateway, settings: Settings, seeded: SeedReport
) -> None:
    """Each operation gets ``EXAMPLES`` generated requests (Hypothesis, derandomised so a
    failure repeats); the first failing example of each operation is reported."""
    app = create_app(settings, gateway=gateway)
    with TestClient(app) as client:
        credentials = {
            "DepartmentKey": seeded.api_keys["FOOD"],
            "CitizenToken": login(client, gateway, "+919811000777"),
        }
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    counts: Counter[str] = Counter()
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()
        counts["operations"] += 1
        schemes = [n for need in operation.definition.raw.get("security") or [] for n in need]
        auth = next(
            (f"Bearer {credentials[n]}" for n in ("CitizenToken", "DepartmentKey") if n in schemes),
            None,
        )

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def exercise(case: Any) -> None:
            headers = dict(case.headers or {})
            if auth is not None:
                headers["Authorization"] = auth
            counts["requests"] += 1
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    counts["failures"] = len(failures)
    print(
        f"\nschemathesis ({gateway.db.engine.dialect.name}): {counts['operations']} operations, "
        f"{counts['requests']} requests, {counts['failures']} failing operations"
    )
    assert not failures, "\n\n".join(failures)
