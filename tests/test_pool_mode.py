"""DATABASE_POOL_MODE: what changes behind PgBouncer's transaction pooling.

Each test imports config.settings in a fresh interpreter with exactly the
environment it names (tests/test_settings_and_cors.py's way). The suite itself
run through PgBouncer with DATABASE_POOL_MODE=transaction (.ci/stack) is the
proof that the booking guarantees hold there.
"""

import json

from tests.test_settings_and_cors import run_settings

PG_URL = "postgres://quickmed@127.0.0.1:6432/quickmed"
PRINT_DATABASE = (
    "django.setup(); import json; from django.conf import settings; "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'mode': settings.DATABASE_POOL_MODE, 'age': db['CONN_MAX_AGE'], "
    "'checks': db['CONN_HEALTH_CHECKS'], 'cursors': db.get('DISABLE_SERVER_SIDE_CURSORS', False), "
    "'options': db.get('OPTIONS', {})}))"
)


def database_settings(**env):
    result = run_settings({"DEBUG": "0", "SECRET_KEY": "x", **env}, PRINT_DATABASE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_empty_pool_mode_is_the_default_postgresql_keeps_its_connections():
    db = database_settings(DATABASE_URL=PG_URL, DATABASE_POOL_MODE="")

    assert db["mode"] == "session"
    assert (db["age"], db["checks"], db["cursors"]) == (60, True, False)


def test_session_mode_is_the_default_behaviour():
    db = database_settings(DATABASE_URL=PG_URL, DATABASE_POOL_MODE="session")

    assert (db["age"], db["checks"], db["cursors"]) == (60, True, False)


def test_transaction_mode_turns_off_server_side_cursors():
    db = database_settings(DATABASE_URL=PG_URL, DATABASE_POOL_MODE="transaction")

    assert db["cursors"] is True


def test_transaction_mode_connects_per_request_without_health_checks():
    db = database_settings(DATABASE_URL=PG_URL, DATABASE_POOL_MODE="transaction")

    assert (db["age"], db["checks"]) == (0, False)


def test_transaction_mode_never_prepares_statements_even_if_the_url_asks():
    db = database_settings(
        DATABASE_URL=PG_URL + "?prepare_threshold=5", DATABASE_POOL_MODE="transaction"
    )

    assert "prepare_threshold" in db["options"]
    assert db["options"]["prepare_threshold"] is None


def test_an_unknown_pool_mode_refuses_to_start_naming_the_choices():
    result = run_settings(
        {"DEBUG": "0", "SECRET_KEY": "x", "DATABASE_URL": PG_URL, "DATABASE_POOL_MODE": "statement"}
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DATABASE_POOL_MODE='statement'" in result.stderr
    assert "'session'" in result.stderr and "'transaction'" in result.stderr


def test_transaction_mode_on_sqlite_refuses_to_start():
    result = run_settings(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x",
            "DATABASE_URL": "sqlite:///db.sqlite3",
            "DATABASE_POOL_MODE": "transaction",
        }
    )

    assert result.returncode != 0
    assert "DATABASE_POOL_MODE=transaction needs a PostgreSQL DATABASE_URL" in result.stderr


def test_transaction_mode_refuses_a_session_role():
    result = run_settings(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x",
            "DATABASE_URL": PG_URL + "?assume_role=owner",
            "DATABASE_POOL_MODE": "transaction",
        }
    )

    assert result.returncode != 0
    assert "assume_role" in result.stderr
