"""Where locker files live: one small interface, files on disk by default.

Keys are content addresses (``ab/cd/<sha256>``): the same bytes stored twice take the space
once, a key can never be made to point outside the store's root, and a file's name on disk
says nothing about whose it is. Writes go to a temporary file that is fsynced and renamed,
so a crash never leaves half a document behind a committed row.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


class Storage(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; returns its key."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; KeyError when there are none."""
        ...


def key_of(data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


class FileStorage:
    """Files under a directory (``SEVA_DATA_DIR/files`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise KeyError(key)
        return self.root / key

    def put(self, data: bytes) -> str:
        key = key_of(data)
        path = self._path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None
