"""Session-wide real services for the tests: one PostgreSQL server (for each test a migrated database in the state
of a fresh clone of the template, see :mod:`tests.support.reusable_database`) and one local SparkSession."""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import psycopg2
import pytest
from psycopg2 import sql

from runtime.db.embedded import EmbeddedPostgres, free_port
from runtime.db.migrations import apply_migrations
from tests.support.reusable_database import ReusableDatabase, with_database

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
# moto gives every mock a new boto3 default session, and each new botocore session reads the service models from
# disk again (60-200 ms per client). The models are read-only data: one loader for the whole test process.
botocore.session.create_loader = functools.cache(botocore.session.create_loader)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: one template per pytest-xdist worker, so parallel workers sharing $TEST_DATABASE_SERVER_URL never drop each other's
TEMPLATE_DB = "mldp_test_template" + os.environ.get("PYTEST_XDIST_WORKER", "")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of the maintenance database of the test server: ``$TEST_DATABASE_SERVER_URL`` (an existing server,
    e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) or an embedded server started for this run."""
    existing = os.environ.get("TEST_DATABASE_SERVER_URL")
    if existing:
        yield existing
        return
    # one cluster per test session, so two runs in the same checkout never stop each other's server
    root = PROJECT_ROOT / ".mldp" / "pg-test" / str(os.getpid())
    server = EmbeddedPostgres(data_root=root, port=free_port(), durable=False, database="postgres")
    server.stop()  # a server left over from an interrupted run with the same pid
    server.start()
    yield server.admin_url()
    server.stop()
    shutil.rmtree(server.data_root, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> str:
    """A database with every migration applied, cloned by :func:`db_url` for each test."""
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE_DB)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
    admin.close()
    conn = psycopg2.connect(with_database(pg_server_url, TEMPLATE_DB))
    apply_migrations(conn)
    conn.close()
    return TEMPLATE_DB


@pytest.fixture(scope="session")
def _reusable_database(pg_server_url: str, template_database: str) -> Iterator[ReusableDatabase]:
    database = ReusableDatabase(pg_server_url, template_database)
    yield database
    database.drop()


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A new database with no schema at all (the state before any job ever ran), dropped afterwards."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = pg_server_url.rpartition("/")
    yield f"{base}/{name}"
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


@pytest.fixture
def db_url(_reusable_database: ReusableDatabase) -> Iterator[str]:
    """A migrated database with empty tables, as a fresh clone of the template would be, for one test."""
    yield _reusable_database.acquire()
    _reusable_database.release()


@pytest.fixture
def db_conn(db_url: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(db_url)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def spark():
    """The one local SparkSession of the test run."""
    from runtime.spark.session import get_spark

    session = get_spark("mldp-tests")
    yield session
    session.stop()


# ------------------------------------------------------------------------------------------------ test tiers
#: The fast tier (``make test-fast``): no Spark, no CDK synthesis; it sets MLDP_TEST_TIER=fast.
FAST_TIER = os.environ.get("MLDP_TEST_TIER") == "fast"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by what they start, so tiers can select them: ``infra`` (tests/infra: CDK synthesis),
    ``deployed`` (tests/deployed: synthesis, Spark and Python 3.9 subprocesses), ``spark`` (uses the ``spark``
    fixture, directly or through another fixture; tests that start Spark otherwise carry the marker by hand)."""
    tests_root = PROJECT_ROOT / "tests"
    for item in items:
        top = Path(str(item.path)).relative_to(tests_root).parts[0]
        if top in ("infra", "deployed"):
            item.add_marker(getattr(pytest.mark, top))
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(autouse=True)
def _fast_tier_runs_no_spark(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the fast tier a test that starts Spark fails at once, naming the marker it lacks."""
    if not FAST_TIER:
        return

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"{request.node.nodeid} starts Spark: mark it @pytest.mark.spark (the fast tier runs "
                           "no Spark)")

    monkeypatch.setattr("runtime.spark.session.get_spark", refuse)
