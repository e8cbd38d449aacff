"""Department-uploaded CSV datasets that ``lookup`` steps read (e.g. ration cards by number).

An upload replaces the dataset whole, inside one transaction, so a lookup never sees half of
an old file and half of a new one.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from seva.db import catalog
from seva.flows.models import Dataset, DatasetRow

MAX_ROWS = 200_000
MAX_BYTES = 50 * 1024 * 1024
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class DatasetError(ValueError):
    pass


def upload_csv(
    session: Session, department_id: int, name: str, csv_text: str, key_column: str | None = None
) -> Dataset:
    """Replace dataset ``name`` with the rows of ``csv_text``; the first column is the key
    unless ``key_column`` names another. The caller commits."""
    if not NAME_RE.match(name):
        raise DatasetError("dataset name must be 2-63 lowercase letters, digits or dashes")
    if len(csv_text) > MAX_BYTES:
        raise DatasetError("dataset is larger than 50 MiB")
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    columns = [c.strip() for c in reader.fieldnames or [] if c is not None]
    if not columns:
        raise DatasetError("the CSV has no header row")
    key = key_column or columns[0]
    if key not in columns:
        raise DatasetError(f"key column {key!r} is not in the header: {', '.join(columns)}")
    dataset = session.scalar(
        select(Dataset).where(Dataset.department_id == department_id, Dataset.name == name)
    )
    if dataset is None:
        dataset = Dataset(department_id=department_id, name=name, key_column=key, columns=columns)
        session.add(dataset)
        session.flush()
    else:
        session.execute(delete(DatasetRow).where(DatasetRow.dataset_id == dataset.id))
        dataset.key_column = key
        dataset.columns = columns
    rows: list[dict[str, Any]] = []
    for number, record in enumerate(reader, start=2):
        if len(rows) >= MAX_ROWS:
            raise DatasetError(f"more than {MAX_ROWS} rows")
        if None in record:
            raise DatasetError(f"line {number}: more fields than the header has")
        clean = {k.strip(): (v or "").strip() for k, v in record.items() if k is not None}
        if not clean.get(key):
            raise DatasetError(f"line {number}: the key column {key!r} is empty")
        rows.append({"dataset_id": dataset.id, "key": _norm(clean[key]), "data": clean})
    if rows:
        session.execute(insert(DatasetRow), rows)
    dataset.row_count = len(rows)
    session.flush()
    return dataset


def department_datasets(session: Session, department_id: int) -> list[Dataset]:
    return list(
        session.scalars(
            select(Dataset).where(Dataset.department_id == department_id).order_by(Dataset.name)
        )
    )


def _norm(key: str) -> str:
    return " ".join(key.split()).casefold()


_ROW = (
    select(DatasetRow.data)
    .where(DatasetRow.dataset_id == bindparam("dataset"), DatasetRow.key == bindparam("key"))
    .limit(1)
)
"""A row by its key, the statement every lookup step runs, built once."""


def _datasets(session: Session) -> dict[tuple[int, str], int]:
    """Each department's datasets by name (the catalog memo: every lookup asks)."""
    rows = session.execute(select(Dataset.department_id, Dataset.name, Dataset.id))
    return {(department_id, name): dataset_id for department_id, name, dataset_id in rows}


def lookup(session: Session, department_id: int, name: str, key: str) -> dict[str, Any] | None:
    dataset_id = catalog.remember(session, "datasets", _datasets).get((department_id, name))
    if dataset_id is None:
        raise DatasetError(f"dataset {name!r} has not been uploaded")
    row = (
        session.connection()
        .execute(_ROW, {"dataset": dataset_id, "key": _norm(key)})
        .scalar_one_or_none()
    )
    return dict(row) if row is not None else None
