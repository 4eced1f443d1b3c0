"""Queries of the hot write path, compiled by the ORM once per process.

Building and compiling a queryset costs a booking more CPU than PostgreSQL
spends running the statement (bench/booking.py's profile). A `Prepared` query
is built by the ORM, from the same querysets the code would use, the first time
it runs in a process (per database vendor), with stand-in arguments; later calls
send the same SQL with the arguments put where the stand-ins were. So the SQL
is exactly the ORM's, and a rule it contains stays stated once.

Only for queries whose every variable part is an argument: nothing from the
clock or the settings may be compiled in (it would be frozen at the first call).
"""

from datetime import date, datetime, time

from django.db import connection

# Stand-in arguments: values no id, date or time of the application ever is.
STAND_INS = tuple(-7_310_000_001 - n for n in range(8))
STAND_IN_DAY = date(1001, 2, 3)
STAND_IN_TIME = time(4, 5, 6, 789)


def _adapted(value):
    """`value` as the ORM puts it in a query's parameters (SQLite: dates and times as text)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return connection.ops.adapt_datefield_value(value)
    if isinstance(value, time):
        return connection.ops.adapt_timefield_value(value)
    return value


def _place(param, stand_ins):
    """Which argument `param` stands in for, or None (a constant of the query)."""
    for n, stand_in in enumerate(stand_ins):
        stand_in = _adapted(stand_in)
        if type(param) is type(stand_in) and param == stand_in:
            return n
    return None


class Prepared:
    """`build(*stand_ins)` gives the queryset; `rows(*args)` runs it with `args` (one
    per stand-in: by default integers, e.g. ids)."""

    def __init__(self, build, stand_ins=STAND_INS[:2]):
        self.build = build
        self.stand_ins = stand_ins
        self.compiled = {}

    def _compiled(self):
        vendor = connection.vendor
        if vendor not in self.compiled:
            queryset = self.build(*self.stand_ins)
            compiler = queryset.query.get_compiler(connection=connection)
            sql, params = compiler.as_sql()
            places = [_place(p, self.stand_ins) for p in params]
            # The database's values become Python's as the ORM's own reads do it
            # (SQLite gives dates and times as text).
            columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
            converters = compiler.get_converters(columns)
            self.compiled[vendor] = (sql, list(params), places, compiler, converters)
        return self.compiled[vendor]

    def sql(self, args):
        sql, params, places, _, _ = self._compiled()
        args = [_adapted(arg) for arg in args]
        return sql, [p if n is None else args[n] for p, n in zip(params, places, strict=True)]

    def rows(self, *args):
        _, _, _, compiler, converters = self._compiled()
        with connection.cursor() as cursor:
            cursor.execute(*self.sql(args))
            rows = cursor.fetchall()
        return list(compiler.apply_converters(rows, converters)) if converters else rows


def instances(model, row, start=0):
    """A `model` instance from `row[start:]`, its concrete fields in model order (the
    order the ORM selects them); (instance, the index after its columns)."""
    names = [f.attname for f in model._meta.concrete_fields]
    end = start + len(names)
    return model.from_db(connection.alias, names, row[start:end]), end
