"""Every database connection of the runtime notices a silent peer and ends a blocked statement: TCP keepalives and
a user timeout on both sides, a server-side statement timeout, a user's own values in the URL kept; migrations
are not cut by the timeout; the lease heartbeat fails within one beat when a renewal blocks or its backend is
killed, and renews again at the next beat on a new connection. Against the real PostgreSQL; the silent peer is a
network namespace whose link goes down (root only)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg2
import pytest
from psycopg2 import sql

from runtime.db.connection import DEFAULT_LIMITS, SessionLimits, connect, tighten
from runtime.db.migrations import ADVISORY_LOCK_KEY, apply_migrations
from runtime.db.records import Owner
from runtime.jobs.heartbeat import RunHeartbeat, heartbeat_limits
from tests.conftest import PROJECT_ROOT
from tests.runtime.test_cli_errors import assert_one_error_line, run_cli, with_password
from tests.support.leases import claim, one, register

#: The server settings a connection made by ``connect`` has by default, as ``SHOW`` prints them.
DEFAULT_SERVER_SETTINGS = {"statement_timeout": "10min", "tcp_keepalives_idle": "30",
                           "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3",
                           "tcp_user_timeout": "60000"}
#: The libpq parameters of the client's side by default.
DEFAULT_CLIENT_PARAMETERS = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10",
                             "keepalives_count": "3", "tcp_user_timeout": "60000"}


def show(conn, *names: str) -> dict[str, str]:
    """``SHOW name`` of each setting of ``conn``'s session."""
    values = {}
    with conn.cursor() as cur:
        for name in names:
            cur.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
            values[name] = cur.fetchone()[0]
    conn.rollback()
    return values


def with_options(url: str, options: str) -> str:
    """``url`` with a libpq ``options`` query parameter (percent-encoded)."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(options)}"


def wait_for(condition: Callable[[], object], what: str, seconds: float = 30) -> None:
    """Bounded wait: fail the test naming ``what`` when ``condition`` is still false after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds}s waiting for {what}")
        time.sleep(0.02)


# --- the settings of every connection -----------------------------------------------------------------------------


def test_every_connection_has_keepalives_a_user_timeout_and_a_statement_timeout(db_url: str) -> None:
    conn = connect(db_url)
    try:
        assert show(conn, *DEFAULT_SERVER_SETTINGS) == DEFAULT_SERVER_SETTINGS
        parameters = conn.get_dsn_parameters()
        assert {name: parameters.get(name) for name in DEFAULT_CLIENT_PARAMETERS} == DEFAULT_CLIENT_PARAMETERS
        assert SessionLimits(statement_timeout_seconds=600, dead_peer_seconds=60) == DEFAULT_LIMITS
    finally:
        conn.close()


@pytest.mark.parametrize(("query", "pgoptions", "server", "client"), [
    ("options=-c statement_timeout=1234", None, {"statement_timeout": "1234ms"}, {}),
    ("options=--statement-timeout=2s -c tcp_keepalives_idle=5", None,
     {"statement_timeout": "2s", "tcp_keepalives_idle": "5"}, {}),
    ("keepalives_idle=7&tcp_user_timeout=9000", None, {}, {"keepalives_idle": "7", "tcp_user_timeout": "9000"}),
    ("keepalives=0", None, {}, {"keepalives": "0"}),
    ("", "-c statement_timeout=0", {"statement_timeout": "0"}, {}),
], ids=["options", "long-options", "client", "keepalives-off", "PGOPTIONS"])
def test_a_value_the_url_sets_is_kept_and_the_others_are_added(db_url: str, monkeypatch, query: str,
                                                               pgoptions: str | None, server: dict,
                                                               client: dict) -> None:
    if pgoptions is None:
        monkeypatch.delenv("PGOPTIONS", raising=False)
    else:
        monkeypatch.setenv("PGOPTIONS", pgoptions)
    name, _, value = query.partition("=")
    url = with_options(db_url, value) if name == "options" else f"{db_url}?{query}" if query else db_url
    conn = connect(url)
    try:
        assert show(conn, *DEFAULT_SERVER_SETTINGS) == {**DEFAULT_SERVER_SETTINGS, **server}
        parameters = conn.get_dsn_parameters()
        assert {n: parameters.get(n) for n in DEFAULT_CLIENT_PARAMETERS} == {**DEFAULT_CLIENT_PARAMETERS, **client}
    finally:
        conn.close()


