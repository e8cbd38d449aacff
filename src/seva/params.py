"""Bounded types for the numbers a request carries in its path, query or form.

A number from outside is compared with a database column, and a number the column cannot hold
does not fail as "not found": SQLite's driver raises ``OverflowError`` past 2**63 - 1, and
PostgreSQL answers "integer out of range" past 2**31 - 1 for an ``INTEGER`` column (the
parameter is cast to the column's type). Either would reach the client as a 500. These types
refuse such a number when the request is read, with the route's 4xx (a JSON error for the
APIs, a page for a browser: ``seva.errors``).

Every route takes one of these (or its own ``Field``/``Query`` with both bounds) instead of a
bare ``int``: ``tests/test_bounds.py`` walks every route and fails on an unbounded number.
The constraints are plain ``Field`` metadata, so one type serves as a path, query or form
parameter alike (``Annotated[RowId, Form()]``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

INTEGER_MAX = 2**31 - 1
"""The largest ``INTEGER`` on PostgreSQL: the ids of ``db.base.intpk`` tables."""
BIGINT_MAX = 2**63 - 1
"""The largest ``BIGINT`` on PostgreSQL and ``INTEGER`` on SQLite: ``messaging.models.BigId``."""

RowId = Annotated[int, Field(ge=1, le=INTEGER_MAX)]
"""The id of a row with an ``intpk`` primary key (documents, recordings, batches…)."""
BigRowId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
"""The id of a row with a ``BigId`` primary key (SMS messages)."""
AfterRowId = Annotated[int, Field(ge=0, le=INTEGER_MAX)]
"""A paging cursor over ``intpk`` ids: rows after (or before) this one; 0 means none."""
AfterBigRowId = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
"""A paging cursor over ``BigId`` ids."""
