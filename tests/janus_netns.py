"""A real Janus (Debian ``janus``) for tests, in a network namespace of its own.

Janus leaves loopback out when it gathers ICE candidates, so a browser on this machine could
not reach it over 127.0.0.1. The fixture gives Janus a veth interface in a fresh network
namespace (10.203.N.2, the host side 10.203.N.1): the browser meets Janus's host candidate
over the veth pair, as it would a server on the LAN. Making a namespace needs root and
``ip``; without them, or without Janus, the tests that need it skip saying so (and fail under
``SEVA_TEST_STRICT=1``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from seva.rtc.janus import janus_config, other_libraries
from tests.conftest import need

JANUS = shutil.which("janus") or "/usr/bin/janus"


@dataclass(frozen=True)
class JanusServer:
    ip: str
    host_ip: str
    admin_url: str
    ws_url: str
    admin_secret: str
    admin_key: str
    log: Path


def _unavailable() -> str | None:
    if not Path(JANUS).exists():
        return "Janus (apt-get install janus)"
    if os.geteuid() != 0:
        return "root, to give Janus a network namespace (Janus ignores loopback for ICE)"
    if shutil.which("ip") is None:
        return "the ip command (apt-get install iproute2)"
    return None


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=20)


def _wait_for_port(ip: str, port: int, deadline: float, process: subprocess.Popen[bytes]) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Janus exited with {process.returncode}")
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Janus did not listen on {ip}:{port}")


def _subnet() -> int:
    """The third octet of this run's 10.203.x.0/24: random, within a band of its own for each
    pytest-xdist worker, so workers running at once never route the same subnet."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    band = 240 // max(1, min(workers, 240))
    return 10 + (index % 240) * band + secrets.randbelow(band)


@pytest.fixture(scope="session")
def janus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusServer]:
    missing = _unavailable()
    need(None if missing else "ok", missing or "")
    tag = secrets.token_hex(3)
    net = _subnet()
    namespace, host_if, janus_if = f"seva-janus-{tag}", f"sj{tag}h", f"sj{tag}j"
    host_ip, ip = f"10.203.{net}.1", f"10.203.{net}.2"
    folder = tmp_path_factory.mktemp("janus")
    admin_secret, admin_key = secrets.token_hex(12), secrets.token_hex(12)
    plugins, transports = other_libraries()
    files = janus_config(
        configs_folder=str(folder),
        admin_secret=admin_secret,
        admin_key=admin_key,
        ip=ip,
        other_plugins=plugins,
        other_transports=transports,
    )
    for name, text in files.items():
        (folder / name).write_text(text)
    log = folder / "janus.log"
    try:
        _run("ip", "netns", "add", namespace)
    except subprocess.CalledProcessError as exc:
        reason = exc.stderr.decode(errors="replace").strip()
        need(None, f"permission to create a network namespace for Janus ({reason})")
    process: subprocess.Popen[bytes] | None = None
    try:
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", janus_if)
        _run("ip", "link", "set", janus_if, "netns", namespace)
        _run("ip", "addr", "add", f"{host_ip}/24", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        _run("ip", "netns", "exec", namespace, "ip", "addr", "add", f"{ip}/24", "dev", janus_if)
        _run("ip", "netns", "exec", namespace, "ip", "link", "set", janus_if, "up")
        _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    namespace,
                    JANUS,
                    "-F",
                    str(folder),
                    "-C",
                    str(folder / "janus.jcfg"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        _wait_for_port(ip, 7088, deadline, process)
        _wait_for_port(ip, 8188, deadline, process)
        yield JanusServer(
            ip=ip,
            host_ip=host_ip,
            admin_url=f"http://{ip}:7088/admin",
            ws_url=f"ws://{ip}:8188/",
            admin_secret=admin_secret,
            admin_key=admin_key,
            log=log,
        )
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)