def test_every_runtime_connection_is_opened_by_connect() -> None:
    """Nothing in runtime/ opens a psycopg2 connection another way, except the embedded server's own admin
    connections (a local server on the loopback: no failover to survive)."""
    opened_elsewhere = sorted(
        str(path.relative_to(PROJECT_ROOT)) for path in (PROJECT_ROOT / "runtime").rglob("*.py")
        if re.search(r"psycopg2\s*\.\s*connect\s*\(", path.read_text()))
    assert opened_elsewhere == ["runtime/db/connection.py", "runtime/db/embedded.py"]


# --- a statement that blocks ----------------------------------------------------------------------------------------


def test_a_blocked_statement_ends_mldp_status_with_one_error_line(db_url: str, capsys) -> None:
    """Another session holds the tracking table's lock: ``mldp status`` (its migrations first, which lift the
    timeout for themselves only) ends after the URL's 300 ms statement timeout with one ``error:`` line, exit 2."""
    locker = psycopg2.connect(db_url)
    result: list[tuple[int, str, str]] = []
    url = with_options(with_password(db_url), "-c statement_timeout=300")
    status = threading.Thread(target=lambda: result.append(run_cli(capsys, "status", "--db", url)))
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE file_processing_status IN ACCESS EXCLUSIVE MODE")
        status.start()
        status.join(timeout=60)
        assert not status.is_alive(), "mldp status still blocked after 60 s: no statement timeout"
    finally:
        locker.rollback()
        locker.close()
        status.join(timeout=60)
    assert_one_error_line(*result[0], f"PostgreSQL at postgres@127.0.0.1:{urlsplit(db_url).port}/",
                          "failed: canceling statement due to statement timeout (SQLSTATE 57014)")


# --- migrations -------------------------------------------------------------------------------------------------


def test_migrations_are_not_cut_by_the_statement_timeout_and_leave_it_in_place(empty_db_url: str,
                                                                               tmp_path: Path) -> None:
    """With a 200 ms timeout: the wait for the migration lock (held by another migrator for longer than that)
    and a migration that runs 1 s both complete; the connection still has its 200 ms afterwards."""
    (tmp_path / "0001_slow.sql").write_text("SELECT pg_sleep(1); CREATE TABLE slow_done (id int);\n")
    holder = psycopg2.connect(empty_db_url)
    holder.autocommit = True
    conn = connect(with_options(empty_db_url, "-c statement_timeout=200"), application_name="migrator")
    migrated: list[object] = []
    migrator = threading.Thread(target=lambda: migrated.append(_apply(conn, tmp_path)))
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
            migrator.start()
            wait_for(lambda: one(holder, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrator' "
                                         "AND wait_event_type = 'Lock' AND query_start < now() - interval '1 s'")[0],
                     "the migrator to wait for the lock for 1 s")
            cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
        migrator.join(timeout=60)
        assert migrated == [[1]]
        assert show(conn, "statement_timeout") == {"statement_timeout": "200ms"}
    finally:
        migrator.join(timeout=60)
        holder.close()
        conn.close()


def _apply(conn, directory: Path) -> object:
    try:
        return apply_migrations(conn, directory)
    except Exception as error:  # the test reports it
        return error


# --- the lease heartbeat ----------------------------------------------------------------------------------------


def socket_options(conn) -> list[int]:
    """TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT of ``conn``'s socket (SO_KEEPALIVE must be
    on)."""
    with socket.socket(fileno=os.dup(conn.fileno())) as client:
        assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        return [client.getsockopt(socket.IPPROTO_TCP, option) for option in (
            socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT, socket.TCP_USER_TIMEOUT)]


