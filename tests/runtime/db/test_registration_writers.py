"""``register_pages`` with extra writer connections: every page registered once, on whichever connection takes
it; an error on any writer (or in the pages) stops the registration and is raised, as with one writer."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import psycopg2
import pytest

from runtime.db.registration import PreparedPage, prepare_page, register_pages
from runtime.storage.base import ObjectInfo
from tests.support.sql import files_by_key

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _pages(count: int, size: int = 7) -> list[list[ObjectInfo]]:
    return [[ObjectInfo(f"raw-json-data/all_historical_files/p{p:02d}/{i}.json", 1, T0, "e") for i in range(size)]
            for p in range(count)]


def test_every_page_is_registered_once_across_the_writers(db_url, db_conn):
    extra = [psycopg2.connect(db_url), psycopg2.connect(db_url)]
    try:
        counts = list(register_pages(db_conn, _pages(30), writers=extra))
    finally:
        for conn in extra:
            conn.close()
    assert (len(counts), sum(c.new for c in counts)) == (30, 210)
    assert len(files_by_key(db_conn, "etag")) == 210


def test_a_failing_page_on_any_writer_stops_the_registration(db_url, db_conn):
    pages = [prepare_page(p) for p in _pages(6)]
    extra = psycopg2.connect(db_url)
    try:
        for position in range(3):  # whichever connection takes it
            broken = PreparedPage(1, io.StringIO("a key,not a size,1.0,e\n"))  # COPY fails: bigint "not a size"
            with pytest.raises(psycopg2.errors.InvalidTextRepresentation):
                list(register_pages(db_conn, [*pages[:position], broken, *pages[position:]], writers=[extra]))
            for page in pages:
                page.csv.seek(0)
    finally:
        extra.close()
