"""Where locker files live: one small interface, files on disk by default or in an
S3-compatible bucket when several nodes share them.

Keys are content addresses (``ab/cd/<sha256>``): the same bytes stored twice take the space
once, a key can never be made to point outside the store's root, and a file's name on disk
says nothing about whose it is. On disk, writes go to a temporary file that is fsynced and
renamed, so a crash never leaves half a document behind a committed row; in a bucket, the
PUT itself is atomic. ``storage_from_url`` turns the one ``SEVA_FILES_URL`` setting into a
store.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


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


def _checked(key: str) -> str:
    """The key if it is a content address, else KeyError: a key read back from a row is
    never trusted to name a path or object of its choosing (``$`` alone would let a
    trailing newline through, hence ``fullmatch``)."""
    if not _KEY.fullmatch(key):
        raise KeyError(key)
    return key


class FileStorage:
    """Files under a directory (``SEVA_DATA_DIR/files`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

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


class S3Storage:
    """Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW…), named by the same
    content addresses under an optional prefix, so several gateway nodes share one locker.

    No temporary object is needed: an S3 PUT is atomic — the object becomes visible whole,
    or not at all, and a failed or interrupted upload leaves nothing under the key. The body
    is sent with its Content-MD5, so the store refuses bytes damaged on the way rather than
    keeping them. A HEAD first skips the upload when the same bytes are already stored (the
    credentials need ``s3:ListBucket`` for a missing object to answer 404 rather than 403).
    """

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        """A store from ``s3://KEY:SECRET@host[:port]/bucket[/prefix][?options]``.

        Options: ``region`` (default us-east-1), ``tls=0|1`` (default 1, https) and
        ``addressing=path|virtual`` (default path, which MinIO and most stores need).
        Without user and password, boto3's default chain (environment, shared config,
        instance role) supplies the credentials. Percent-encode ``/`` and ``+`` in a secret.
        """
        config = _S3Url(url)
        # Imported here: boto3 takes a third of a second to import, which only S3
        # deployments should pay.
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(
            aws_access_key_id=config.access_key,
            aws_secret_access_key=config.secret_key,
            region_name=config.region,
        )
        client = session.client(
            "s3",
            endpoint_url=config.endpoint,
            config=Config(
                s3={"addressing_style": config.addressing},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                # botocore ≥ 1.36 adds CRC checksums that many S3-compatible stores
                # refuse; Content-MD5 (sent in ``put``) is understood by all of them.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        return cls(client, config.bucket, config.prefix)

    def _name(self, key: str) -> str:
        return self.prefix + _checked(key)

    def put(self, data: bytes) -> str:
        key = key_of(data)
        name = self._name(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
            return key
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
        md5 = hashlib.md5(data, usedforsecurity=False).digest()
        self.client.put_object(
            Bucket=self.bucket,
            Key=name,
            Body=data,
            ContentMD5=base64.b64encode(md5).decode("ascii"),
            ContentType="application/octet-stream",
        )
        return key

    def get(self, key: str) -> bytes:
        name = self._name(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise KeyError(key) from None
            raise
        with response["Body"] as body:
            return body.read()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class _S3Url:
    """The parts of an ``s3://`` files URL, checked. Messages never repeat the URL: it may
    hold a secret key."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host_port = parts.netloc.rpartition("@")[2]
        try:
            port = parts.port
        except ValueError:
            raise ValueError("SEVA_FILES_URL: the port must be a number 1–65535") from None
        if port == 0:
            raise ValueError("SEVA_FILES_URL: the port must be a number 1–65535")
        if not parts.hostname:
            raise ValueError("SEVA_FILES_URL: s3:// needs a host, as in s3://host:9000/bucket")
        user, password = parts.username, parts.password
        if bool(user) != bool(password):
            raise ValueError(
                "SEVA_FILES_URL: give both access key and secret (s3://KEY:SECRET@host/…) "
                "or neither, to use the default AWS credentials"
            )
        self.access_key = unquote(user) if user else None
        self.secret_key = unquote(password) if password else None
        bucket, _, prefix = parts.path.lstrip("/").partition("/")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket:
            raise ValueError(
                "SEVA_FILES_URL: the path must start with a bucket name "
                "(3–63 lowercase letters, digits, '.' and '-'), as in s3://host/bucket/prefix"
            )
        self.bucket = bucket
        prefix = unquote(prefix).strip("/")
        if prefix and any(segment in ("", ".", "..") for segment in prefix.split("/")):
            raise ValueError("SEVA_FILES_URL: the prefix must not hold empty, '.' or '..' parts")
        self.prefix = prefix
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise ValueError("SEVA_FILES_URL: the query must be name=value pairs") from None
        unknown = sorted(set(query) - {"region", "tls", "addressing"})
        if unknown:
            raise ValueError(
                f"SEVA_FILES_URL: unknown option(s) {', '.join(unknown)}; "
                "known: region, tls, addressing"
            )
        if any(len(values) > 1 for values in query.values()):
            raise ValueError("SEVA_FILES_URL: each option may be given once")
        self.region = query.get("region", ["us-east-1"])[0]
        if not re.fullmatch(r"[a-z0-9-]{1,40}", self.region):
            raise ValueError("SEVA_FILES_URL: region must look like ap-south-1")
        tls = query.get("tls", ["1"])[0]
        if tls not in ("0", "1"):
            raise ValueError("SEVA_FILES_URL: tls must be 0 or 1")
        self.endpoint = f"{'https' if tls == '1' else 'http'}://{self.host_port}"
        addressing = query.get("addressing", ["path"])[0]
        if addressing not in ("path", "virtual"):
            raise ValueError("SEVA_FILES_URL: addressing must be path or virtual")
        self.addressing: Literal["path", "virtual"] = "path" if addressing == "path" else "virtual"
        if parts.fragment:
            raise ValueError("SEVA_FILES_URL: a files URL has no #fragment")


def storage_from_url(url: str, default_root: Path) -> Storage:
    """The store ``SEVA_FILES_URL`` names: empty for files under ``default_root``,
    ``file:///path`` for files elsewhere on this machine, ``s3://…`` for a bucket
    (see ``S3Storage.from_url``). ValueError, with the reason, for anything else."""
    url = url.strip()
    if not url:
        return FileStorage(default_root)
    scheme = url.partition(":")[0].lower()
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError("SEVA_FILES_URL: a file URL names an absolute path, file:///path")
        if parts.query or parts.fragment:
            raise ValueError("SEVA_FILES_URL: a file URL takes no ?query or #fragment")
        return FileStorage(Path(unquote(parts.path)))
    if scheme == "s3":
        return S3Storage.from_url(url)
    raise ValueError("SEVA_FILES_URL must be empty, file:///path or s3://host/bucket")
