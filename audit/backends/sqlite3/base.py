"""Django's SQLite engine, whose flush may empty the append-only audit table.

SQLite has no TRUNCATE: a flush deletes every row, which the audit table's
trigger refuses (audit/triggers.py). The flush drops that trigger first and
makes it again after, in the flush's own transaction. Nothing else changes.
"""

from django.db.backends.sqlite3 import base, operations

from audit import triggers


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if triggers.TABLE not in tables:
            return sql
        return [triggers.SQLITE_DROP_NO_DELETE, *sql, triggers.SQLITE_NO_DELETE]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
