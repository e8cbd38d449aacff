"""One Seva node as a process of its own, for ``test_relay``: something to ``kill -9``.

``python relay_node.py PORT DATABASE_URL REDIS_URL PREFIX DATA_DIR`` serves the app on
127.0.0.1:PORT with its call signalling relayed through Redis under PREFIX, and prints
``ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import uvicorn
from pydantic import SecretStr

from seva.app import create_app
from seva.gateway import build_gateway
from seva.rtc.relay import RoomRelay
from seva.settings import Settings

BEAT = 1.0
"""Short beats for tests (1 s, lapsing after 3 s): a dead node is found within a second."""


class AnnouncedServer(uvicorn.Server):
    """Says ``ready`` on stdout once the app has started and the port listens."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        print("ready", flush=True)


def main(port: int, database_url: str, redis_url: str, prefix: str, data_dir: Path) -> None:
    settings = Settings(
        env="test",
        data_dir=data_dir,
        secret_key="test-secret-key-16+",
        base_url=f"http://127.0.0.1:{port}",
        redis_url=SecretStr(redis_url),
    )
    gateway = build_gateway(settings, database_url=database_url)
    gateway.rtc.relay = RoomRelay(redis_url, gateway.rtc, prefix=prefix, beat=BEAT)
    app = create_app(settings, gateway=gateway)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    asyncio.run(AnnouncedServer(config).serve())


if __name__ == "__main__":
    port, database_url, redis_url, prefix, data_dir = sys.argv[1:6]
    main(int(port), database_url, redis_url, prefix, Path(data_dir))