def test_tighten_lowers_the_limits_of_an_open_connection_never_raises_them(db_url: str) -> None:
    conn = connect(db_url)
    mine = connect(with_options(f"{db_url}?keepalives_idle=2", "-c statement_timeout=500"))
    try:
        assert socket_options(conn) == [30, 10, 3, 60000]
        tighten(conn, SessionLimits(statement_timeout_seconds=2, dead_peer_seconds=12))
        conn.rollback()  # committed: a rollback does not undo it
        assert show(conn, *DEFAULT_SERVER_SETTINGS) == {
            "statement_timeout": "2s", "tcp_keepalives_idle": "6", "tcp_keepalives_interval": "2",
            "tcp_keepalives_count": "3", "tcp_user_timeout": "12000"}
        assert socket_options(conn) == [6, 2, 3, 12000]
        tighten(mine, SessionLimits(statement_timeout_seconds=60, dead_peer_seconds=20))
        assert show(mine, "statement_timeout", "tcp_keepalives_idle") == {"statement_timeout": "500ms",
                                                                          "tcp_keepalives_idle": "10"}
        assert socket_options(mine) == [2, 3, 3, 20000]  # its own 2 s idle kept
    finally:
        conn.close()
        mine.close()
    assert heartbeat_limits(60) == SessionLimits(60, 60) and heartbeat_limits(0.05) == SessionLimits(1, 1)
    assert heartbeat_limits(6) == SessionLimits(6, 6)  # the shortest lease (30 s) renews every 6 s


def test_a_renewal_that_blocks_fails_within_the_beat_and_the_next_beat_renews(db_conn, db_url: str) -> None:
    """Another session locks the run's batch row: the renewal ends after the heartbeat's statement timeout (1 s
    for a beat of 0.05 s) instead of waiting for the lock; once the lock is gone, a beat renews the lease."""
    register(db_conn, "a.json")
    batch = claim(db_conn, Owner("run-1"), lease_seconds=600)
    locker = psycopg2.connect(db_url)
    heartbeat = RunHeartbeat(lambda: connect(db_url, application_name="mldp-lease"), "run-1", lease_seconds=600,
                             interval=0.05)
    try:
        with locker.cursor() as cur:
            cur.execute("SELECT 1 FROM processing_batches WHERE batch_id = %s FOR UPDATE", (batch,))
        with heartbeat:
            wait_for(lambda: heartbeat.failures >= 1, "a renewal to fail on the locked row")
            assert heartbeat.renewals == 0
            locker.rollback()
            wait_for(lambda: heartbeat.renewals >= 1, "a renewal once the lock is gone")
    finally:
        locker.close()
    assert one(db_conn, "SELECT lease_expires_at > now() + interval '9 min' FROM processing_batches")[0]


def test_a_heartbeat_whose_backend_is_killed_reconnects_and_renews_at_the_next_beat(db_conn, db_url: str) -> None:
    register(db_conn, "a.json")
    claim(db_conn, Owner("run-1"), lease_seconds=0)
    application = f"mldp-lease-{uuid.uuid4().hex[:8]}"
    heartbeat = RunHeartbeat(lambda: connect(db_url, application_name=application), "run-1", lease_seconds=600,
                             interval=0.05)

    def backend() -> int | None:
        row = one(db_conn, "SELECT pid FROM pg_stat_activity WHERE application_name = %(a)s", {"a": application})
        return row[0] if row else None

    with heartbeat:
        wait_for(lambda: heartbeat.renewals >= 1 and backend(), "the first renewal")
        first = backend()
        one(db_conn, "SELECT pg_terminate_backend(%(pid)s)", {"pid": first})
        killed_at = one(db_conn, "SELECT clock_timestamp()")[0]
        wait_for(lambda: heartbeat.failures >= 1, "the renewal on the killed backend to fail")
        renewals = heartbeat.renewals
        wait_for(lambda: heartbeat.renewals > renewals, "a renewal after the failure")
        second = backend()
    assert second not in (None, first)
    assert one(db_conn, "SELECT heartbeat_at > %(t)s AND lease_expires_at > now() + interval '9 min' "
                        "FROM processing_batches", {"t": killed_at})[0]


