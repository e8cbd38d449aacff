"""Locker stores: content-addressed keys in an S3-compatible bucket (moto's server on
loopback standing in for MinIO or AWS), the one-setting URL that picks a store, and a
gateway that issues and reads documents through the bucket."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from seva.citizens import service as citizens
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.locker import service as locker
from seva.locker.storage import (
    FileStorage,
    S3Storage,
    _S3Url,
    key_of,
    storage_from_url,
)
from seva.settings import Settings
from tests.locker.test_locker import PHONE, issue, jpeg_with_gps

REGION = "ap-south-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def admin(endpoint: str) -> Any:
    """A plain client to look into the bucket behind the store's back (one per module:
    a boto3 client takes a few hundred milliseconds to build)."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("s3", endpoint_url=f"http://{endpoint}")


@pytest.fixture
def bucket(admin: Any) -> str:
    """A fresh bucket per test, so object counts are this test's alone."""
    name = f"locker-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def url(endpoint: str, bucket: str, prefix: str = "seva/files") -> str:
    return f"s3://testing:testing@{endpoint}/{bucket}/{prefix}?region={REGION}&tls=0"


def names(admin: Any, bucket: str) -> list[str]:
    listed = admin.list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_bytes_come_back_under_their_content_address(endpoint: str, bucket: str) -> None:
    store = storage_from_url(url(endpoint, bucket), Path("/nonexistent"))
    assert isinstance(store, S3Storage)
    data = b"%PDF-1.4 ration card\x00\xff"
    key = store.put(data)
    assert key == key_of(data) and key.endswith(hashlib.sha256(data).hexdigest())
    assert store.get(key) == data
    assert store.put(b"") == key_of(b"") and store.get(key_of(b"")) == b""


def test_the_same_bytes_are_uploaded_once(endpoint: str, bucket: str, admin: Any) -> None:
    store = S3Storage.from_url(url(endpoint, bucket))
    uploads: list[str] = []
    store.client.meta.events.register(
        "before-call.s3.PutObject", lambda **kwargs: uploads.append("put")
    )
    first = store.put(b"same bytes")
    second = store.put(b"same bytes")
    assert first == second and len(uploads) == 1
    assert names(admin, bucket) == [f"seva/files/{first}"]


def test_missing_and_malicious_keys_are_key_errors(endpoint: str, bucket: str) -> None:
    store = S3Storage.from_url(url(endpoint, bucket))
    kept = store.put(b"kept")
    with pytest.raises(KeyError):
        store.get(key_of(b"never stored"))
    for bad in [
        "../x",
        "../../seva/files/" + kept,
        kept + "\n",
        kept.upper(),
        "/" + kept,
        kept.replace("/", "/../", 1),
        "",
    ]:
        with pytest.raises(KeyError):
            store.get(bad)


