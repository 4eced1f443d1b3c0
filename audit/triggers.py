"""The database's own refusal to rewrite or delete an audit entry.

PostgreSQL: a row trigger refuses UPDATE and DELETE. TRUNCATE fires no row
trigger, so wiping the whole database (`manage.py flush`, the test runner
between transactional tests) still works there, and only there does the
application never need it.

SQLite: the same refusal by two triggers. SQLite has no TRUNCATE: its flush
deletes row by row, which the trigger would refuse; audit.backends.sqlite3
(the engine settings use for SQLite) drops the DELETE trigger for the flush and
makes it again in the same transaction, so a flush is the one way round it.
"""

TABLE = "audit_auditentry"
REFUSAL = "audit entries are append-only"

POSTGRES_CREATE = f"""
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_entry_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
"""
POSTGRES_DROP = f"""
DROP TRIGGER IF EXISTS audit_entry_append_only ON {TABLE};
DROP FUNCTION IF EXISTS audit_entry_append_only();
"""

SQLITE_NO_UPDATE = (
    f"CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END;"
)
SQLITE_NO_DELETE = (
    f"CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END;"
)
SQLITE_DROP_NO_DELETE = "DROP TRIGGER IF EXISTS audit_entry_no_delete;"
SQLITE_DROP = f"DROP TRIGGER IF EXISTS audit_entry_no_update; {SQLITE_DROP_NO_DELETE}"


def create(schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_NO_UPDATE)
        schema_editor.execute(SQLITE_NO_DELETE)


def drop(schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP.split("; "):
            schema_editor.execute(statement)
