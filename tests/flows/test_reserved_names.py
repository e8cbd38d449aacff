"""A service cannot save an answer or a backend's reply under the gateway's own names."""

from __future__ import annotations

import pytest

from seva.flows.loader import DefinitionError, parse_definition

SERVICE = """\
seva: 1
service: shadow
department: FOOD
title: {{en: Shadow, hi: छाया}}
steps:
  - call: {{url: "https://pds.example.gov.in/lookup", save: {name}}}
  - call: {{url: "{{seva.base_url}}/demo/backend/x", save: other}}
  - end: {{en: done, hi: हो गया}}
"""


@pytest.mark.parametrize("name", ["seva", "phone"])
def test_the_gateways_names_are_reserved(name: str) -> None:
    """Saved as ``seva``, a backend's answer would become ``{seva.base_url}`` and choose the
    host of the next call."""
    with pytest.raises(DefinitionError):
        parse_definition(SERVICE.format(name=name))


def test_other_names_load() -> None:
    parse_definition(SERVICE.format(name="card"))