# --- a silent peer ----------------------------------------------------------------------------------------------

#: Relays one client of address argv[2], port argv[3] to the PostgreSQL connection inherited as file descriptor argv[1].
RELAY = textwrap.dedent("""
    import selectors, socket, sys
    server = socket.socket(fileno=int(sys.argv[1]))
    listener = socket.create_server((sys.argv[2], int(sys.argv[3])))
    print("ready", flush=True)
    client, _ = listener.accept()
    selector = selectors.DefaultSelector()
    selector.register(client, selectors.EVENT_READ, server)
    selector.register(server, selectors.EVENT_READ, client)
    while True:
        for key, _ in selector.select():
            data = key.fileobj.recv(65536)
            if not data:
                sys.exit(0)
            key.data.sendall(data)
""")


class SilentLink:
    """A veth pair to a network namespace whose address relays to the test server; :meth:`silence` sets the
    namespace's end down, so the peer of every connection through it goes silent (nothing answered, nothing
    refused), as a database host that vanished in a failover. Named and addressed after the test process (a /30
    of 10.251.0.0/16), so parallel runs do not meet; a link left by a run that was killed is removed first."""

    PREFIX = "mldp-silent-"

    def __init__(self, pid: int | None = None) -> None:
        pid = os.getpid() if pid is None else pid
        self.namespace, self.host_end, self.peer_end = f"{self.PREFIX}{pid}", f"mldpsh{pid}", f"mldpsp{pid}"
        subnet = (pid % 16384) * 4
        self.host, self.peer = (f"10.251.{subnet // 256}.{subnet % 256 + n}" for n in (1, 2))
        self.relays: list[subprocess.Popen] = []

    @classmethod
    def remove_stale(cls) -> None:
        """Remove the links of test processes that no longer exist."""
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for name in re.findall(rf"^{cls.PREFIX}(\d+)", listed, re.MULTILINE):
            if not Path(f"/proc/{name}").exists():
                cls(int(name)).remove()

    def create(self) -> None:
        for argv in (["ip", "netns", "add", self.namespace],
                     ["ip", "link", "add", self.host_end, "type", "veth", "peer", "name", self.peer_end],
                     ["ip", "link", "set", self.peer_end, "netns", self.namespace],
                     ["ip", "addr", "add", f"{self.host}/30", "dev", self.host_end],
                     ["ip", "link", "set", self.host_end, "up"],
                     self._in_namespace("ip", "addr", "add", f"{self.peer}/30", "dev", self.peer_end),
                     self._in_namespace("ip", "link", "set", self.peer_end, "up")):
            subprocess.run(argv, check=True, capture_output=True, text=True)

    def relay_to(self, server_url: str) -> str:
        """Start a relay from the namespace's address to the server of ``server_url``; the URL to reach it by."""
        parts = urlsplit(server_url)
        upstream = socket.create_connection((parts.hostname, parts.port))
        port = 5432 + len(self.relays)
        relay = subprocess.Popen([*self._in_namespace(sys.executable, "-c", RELAY), str(upstream.fileno()),
                                  self.peer, str(port)], pass_fds=(upstream.fileno(),), stdout=subprocess.PIPE,
                                 text=True)
        upstream.close()
        self.relays.append(relay)
        assert relay.stdout is not None and relay.stdout.readline().strip() == "ready"
        return server_url.replace(f"@{parts.hostname}:{parts.port}/", f"@{self.peer}:{port}/", 1)

    def silence(self) -> None:
        """Set the namespace's end down. The host keeps a permanent neighbour entry for it, so its packets leave
        and vanish (no failed address resolution reports the host unreachable): nothing answers, nothing
        refuses."""
        address = subprocess.run(self._in_namespace("cat", f"/sys/class/net/{self.peer_end}/address"), check=True,
                                 capture_output=True, text=True).stdout.strip()
        subprocess.run(["ip", "neigh", "replace", self.peer, "lladdr", address, "dev", self.host_end, "nud",
                        "permanent"], check=True)
        subprocess.run(self._in_namespace("ip", "link", "set", self.peer_end, "down"), check=True)

    def remove(self) -> None:
        for relay in self.relays:
            relay.kill()
            relay.wait()
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)  # takes the veth pair along
        subprocess.run(["ip", "link", "del", self.host_end], capture_output=True)

    def _in_namespace(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *argv]


