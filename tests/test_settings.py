"""Settings: what they refuse, and what they never print."""

from __future__ import annotations

from pathlib import Path

from seva.settings import Settings

SECRETS = {
    "secret_key": "key-0f3a9c1d2e",
    "smsc": "smpp://seva:smpp-pw-77a1@10.20.0.5:2775?name=airtel",
    "files_url": "s3://AKIAEXAMPLE:s3-secret-91b2@minio:9000/locker",
    "database_url": "postgresql://seva:db-pw-5c6d@db.internal/seva",
    "redis_url": "redis://:redis-pw-8e9f@cache.internal:6379/0",
    "janus_admin_secret": "janus-secret-4b3c",
    "janus_admin_key": "janus-key-2a1b",
    "turn_secret": "turn-secret-6d7e",
    "twilio_auth_token": "twilio-token-3f4a",
}
WORDS = ("0f3a9c1d2e", "77a1", "91b2", "5c6d", "8e9f", "4b3c", "2a1b", "6d7e", "3f4a")
"""A piece of each secret above (the passwords inside the URLs too)."""


def test_settings_never_print_their_secrets(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, **SECRETS)  # type: ignore[arg-type]
    for shown in (repr(settings), str(settings), settings.model_dump_json(), f"{settings!r}"):
        for word in WORDS:
            assert word not in shown
    # The places that need them still get them.
    assert settings.secret_key.get_secret_value() == SECRETS["secret_key"]
    assert settings.effective_database_url == SECRETS["database_url"]
