"""An embedded PostgreSQL server that the project manages itself (``mldp db start|stop|status|url``).

The data directory lives under a git-ignored project folder (``.mldp/``). PostgreSQL refuses to run as root, so
when this process is root the server runs as the unprivileged ``postgres`` system user (``runuser``). The server
binaries are the ones found on the machine (``$MLDP_PG_BIN``, ``/usr/lib/postgresql/*/bin``, ``pg_ctl`` on
``PATH``), with the ``pgserver`` wheel as a fallback where none are installed.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from runtime.errors import MldpError

DEFAULT_DATABASE = "data_platform_db"
DEFAULT_PORT = 54329
#: Where the server remembers the port it was started on (so ``mldp db url`` and the jobs find it).
PORT_FILE = "port"
SUPERUSER = "postgres"
UNPRIVILEGED_USER = "postgres"


class EmbeddedPostgresError(MldpError, RuntimeError):
    """The embedded server could not be found, initialised or started; the message says what to do."""


def project_state_dir() -> Path:
    """The git-ignored folder for local state: ``$MLDP_HOME`` or ``.mldp`` in the current directory."""
    return Path(os.environ.get("MLDP_HOME", ".mldp")).resolve()


def find_server_binaries() -> Path:
    """The directory holding ``initdb``/``pg_ctl``/``postgres``; raises with install advice when none exists."""
    candidates: list[str] = []
    if os.environ.get("MLDP_PG_BIN"):
        candidates.append(os.environ["MLDP_PG_BIN"])
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    try:  # the pgserver wheel bundles a full PostgreSQL build
        import pgserver  # type: ignore[import-not-found]

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin"))
    except ImportError:
        pass
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries found (looked in $MLDP_PG_BIN, /usr/lib/postgresql/*/bin, pg_ctl on PATH "
        "and the pgserver wheel): install them with `apt-get install postgresql` or `pip install pgserver`, "
        "or point DATABASE_URL / --db at an existing server"
    )


def _version_key(path: str) -> tuple:
    parts = Path(path).parent.name.split(".")
    return tuple(int(p) if p.isdigit() else 0 for p in parts)


def server_reachable_root(path: Path) -> Path:
    """Where the cluster for ``path`` really lives. As root the server runs as ``postgres``, which must be able to
    reach the data directory: below a folder it cannot traverse (a checkout under ``/root``, say), the cluster goes
    to a folder under the system temp directory named after ``path``, so every command finds the same one."""
    if os.geteuid() != 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["runuser", "-u", UNPRIVILEGED_USER, "--", "test", "-x", str(path.parent)],
                           capture_output=True)
    if probe.returncode == 0:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"mldp-{digest}" / path.name


def _port_is_free(port: int) -> bool:
    """Whether the server can listen on ``port``: nothing listens there and nothing holds it bound.

    The server's side of connections it closed on stop (FIN-WAIT-2 while a client still holds its end, then
    TIME-WAIT) does not count: PostgreSQL binds its socket with ``SO_REUSEADDR``, and so does this check (a plain
    ``bind`` fails on them, which used to move a restarted server to a random port and break every URL shown).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_root`` (``data_root/data`` holds the cluster, ``data_root/server.log``
    its log), listening on 127.0.0.1 only, with trust authentication (it is a local development server).

    ``durable=False`` turns off fsync and synchronous commit: for the test suite, never for data you keep.
    """

    data_root: Path
    port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    durable: bool = True
    #: False: when ``port`` is taken by another program at start, another free port is used (and remembered)
    port_pinned: bool = True

    def __post_init__(self) -> None:
        self.data_root = server_reachable_root(Path(self.data_root))

    @property
    def data_dir(self) -> Path:
        return self.data_root / "data"

    @property
    def log_file(self) -> Path:
        return self.data_root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    def base_url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/``: the URL of any of its databases, less the database name."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/"

    def serves(self, url: str) -> bool:
        """Whether ``url`` names a database of this server: its superuser, without a password, on 127.0.0.1 at its
        port (any database)."""
        return url.startswith(self.base_url()) and _is_local_superuser_url(url, self.port)

    def admin_url(self) -> str:
        """URL of the maintenance database ``postgres`` (for CREATE DATABASE)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run([self._bin("pg_ctl"), "status", "-D", str(self.data_dir)], check=False)
        return result.returncode == 0

    def start(self, timeout_seconds: float = 60.0) -> str:
        """Initialise the cluster if needed, start it if it is not running, create the database; return its URL.
        Safe to call again while it runs."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        running = self.is_running()
        if not running and not _port_is_free(self.port):
            if self.port_pinned:
                raise EmbeddedPostgresError(
                    f"port {self.port} on 127.0.0.1 is in use by another program: stop it or set MLDP_PG_PORT "
                    "to a free port")
            self.port = free_port()
        self._write_settings()
        if not running:
            self._run(
                [self._bin("pg_ctl"), "start", "-w", "-t", str(int(timeout_seconds)), "-D", str(self.data_dir),
                 "-l", str(self.log_file)],
                check=True,
                what="start the embedded PostgreSQL server",
            )
        self._wait_until_accepting(timeout_seconds)
        self.create_database(self.database)
        (self.data_root / PORT_FILE).write_text(f"{self.port}\n")
        return self.url

    def stop(self) -> bool:
        """Stop the server (fast shutdown). Returns False when it was not running."""
        if not self.is_running():
            return False
        self._run([self._bin("pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(self.data_dir)], check=True,
                  what="stop the embedded PostgreSQL server")
        return True

    def create_database(self, name: str, template: str | None = None) -> None:
        """CREATE DATABASE ``name`` (from ``template`` when given) unless it exists."""
        import psycopg2
        from psycopg2 import sql

        conn = psycopg2.connect(self.admin_url())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone():
                    return
                statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                if template:
                    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                cur.execute(statement)
        finally:
            conn.close()

    # -- internals -----------------------------------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        return str(find_server_binaries() / name)

    def _runs_as_other_user(self) -> bool:
        return os.geteuid() == 0

    def _run(self, argv: list[str], check: bool, what: str = "") -> subprocess.CompletedProcess:
        if self._runs_as_other_user():
            argv = ["runuser", "-u", UNPRIVILEGED_USER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, cwd="/")
        if check and result.returncode != 0:
            log_tail = ""
            if self.log_file.exists():
                log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise EmbeddedPostgresError(
                f"could not {what or ' '.join(argv)} (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{log_tail}".strip()
            )
        return result

    def _initdb(self) -> None:
        self.data_root.mkdir(parents=True, exist_ok=True)
        if self._runs_as_other_user():
            try:
                user = pwd.getpwnam(UNPRIVILEGED_USER)
            except KeyError as exc:
                raise EmbeddedPostgresError(
                    f"running as root, PostgreSQL needs an unprivileged user '{UNPRIVILEGED_USER}': "
                    "create it (`useradd --system postgres`) or run as a normal user"
                ) from exc
            os.chown(self.data_root, user.pw_uid, user.pw_gid)
            probe = subprocess.run(["runuser", "-u", UNPRIVILEGED_USER, "--", "test", "-w", str(self.data_root)])
            if probe.returncode != 0:
                raise EmbeddedPostgresError(
                    f"the '{UNPRIVILEGED_USER}' user cannot write {self.data_root} (a parent folder is not "
                    "traversable for it): set MLDP_HOME to a folder it can reach, e.g. /var/tmp/mldp"
                )
        self._run(
            [self._bin("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-instructions"],
            check=True,
            what=f"initialise a PostgreSQL cluster in {self.data_dir}",
        )

    def _write_settings(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "max_connections": "100",
            "shared_buffers": "'256MB'",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
        }
        conf = self.data_dir / "postgresql.mldp.conf"
        content = "".join(f"{key} = {value}\n" for key, value in settings.items())
        self._write_as_server_user(conf, content)
        main_conf = self.data_dir / "postgresql.conf"
        include = "include_if_exists = 'postgresql.mldp.conf'\n"
        text = main_conf.read_text()
        if include not in text:
            self._write_as_server_user(main_conf, text + include)

    def _write_as_server_user(self, path: Path, content: str) -> None:
        path.write_text(content)
        if self._runs_as_other_user():
            user = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _wait_until_accepting(self, timeout_seconds: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                psycopg2.connect(self.admin_url(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(f"embedded PostgreSQL did not accept connections: {exc}") from exc
                time.sleep(0.2)


def _is_local_superuser_url(url: str, port: int | None = None) -> bool:
    """``url`` is a ``postgresql://`` URL of the superuser without a password on 127.0.0.1 (at ``port``, if
    given)."""
    try:
        parts = urlsplit(url)
        return (parts.scheme == "postgresql" and parts.username == SUPERUSER and parts.password is None
                and parts.hostname == "127.0.0.1" and (port is None or parts.port == port))
    except ValueError:  # a port out of range or not a number
        return False


def embedded_base_url(url: str) -> str | None:
    """:meth:`EmbeddedPostgres.base_url` of the project's development server (:func:`default_server`) when ``url``
    names one of its databases, else ``None``. A URL that names no local superuser is answered without looking
    for the server (nothing of ``.mldp`` is touched)."""
    if not _is_local_superuser_url(url):
        return None
    server = default_server()
    return server.base_url() if server.serves(url) else None


def default_server() -> EmbeddedPostgres:
    """The project's development server in ``.mldp/postgres``: port ``$MLDP_PG_PORT``, else the port it was last
    started on, else 54329 (or any free port when 54329 is taken by another program)."""
    data_root = server_reachable_root(project_state_dir() / "postgres")
    if os.environ.get("MLDP_PG_PORT"):
        return EmbeddedPostgres(data_root, port=int(os.environ["MLDP_PG_PORT"]))
    saved = data_root / PORT_FILE
    port = int(saved.read_text().strip()) if saved.exists() else DEFAULT_PORT
    return EmbeddedPostgres(data_root, port=port, port_pinned=False)