@pytest.fixture
def silent_link() -> Iterator[SilentLink]:
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("a network namespace needs root and iproute2")
    SilentLink.remove_stale()
    link = SilentLink()
    try:
        link.create()
    except subprocess.CalledProcessError as error:
        link.remove()
        pytest.skip(f"no network namespace with a veth pair here: {error.stderr.strip()}")
    try:
        yield link
    finally:
        link.remove()


class Background:
    """A statement on ``conn`` run in a daemon thread, started at once; :meth:`error` waits for it to end and
    returns the error it ended with (the test fails if it succeeded, or still runs after a bounded wait)."""

    def __init__(self, conn, statement: str) -> None:
        self.conn, self.statement = conn, statement
        self.outcome: list[BaseException | None] = []
        self.thread = threading.Thread(target=self._target, daemon=True)
        self.thread.start()

    def _target(self) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.statement)
            self.outcome.append(None)
        except BaseException as error:  # the test inspects it
            self.outcome.append(error)

    def error(self, seconds: float = 60) -> BaseException:
        self.thread.join(timeout=seconds)
        assert not self.thread.is_alive(), f"{self.statement} still waits after {seconds} s for a silent peer"
        assert self.outcome[0] is not None, f"{self.statement} succeeded through a silent link"
        return self.outcome[0]

    def hang_up(self) -> None:
        """End a statement still waiting (a failed test): shut its socket down, so libpq returns and the connection
        can be closed (closing it would wait for the statement)."""
        if self.thread.is_alive():
            with socket.socket(fileno=os.dup(self.conn.fileno())) as sock:
                sock.shutdown(socket.SHUT_RDWR)
            self.thread.join(timeout=60)


def test_a_peer_that_goes_silent_is_noticed_by_keepalives_and_by_the_user_timeout(silent_link: SilentLink,
                                                                                  db_conn, db_url: str) -> None:
    """A statement waiting for its answer (keepalives) and a statement sent into the void (unacknowledged: the
    user timeout) both end in ``OperationalError`` within seconds when the server's host goes silent (limits of
    4 s here; 60 s by default). Without them libpq would wait for hours (the system's keepalive time is 2 h)."""
    limits = SessionLimits(statement_timeout_seconds=600, dead_peer_seconds=4)
    waiting = connect(silent_link.relay_to(db_url), application_name="mldp-silent-wait", limits=limits)
    sending = connect(silent_link.relay_to(db_url), application_name="mldp-silent-send", limits=limits)
    statements: list[Background] = []
    try:
        assert show(sending, "statement_timeout") == {"statement_timeout": "10min"}  # connected, through the relay
        statements.append(Background(waiting, "SELECT pg_sleep(3600)"))
        wait_for(lambda: one(db_conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                      "'mldp-silent-wait' AND state = 'active'")[0], "the sleep to start")
        silent_link.silence()
        statements.append(Background(sending, "SELECT 1"))
        for statement in statements:
            error = statement.error()
            assert isinstance(error, psycopg2.OperationalError) and "timed out" in str(error), error
    finally:
        for statement in statements:
            statement.hang_up()
        waiting.close()
        sending.close()
        one(db_conn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name IN ('mldp-silent-wait', 'mldp-silent-send')")
