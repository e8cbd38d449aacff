#!/usr/bin/env python3
"""A scaled-out Seva on this machine: every part a real process, all on loopback.

    make cluster                         # or: .venv/bin/python scripts/cluster.py [--nodes 2]

starts, in one temporary folder and on free loopback ports:

- its own PostgreSQL (``initdb`` + ``pg_ctl start``: trust authentication, the socket in the
  folder), with a database ``seva`` migrated by ``seva db upgrade`` and the demo's data seeded;
- its own ``redis-server`` (no persistence) for conversations and login limits;
- an SMSC simulator (``seva smsc-sim``) standing in for the operator;
- two nodes, each ``seva serve --workers 2`` on its own port;
- two ``seva dispatch`` processes draining one SMS queue into the simulator;
- nginx in front, round robin over the nodes, a dead node's requests passed to the other
  (``proxy_next_upstream error timeout``), WebSocket upgrades on ``/rtc/ws``.

It prints where everything is and waits; Ctrl-C (or SIGTERM) stops every process it started,
each started in a process group of its own and stopped by that group. The machine's own
PostgreSQL and Redis are never touched: nothing here connects to their ports.

Tests import :class:`Cluster` (``tests/cluster/test_cluster.py``) to kill a node with
``kill -9``, restart PostgreSQL or take Redis away while load runs through nginx.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATABASE = "seva"
PROBE_PREFIX = "917000"
"""The simulator records the arrival of every submit_sm to a number starting with this (in
international form, +91 70000…): a test sends its campaign there and counts each number's
submits from the simulator's own records."""
OPERATOR_ROUTES = ("KANNEL", "AFRICASTALKING", "TWIML", "EXOTEL")
STARTUP_SECONDS = 90.0
"""How long a part may take to answer after its start on a busy two-core machine."""
STOP_SECONDS = 15.0
SEED_SCRIPT = """
import json, sys
from seva.demo.seed import seed
from seva.gateway import build_gateway
from seva.settings import Settings
settings = Settings(env="production", secret_key=sys.argv[2])
gateway = build_gateway(settings, database_url=sys.argv[1])
with gateway.session() as session:
    report = seed(session)
gateway.close()
print(json.dumps({"api_keys": report.api_keys, "departments": report.departments}))
"""


