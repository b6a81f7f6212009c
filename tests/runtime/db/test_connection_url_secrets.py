"""No password in any output, for any shape of database URL (issue 11: a malformed URL used to print it)."""

from __future__ import annotations

import pytest

from runtime.db.connection import DatabaseUnavailable, connect, describe_url, redact
from runtime.db.embedded import free_port

SECRET = "Sup3r-S3cret"


#: ``{port}`` is replaced at run time by a port where nothing listens (every attempt fails); the test ids stay the
#: same in every process, as pytest-xdist requires
URLS = [
    f"postgresql:/alice:{SECRET}@127.0.0.1/db",           # one slash: not a URL to libpq
    f"postgresql://alice:{SECRET}@127.0.0.1:notaport/db",  # bad port
    f"postgresql://alice:{SECRET}@127.0.0.1:{{port}}/db",  # well formed, nothing listening
    f"postgres://alice:{SECRET}@127.0.0.1:99999/db",       # port out of range
    f"alice:{SECRET}@127.0.0.1/db",                        # no scheme
    f"host=127.0.0.1 port={{port}} user=alice password={SECRET} connect_timeout=2",
    f"host=127.0.0.1 port={{port}} password='{SECRET} x' user=alice",
    "not-a-url",
]


@pytest.mark.parametrize("url_template", URLS)
def test_a_connection_error_is_one_line_without_the_password(url_template):
    url = url_template.replace("{port}", str(free_port()))
    with pytest.raises(DatabaseUnavailable) as raised:
        connect(url, connect_timeout=2)
    message = str(raised.value)
    assert SECRET not in message and "S3cret" not in message
    assert "\n" not in message
    error = raised.value  # no chained psycopg2 text (it would quote the connection string)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert SECRET not in describe_url(url)


def test_redact_covers_percent_encoded_passwords():
    url = "postgresql://alice:p%40ss%3Aword@db.example.com/x"
    assert redact("failed for p@ss:word and p%40ss%3Aword", url) == "failed for *** and ***"
