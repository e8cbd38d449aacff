"""Settings: what they refuse, and what they never print."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from seva.settings import DEFAULT_SECRET, Settings

SECRETS = {
    "secret_key": "key-0f3a9c1d2e-77b8c9",
    "smsc": "smpp://seva:smpp-pw-77a1@10.20.0.5:2775?name=airtel",
    "files_url": "s3://AKIAEXAMPLE:s3-secret-91b2@minio:9000/locker",
    "database_url": "postgresql://seva:db-pw-5c6d@db.internal/seva",
    "redis_url": "redis://:redis-pw-8e9f@cache.internal:6379/0",
    "janus_admin_secret": "janus-secret-4b3c",
    "janus_admin_key": "janus-key-2a1b",
    "turn_secret": "turn-secret-6d7e",
    "twilio_auth_token": "twilio-token-3f4a",
    "kannel_secret": "kannel-9a0b",
    "africastalking_secret": "at-1c2d",
    "twiml_secret": "twiml-3e4f",
    "exotel_secret": "exotel-5a6b",
}
WORDS = ("0f3a9c1d2e", "77a1", "91b2", "5c6d", "8e9f", "4b3c", "2a1b", "6d7e", "3f4a", "9a0b",
         "1c2d", "3e4f", "5a6b")  # fmt: skip
"""A piece of each secret above (the passwords inside the URLs too)."""


def test_settings_never_print_their_secrets(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, **SECRETS)  # type: ignore[arg-type]
    for shown in (repr(settings), str(settings), settings.model_dump_json(), f"{settings!r}"):
        for word in WORDS:
            assert word not in shown
    # The places that need them still get them.
    assert settings.secret_key.get_secret_value() == SECRETS["secret_key"]
    assert settings.effective_database_url == SECRETS["database_url"]


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_only_the_demo_runs_on_the_built_in_secret(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEVA_SECRET_KEY")
    with pytest.raises(ValidationError) as refused:
        Settings(env=env, data_dir=tmp_path)  # type: ignore[arg-type]
    message = str(refused.value)
    assert "SEVA_SECRET_KEY" in message and "secrets.token_urlsafe(32)" in message
    assert Settings(env=env, data_dir=tmp_path, secret_key="k" * 40).env == env  # type: ignore[arg-type]
    assert Settings(env="demo", data_dir=tmp_path).secret_key.get_secret_value() == DEFAULT_SECRET


def test_demo_routes_only_in_the_demo_or_a_test_that_asks(tmp_path: Path) -> None:
    common = {"data_dir": tmp_path, "secret_key": "k" * 40}
    assert Settings(env="demo", **common).serves_demo_routes  # type: ignore[arg-type]
    for env in ("development", "test", "production"):
        assert not Settings(env=env, **common).serves_demo_routes  # type: ignore[arg-type]
    assert Settings(env="test", demo_routes=True, **common).serves_demo_routes  # type: ignore[arg-type]
    for env in ("development", "production"):
        with pytest.raises(ValidationError, match="SEVA_DEMO_ROUTES"):
            Settings(env=env, demo_routes=True, **common)  # type: ignore[arg-type]


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_sms_dispatch_needs_an_smsc_outside_the_demo(env: str, tmp_path: Path) -> None:
    """Without one, the demo's SMSC simulator would mark messages delivered that never left."""
    common = {"data_dir": tmp_path, "secret_key": "k" * 40, "sms_dispatch": True}
    with pytest.raises(ValidationError, match="SEVA_SMSC"):
        Settings(env=env, **common)  # type: ignore[arg-type]
    assert Settings(env=env, smsc="smpp://a:b@10.0.0.5:2775", **common).sms_dispatch  # type: ignore[arg-type]
    assert Settings(env="demo", **common).sms_dispatch  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", "   ", "short-key-15chr"])
def test_an_empty_or_short_secret_key_is_refused(key: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="shorter than 16"):
        Settings(env="production", data_dir=tmp_path, secret_key=key)