def test_the_prefix_keeps_stores_apart_in_one_bucket(
    endpoint: str, bucket: str, admin: Any
) -> None:
    one = S3Storage.from_url(url(endpoint, bucket, "node/one/"))
    other = S3Storage(one.client, bucket, "/node/two/")
    bare = S3Storage(one.client, bucket)
    key = one.put(b"only in one")
    assert names(admin, bucket) == [f"node/one/{key}"]
    with pytest.raises(KeyError):
        other.get(key)
    with pytest.raises(KeyError):
        bare.get(key)
    bare_key = bare.put(b"at the root")
    assert sorted(names(admin, bucket)) == sorted([f"node/one/{key}", bare_key])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "s3://AK:s%2Fe%2Bc@minio.internal:9000/locker/seva/files?region=ap-south-1&tls=0",
            ("AK", "s/e+c", "http://minio.internal:9000", "locker", "seva/files", "ap-south-1"),
        ),
        (
            "s3://s3.ap-south-1.amazonaws.com/gov-locker",
            (None, None, "https://s3.ap-south-1.amazonaws.com", "gov-locker", "", "us-east-1"),
        ),
        (
            "s3://k:s@[::1]:9000/b.u-c/p/?tls=1",
            ("k", "s", "https://[::1]:9000", "b.u-c", "p", "us-east-1"),
        ),
    ],
)
def test_good_s3_urls_are_understood(given: str, expected: tuple[object, ...]) -> None:
    parsed = _S3Url(given)
    got = (
        parsed.access_key,
        parsed.secret_key,
        parsed.endpoint,
        parsed.bucket,
        parsed.prefix,
        parsed.region,
    )
    assert got == expected and parsed.addressing == "path"


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("http://host/bucket", "must be empty, file:///path or s3://"),
        ("minio:9000/bucket", "must be empty, file:///path or s3://"),
        ("s3:///bucket", "needs a host"),
        ("s3://host", "bucket name"),
        ("s3://host/Bad_Bucket", "bucket name"),
        ("s3://host/b", "bucket name"),
        ("s3://host:port/bucket", "port"),
        ("s3://host:0/bucket", "port"),
        ("s3://onlykey@host/bucket", "both access key and secret"),
        ("s3://host/bucket/a/../b", "prefix"),
        ("s3://host/bucket/a//b", "prefix"),
        ("s3://host/bucket?tls=yes", "tls must be 0 or 1"),
        ("s3://host/bucket?regoin=x", "unknown option(s) regoin"),
        ("s3://host/bucket?region=ap-south-1&region=us-east-1", "once"),
        ("s3://host/bucket?region=Mumbai!", "region"),
        ("s3://host/bucket?addressing=dns", "addressing"),
        ("file://otherhost/srv/files", "absolute path"),
        ("file:relative/files", "absolute path"),
        ("file:///srv/files?x=1", "no ?query"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(given: str, reason: str) -> None:
    with pytest.raises(ValueError, match="SEVA_FILES_URL") as refused:
        storage_from_url(given, Path("/unused"))
    assert reason in str(refused.value)


def test_a_refused_url_does_not_repeat_its_secret() -> None:
    with pytest.raises(ValueError) as refused:
        storage_from_url("s3://KEY:topsecret@host/bucket?tls=2", Path("/unused"))
    assert "topsecret" not in str(refused.value)


def test_empty_and_file_urls_are_files_on_disk(tmp_path: Path) -> None:
    default = storage_from_url("", tmp_path / "files")
    assert isinstance(default, FileStorage) and default.root == tmp_path / "files"
    elsewhere = storage_from_url(f"file://{tmp_path}/shared%20files", tmp_path / "unused")
    assert isinstance(elsewhere, FileStorage) and elsewhere.root == tmp_path / "shared files"
    key = elsewhere.put(b"on disk")
    assert (tmp_path / "shared files" / key).read_bytes() == b"on disk"
    with pytest.raises(KeyError):
        elsewhere.get("../x")


def test_without_credentials_the_default_aws_chain_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The chain must stop at the environment: no instance-metadata lookup from a test.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Storage.from_url("s3://127.0.0.1:9/bucket/p?region=ap-south-1")
    credentials = store.client._request_signer._credentials
    assert credentials.access_key == "from-env"
    assert store.client.meta.endpoint_url == "https://127.0.0.1:9"
    assert store.client.meta.region_name == "ap-south-1"


@pytest.fixture
def settings(settings: Settings, endpoint: str, bucket: str) -> Settings:
    """The shared fixture's settings with the locker in the moto bucket."""
    return settings.model_copy(update={"files_url": SecretStr(url(endpoint, bucket))})


def test_a_gateway_keeps_issued_and_uploaded_documents_in_the_bucket(
    client: TestClient,
    gateway: Gateway,
    seeded: SeedReport,
    settings: Settings,
    admin: Any,
    bucket: str,
) -> None:
    assert isinstance(gateway.locker.storage, S3Storage)
    issued = issue(client, seeded)
    with gateway.session() as session:
        citizen = citizens.find(session, PHONE)
        assert citizen is not None
        uploaded = locker.add_file(
            session, gateway.locker, citizen, filename="id.jpg", data=jpeg_with_gps()
        )
        document = next(d for d in locker.documents(session, citizen) if d.kind != "uploaded")
        _, pdf = locker.open_own(session, gateway.locker, citizen, document.id)
        _, photo = locker.open_own(session, gateway.locker, citizen, uploaded.id)
        stored = sorted(f"seva/files/{d.storage_key}" for d in (document, uploaded))
    assert pdf.startswith(b"%PDF-") and hashlib.sha256(pdf).hexdigest() == issued["sha256"]
    assert hashlib.sha256(photo).hexdigest() == uploaded.sha256
    assert sorted(names(admin, bucket)) == stored
    assert not (settings.data_dir / "files").exists()
    genuine = client.post(f"/verify/{issued['uri']}", files={"file": ("c.pdf", pdf)})
    assert 'data-file-result="match"' in genuine.text