class ClusterUnavailable(RuntimeError):
    """A program the cluster needs is not installed; the message names the package."""


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's choice; taken at once by the caller)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``pg_config --bindir``, else Debian's newest
    ``/usr/lib/postgresql/*/bin``, else the PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(found.stdout.strip()))
    debian = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    candidates += sorted(debian, key=lambda p: p.parent.name.zfill(4), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise ClusterUnavailable("initdb and pg_ctl not found: apt install postgresql")


def program(name: str, package: str) -> str:
    """The path of ``name`` (also looked for in /usr/sbin, off a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if not found:
        raise ClusterUnavailable(f"{name} not found: apt install {package}")
    return found


def missing_programs() -> list[str]:
    """What is missing to start a cluster, as sentences naming the package; empty if none."""
    missing = []
    for check in (
        postgres_bindir,
        lambda: program("redis-server", "redis-server"),
        lambda: program("nginx", "nginx-light"),
    ):
        try:
            check()
        except ClusterUnavailable as exc:
            missing.append(str(exc))
    return missing


def seva_command() -> list[str]:
    """The ``seva`` command of this interpreter's environment (the venv's console script)."""
    script = Path(sys.executable).parent / "seva"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from seva.cli import app; sys.exit(app())"]


def wait_until(
    ready: Callable[[], bool], *, timeout: float, what: str, alive: Callable[[], str | None]
) -> float:
    """Poll ``ready`` until it holds; seconds it took. ``alive`` says why the part died (its
    log's tail), which ends the wait at once rather than at the timeout."""
    started = time.monotonic()
    delay = 0.02
    while not ready():
        died = alive()
        if died is not None:
            raise RuntimeError(f"{what} exited before it was ready:\n{died}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{what} was not ready within {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    return time.monotonic() - started


def http_status(url: str, *, timeout: float = 2.0) -> int | None:
    """The HTTP status of a GET, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def run(
    command: list[str], *, check: bool = True, **options: Any
) -> subprocess.CompletedProcess[str]:
    """Run a step to its end; a failure says which command and what it printed."""
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=STARTUP_SECONDS, **options
    )
    if check and done.returncode != 0:
        said = (done.stderr or done.stdout).strip()[-2000:]
        raise RuntimeError(f"{' '.join(command[:3])} … exited with {done.returncode}:\n{said}")
    return done


@dataclass
class Process:
    """One part of the cluster: a process that leads its own process group, and its log."""

    name: str
    command: list[str]
    log: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    stdout: Path | None = None
    """Where stdout goes when it is kept apart from the log (machine-readable lines)."""

    def start(self) -> None:
        with contextlib.ExitStack() as files:
            log = files.enter_context(self.log.open("ab"))
            out = files.enter_context(self.stdout.open("ab")) if self.stdout else log
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                start_new_session=True,  # its own group: Ctrl-C reaches us, we stop it
            )

    def died(self) -> str | None:
        """Why it stopped (exit status and the log's tail), or None while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"{self.name} exited with {self.proc.returncode}:\n{tail(self.log)}"

    def signal(self, signum: int) -> None:
        """Send ``signum`` to its whole group (uvicorn's workers, nginx's, …)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signum)

    def kill(self) -> None:
        """``kill -9`` of the group: no chance to finish anything. Returns once every process
        of it has exited (its sockets closed), not only the leader."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(STOP_SECONDS)
            deadline = time.monotonic() + STOP_SECONDS
            while group_members(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.005)

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL when it has not gone within ``STOP_SECONDS``."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(STOP_SECONDS)
        # A member that outlived its leader (a worker that ignored SIGTERM): the group still
        # exists only while such members do, so its id is still ours.
        if group_members(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def group_members(pgid: int) -> list[int]:
    """Live processes in process group ``pgid`` (from /proc; zombies, which hold nothing
    open any more, are left out)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # pid (comm) state ppid pgrp …: comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


@dataclass
class Cluster:
    """PostgreSQL, Redis, an SMSC simulator, ``nodes`` Seva nodes, ``dispatchers`` SMS
    dispatchers and nginx, on loopback, in a temporary folder removed by :meth:`stop`."""

    nodes: int = 2
    workers: int = 2
    dispatchers: int = 2
    port: int = 0
    """nginx's port (0: a free one)."""
    stats_interval: float = 0.5
    """Seconds between the simulator's and the dispatchers' counter lines."""
    settings: dict[str, str] = field(default_factory=dict)
    """More ``SEVA_*`` settings for the nodes and dispatchers."""
    keep: bool = False
    """Leave the folder (logs, database) in place after :meth:`stop`."""

    root: Path = field(init=False)
    api_keys: dict[str, str] = field(init=False, default_factory=dict)
    secret_key: str = field(init=False, default_factory=lambda: secrets.token_urlsafe(32))
    pg_port: int = field(init=False, default=0)
    redis_port: int = field(init=False, default=0)
    smsc_port: int = field(init=False, default=0)
    node_ports: list[int] = field(init=False, default_factory=list)
    timings: dict[str, float] = field(init=False, default_factory=dict)
    """Seconds each part took to start (``postgres``, ``seed``, ``nodes``, …)."""
    _bindir: Path = field(init=False)
    _pg_user: str | None = field(init=False, default=None)
    _redis: Process | None = field(init=False, default=None)
    _smsc: Process | None = field(init=False, default=None)
    _nodes: list[Process] = field(init=False, default_factory=list)
    _dispatchers: list[Process] = field(init=False, default_factory=list)
    _nginx: Process | None = field(init=False, default=None)
    _pg_started: bool = field(init=False, default=False)

    # -- where things are ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """nginx: the address citizens, aggregators and departments use."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def node_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.node_ports]

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{DATABASE}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def smsc_url(self) -> str:
        return f"smpp://seva:seva@127.0.0.1:{self.smsc_port}"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pg_data(self) -> Path:
        return self.root / "pg" / "data"

    # -- start and stop --------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start every part in order and wait until nginx answers; on failure stop what was
        started and raise."""
        self._bindir = postgres_bindir()
        redis_server = program("redis-server", "redis-server")
        nginx = program("nginx", "nginx-light")
        self.root = Path(tempfile.mkdtemp(prefix="seva-cluster-"))
        self.root.chmod(0o755)  # PostgreSQL runs as its own user when we are root
        self.logs.mkdir()
        self.port = self.port or free_port()
        self.pg_port, self.redis_port, self.smsc_port = free_port(), free_port(), free_port()
        self.node_ports = [free_port() for _ in range(self.nodes)]
        self._redis = Process(
            "redis",
            [
                redis_server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--daemonize",
                "no",
            ],
            self.logs / "redis.log",
        )
        self._smsc = Process(
            "smsc-sim",
            [
                *seva_command(),
                "smsc-sim",
                "--port",
                str(self.smsc_port),
                "--stats-interval",
                str(self.stats_interval),
                "--probe-prefix",
                PROBE_PREFIX,
                "--receipt-delay",
                "0.2",
            ],
            self.logs / "smsc-sim.log",
            env=self._env(),
            stdout=self.logs / "smsc-sim.jsonl",
        )
        self._nodes = [self._node(n) for n in range(self.nodes)]
        self._dispatchers = [self._dispatcher(n) for n in range(self.dispatchers)]
        try:
            self._nginx = Process(
                "nginx",
                [nginx, "-p", str(self.root / "nginx"), "-c", str(self._nginx_conf())],
                self.logs / "nginx.log",
            )
            # What needs nothing else starts first and comes up while the database is made;
            # the nodes and dispatchers (which need it) start together.
            self._timed("redis", self.start_redis)
            self._smsc.start()
            self._timed("postgres", self._start_postgres)
            self._timed("database", self._create_database)
            self._timed("smsc-sim", self._wait_smsc)
            self._timed("nodes and dispatchers", self._start_nodes_and_dispatchers)
            self._timed("nginx", self._start_nginx)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop everything this cluster started, newest first; remove the folder unless
        ``keep``. Safe to call twice and after a failed start."""
        for part in [self._nginx, *self._dispatchers, *self._nodes, self._smsc, self._redis]:
            if part is not None:
                part.stop()
        if self._pg_started:
            self._pg_ctl("stop", "-m", "immediate", check=False)
            self._pg_started = False
        if not hasattr(self, "root"):
            return
        self._kill_leftover_postmaster()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        started = time.monotonic()
        step()
        self.timings[name] = time.monotonic() - started

    def _env(self, **more: str) -> dict[str, str]:
        """What the Seva processes see: this environment without its SEVA_* variables, and
        the cluster's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEVA_")}
        env |= {
            "SEVA_ENV": "production",
            "SEVA_SECRET_KEY": self.secret_key,
            "SEVA_DATABASE_URL": self.database_url,
            "SEVA_REDIS_URL": self.redis_url,
            "SEVA_BASE_URL": self.url,
            "SEVA_DATA_DIR": str(self.root / "data"),
            # The operators' callbacks come through nginx on this machine.
            **{f"SEVA_{name}_ALLOW": "127.0.0.1" for name in OPERATOR_ROUTES},
            "COLUMNS": "200",  # the dispatchers' counter lines unwrapped
        }
        return env | self.settings | more

    # -- PostgreSQL ------------------------------------------------------------------------

    def _as_postgres(self) -> dict[str, Any]:
        """Popen arguments that run PostgreSQL's programs as its own user when we are root
        (``initdb`` and ``postgres`` refuse root)."""
        return {"user": self._pg_user} if self._pg_user else {}

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(
            [str(self._bindir / "pg_ctl"), "-D", str(self.pg_data), *args],
            check=check,
            cwd=self.root,
            **self._as_postgres(),
        )

    def _start_postgres(self) -> None:
        pg = self.root / "pg"
        pg.mkdir()
        if os.geteuid() == 0:
            names = [entry.pw_name for entry in pwd.getpwall()]
            self._pg_user = "postgres" if "postgres" in names else "nobody"
            record = pwd.getpwnam(self._pg_user)
            os.chown(pg, record.pw_uid, record.pw_gid)
        run(
            [
                str(self._bindir / "initdb"),
                "-D",
                str(self.pg_data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            cwd=self.root,
            **self._as_postgres(),
        )
        self.start_postgres()

    def _postgres_options(self) -> str:
        # Durability off: the data is thrown away with the folder, and the tests measure
        # Seva, not fsync. The socket lives in the folder, never in /var/run/postgresql.
        return (
            f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.root / 'pg'} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections={self._max_connections()}"
        )

    def _max_connections(self) -> int:
        """Each Seva process's pool may open 30 (``seva.db.session``); room for all at once,
        and for a test's own."""
        processes = self.nodes * self.workers + self.dispatchers + 2
        return 30 * processes + 20

    def start_postgres(self) -> None:
        """``pg_ctl start``, waiting until it takes connections."""
        self._pg_ctl(
            "-l", str(self.root / "pg" / "postgres.log"), "-o", self._postgres_options(), "-w",
            "start",
        )  # fmt: skip
        self._pg_started = True

    def stop_postgres(self) -> None:
        """``pg_ctl stop -m fast``: open connections are ended, new ones refused."""
        self._pg_ctl("stop", "-m", "fast", "-w")
        self._pg_started = False

    def restart_postgres(self) -> float:
        """``pg_ctl restart -m fast``; the seconds it took (the outage, as pg_ctl sees it)."""
        started = time.monotonic()
        self._pg_ctl(
            "-l", str(self.root / "pg" / "postgres.log"), "-o", self._postgres_options(), "-w",
            "-m", "fast", "restart",
        )  # fmt: skip
        self._pg_started = True
        return time.monotonic() - started

    def _kill_leftover_postmaster(self) -> None:
        """A postmaster pg_ctl could not stop (pg_ctl itself failed): by its pid file."""
        pidfile = self.pg_data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def _create_database(self) -> None:
        run(
            [
                str(self._bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.pg_port),
                "-U",
                "postgres",
                DATABASE,
            ],
        )
        run(
            [*seva_command(), "db", "upgrade"],
            env=self._env(),
        )
        seeded = run(
            [sys.executable, "-c", SEED_SCRIPT, self.database_url, self.secret_key],
            env=self._env(),
        )
        self.api_keys = json.loads(seeded.stdout.strip().splitlines()[-1])["api_keys"]

    # -- Redis -----------------------------------------------------------------------------

    def start_redis(self) -> None:
        """Start redis-server (again, on the same port) and wait until it answers."""
        assert self._redis is not None
        self._redis.start()
        wait_until(
            lambda: port_open(self.redis_port),
            timeout=STARTUP_SECONDS,
            what="redis-server",
            alive=self._redis.died,
        )

    def stop_redis(self) -> None:
        """Stop redis-server (SIGTERM; with no persistence everything it held is gone)."""
        assert self._redis is not None
        self._redis.stop()

    # -- the SMSC simulator ----------------------------------------------------------------

    def _wait_smsc(self) -> None:
        smsc = self._smsc
        assert smsc is not None
        wait_until(
            lambda: "listening on" in tail(smsc.log),
            timeout=STARTUP_SECONDS,
            what="seva smsc-sim",
            alive=smsc.died,
        )

    def smsc_lines(self) -> list[dict[str, Any]]:
        """Every counter line the simulator has printed (one per ``stats_interval``)."""
        path = self.logs / "smsc-sim.jsonl"
        lines = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        return lines

    def smsc_stats(self) -> dict[str, Any]:
        """The simulator's latest counters (submits, binds, connections, …)."""
        lines = self.smsc_lines()
        return lines[-1] if lines else {}

    def smsc_probes(self) -> list[tuple[str, float]]:
        """Every submit_sm to a ``PROBE_PREFIX`` number so far: its destination and when it
        arrived (wall clock), one entry per submit (a number twice: submitted twice)."""
        return [(dest, at) for line in self.smsc_lines() for dest, at in line.get("probes", [])]

    # -- nodes -----------------------------------------------------------------------------

    def _node(self, n: int) -> Process:
        return Process(
            f"node {n + 1}",
            [
                *seva_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.node_ports[n]),
                "--workers",
                str(self.workers),
                "--forwarded-allow-ips",
                "127.0.0.1",
            ],
            self.logs / f"node{n + 1}.log",
            env=self._env(),
        )

    def _start_nodes_and_dispatchers(self) -> None:
        for part in [*self._nodes, *self._dispatchers]:
            part.start()
        for n in range(len(self._nodes)):
            self.wait_node(n)
        for dispatcher in self._dispatchers:
            wait_until(
                lambda d=dispatcher: "dispatching to" in tail(d.log, 200),
                timeout=STARTUP_SECONDS,
                what=dispatcher.name,
                alive=dispatcher.died,
            )

    def wait_node(self, n: int) -> float:
        """Wait until node ``n`` (from 0) answers ``/healthz``; the seconds it took."""
        node = self._nodes[n]
        return wait_until(
            lambda: http_status(f"{self.node_urls[n]}/healthz") == 200,
            timeout=STARTUP_SECONDS,
            what=node.name,
            alive=node.died,
        )

    def kill_node(self, n: int) -> None:
        """``kill -9`` of node ``n`` (from 0): its supervisor and every worker at once."""
        self._nodes[n].kill()

    def start_node(self, n: int) -> float:
        """Start node ``n`` again on its port; the seconds until it answers."""
        self._nodes[n].start()
        return self.wait_node(n)

    # -- dispatchers -----------------------------------------------------------------------

    def _dispatcher(self, n: int) -> Process:
        route = f"{self.smsc_url}?name=sim&window=50&reconnect_min=0.2"
        return Process(
            f"dispatcher {n + 1}",
            [*seva_command(), "dispatch", "--stats-interval", str(self.stats_interval)],
            self.logs / f"dispatch{n + 1}.log",
            env=self._env(SEVA_SMSC=route),
        )

    def dispatcher_stats(self, n: int) -> dict[str, float]:
        """Dispatcher ``n``'s latest counter line as numbers: ``claimed``, ``submitted``,
        ``failed``, ``receipts``, ``resent-after-lease`` …"""
        for line in reversed(self._dispatchers[n].log.read_text(errors="replace").splitlines()):
            words = line.split()
            if len(words) > 2 and words[0].endswith("s") and words[1] == "claimed":
                return {words[i]: float(words[i + 1]) for i in range(1, len(words) - 1, 2)}
        return {}

    # -- nginx -----------------------------------------------------------------------------

    def _nginx_conf(self) -> Path:
        """nginx in the foreground (``daemon off``) with every path in the folder, so it
        needs no root and writes nothing outside. Round robin over the nodes; a request a
        node refuses or drops before answering goes to the next (``error timeout``: for a
        POST only while nothing was sent, as nginx never repeats one it may have handed
        over). No keep-alive to the nodes, so a killed node's requests meet a refused
        connection and move on rather than a dead pooled one."""
        prefix = self.root / "nginx"
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "temp" / temp).mkdir(parents=True)
        user = ""
        if os.geteuid() == 0:  # its workers would run as nobody, who cannot write the temp
            user = "user root;"  # files of bodies larger than the buffer in our 0700 folder
        servers = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;"
            for port in self.node_ports
        )
        conf = f"""# Written by scripts/cluster.py
daemon off;
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {self.logs}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {self.logs}/nginx-access.log combined;
    client_body_temp_path {prefix}/temp/client_body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    client_max_body_size 12m;
    upstream seva {{
{servers}
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        # The client as nginx saw it, replacing whatever the client claimed: nodes believe
        # this header from 127.0.0.1 only (seva serve --forwarded-allow-ips).
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout;
        add_header X-Seva-Node $upstream_addr always;
        location / {{
            proxy_pass http://seva;
        }}
        location /rtc/ws {{
            proxy_pass http://seva;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""
        path = prefix / "nginx.conf"
        path.write_text(conf)
        return path

    def _start_nginx(self) -> None:
        assert self._nginx is not None
        self._nginx.start()
        wait_until(
            lambda: http_status(f"{self.url}/healthz") == 200,
            timeout=STARTUP_SECONDS,
            what="nginx",
            alive=self._nginx.died,
        )

    def stopped_parts(self) -> dict[str, str]:
        """Parts that stopped on their own: name → exit status and log tail."""
        parts = [self._nginx, *self._dispatchers, *self._nodes, self._smsc, self._redis]
        return {p.name: why for p in parts if p is not None and (why := p.died()) is not None}

    # -- what to print ---------------------------------------------------------------------

    def describe(self) -> Iterator[str]:
        yield f"Seva cluster in {self.root}"
        yield f"  nginx (round robin)  {self.url}"
        for n, url in enumerate(self.node_urls):
            yield f"  node {n + 1}               {url}  (seva serve --workers {self.workers})"
        yield f"  PostgreSQL           {self.database_url}  (data {self.pg_data})"
        yield f"  Redis                {self.redis_url}"
        yield f"  SMSC simulator       {self.smsc_url}"
        yield f"  dispatchers          {len(self._dispatchers)} (seva dispatch)"
        yield f"  logs                 {self.logs}"
        for code, key in self.api_keys.items():
            yield f"  API key {code:<12} {key}"
        yield (
            f"Try: curl -d sessionId=c1 -d serviceCode='*166#' -d phoneNumber=+919900000002 "
            f"-d 'text=2*1*1234567890' {self.url}/channels/ussd/africastalking"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="seva serve workers per node")
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="nginx's port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the folder after stopping")
    args = parser.parse_args()
    missing = missing_programs()
    if missing:
        raise SystemExit("\n".join(missing))
    cluster = Cluster(
        nodes=args.nodes,
        workers=args.workers,
        dispatchers=args.dispatchers,
        port=args.port,
        stats_interval=5.0,
        keep=args.keep,
    )

    def stop_on(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Both set here, not left to Python: a shell that starts us in the background without
    # job control has SIGINT ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, stop_on)
    signal.signal(signal.SIGTERM, stop_on)
    started = time.monotonic()
    try:
        cluster.start()
        for line in cluster.describe():
            print(line, flush=True)
        print(f"ready in {time.monotonic() - started:.1f} s; Ctrl-C stops everything", flush=True)
        reported: set[str] = set()
        while True:  # until Ctrl-C: say so when a part stops on its own
            time.sleep(1)
            for name, why in cluster.stopped_parts().items():
                if name not in reported:
                    print(why, file=sys.stderr, flush=True)
                    reported.add(name)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping…", flush=True)
        cluster.stop()
        print("stopped" + (f"; logs kept in {cluster.root}" if args.keep else ""), flush=True)


if __name__ == "__main__":
    main()
