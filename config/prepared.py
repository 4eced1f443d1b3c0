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

from datetime import UTC, date, datetime, time

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.sql import InsertQuery

# Stand-in arguments: values no id, date or time of the application ever is.
STAND_INS = tuple(-7_310_000_001 - n for n in range(8))
STAND_IN_DAY = date(1001, 2, 3)
STAND_IN_TIME = time(4, 5, 6, 789)
STAND_IN_INSTANT = datetime(1001, 2, 3, 4, 5, 6, 789, tzinfo=UTC)
STAND_IN_TEXT = "stand-in:7310000001"


def db():
    """The default connection itself. Every attribute read through the proxy
    `django.db.connection` looks the connection up again (an asgiref Local): on
    the hot path, where fields ask it for each value, that cost a booking more
    CPU than any statement's own SQL."""
    return connections[DEFAULT_DB_ALIAS]


def _adapted(value, ops):
    """`value` as the ORM puts it in a query's parameters (SQLite: dates and times as text)."""
    if isinstance(value, datetime):
        return ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return ops.adapt_datefield_value(value)
    if isinstance(value, time):
        return ops.adapt_timefield_value(value)
    return value


def _place(param, stand_ins):
    """Which argument `param` stands in for, or None (a constant of the query)."""
    for n, stand_in in enumerate(stand_ins):
        stand_in = _adapted(stand_in, connection.ops)
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
            compiler, (sql, params) = self._compile(self.build(*self.stand_ins))
            places = [_place(p, self.stand_ins) for p in params]
            # The database's values become Python's as the ORM's own reads do it
            # (SQLite gives dates and times as text).
            columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
            converters = compiler.get_converters(columns)
            self.compiled[vendor] = (sql, list(params), places, compiler, converters)
        return self.compiled[vendor]

    def _compile(self, queryset):
        compiler = queryset.query.get_compiler(connection=connection)
        return compiler, compiler.as_sql()

    def sql(self, args):
        sql, params, places, _, _ = self._compiled()
        ops = db().ops
        args = [_adapted(arg, ops) for arg in args]
        return sql, [p if n is None else args[n] for p, n in zip(params, places, strict=True)]

    def rows(self, *args):
        _, _, _, compiler, converters = self._compiled()
        with connection.cursor() as cursor:
            cursor.execute(*self.sql(args))
            rows = cursor.fetchall()
        return list(compiler.apply_converters(rows, converters)) if converters else rows


class PreparedUpdate(Prepared):
    """An UPDATE of the rows a queryset selects, their selected columns returned, in one
    statement: `build(*stand_ins)` gives (the queryset, {field name: new value}). The
    queryset filters on its own table's columns only (an UPDATE has no joins); what it
    selects (columns, subqueries) comes back as its rows would, read after the change.
    (UPDATE ... RETURNING: PostgreSQL, and SQLite from 3.35.)"""

    def _compile(self, built):
        queryset, values = built
        query = queryset.query
        compiler = query.get_compiler(connection=connection)
        compiler.pre_sql_setup()
        if query.count_active_tables() != 1:
            raise ValueError("an UPDATE's rows are filtered on its own table only")
        where, params = compiler.compile(compiler.where)
        quote = connection.ops.quote_name
        fields = [query.model._meta.get_field(name) for name in values]
        columns = ", ".join(f"{quote(field.column)} = %s" for field in fields)
        assigned = [
            f.get_db_prep_save(v, connection) for f, v in zip(fields, values.values(), strict=True)
        ]
        selected = [select for _, select, _ in compiler.select[: compiler.col_count]]
        returning = ", ".join(sql for sql, _ in selected)
        table = quote(query.model._meta.db_table)
        sql = f"UPDATE {table} SET {columns} WHERE {where} RETURNING {returning}"
        return compiler, (sql, [*assigned, *params, *(p for _, ps in selected for p in ps)])


def instances(model, row, start=0):
    """A `model` instance from `row[start:]`, its concrete fields in model order (the
    order the ORM selects them); (instance, the index after its columns)."""
    names = [f.attname for f in model._meta.concrete_fields]
    end = start + len(names)
    return model.from_db(connection.alias, names, row[start:end]), end


_INSERTS = {}


def create(model, **values):
    """model.objects.create(**values) with the INSERT compiled once per model and
    process: every column the model has (defaults and auto_now filled in per row,
    as save() fills them), the new id read back. No signals are sent (the project
    listens to none on these models); a constraint's IntegrityError is raised as
    from create()."""
    return save_new(model(**values))


def save_new(obj):
    """create()'s INSERT of an instance already made (unsaved): `obj`, saved."""
    statement = insert_statement(obj)
    if statement is None:
        obj.save(force_insert=True)
        return obj
    sql, params, new_id = statement
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if new_id:
            obj.pk = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, connection.alias
    return obj


def insert_statement(obj):
    """(sql, params, whether it returns a new id) of save_new(obj)'s INSERT, not
    sent: for a caller that sends it inside a larger statement. None when the ORM's
    INSERT of it is not one plain placeholder per column (save_new then saves)."""
    conn = db()
    new_id = obj._meta.auto_field is not None and obj.pk is None
    sql, fields = _insert_sql(type(obj), obj, new_id, conn)
    if sql is None:
        return None
    params = [f.get_db_prep_save(f.pre_save(obj, True), conn) for f in fields]
    return sql, params, new_id


def _insert_sql(model, obj, new_id, conn):
    """(the ORM's INSERT of every column, but a new id's, with RETURNING it when it is
    new; those fields), compiled once per model and vendor. The SQL is None when it is
    not one plain placeholder per column, or the database cannot return ids."""
    key = (model, conn.vendor, new_id)
    if key not in _INSERTS:
        opts = model._meta
        fields = [f for f in opts.local_concrete_fields if not (new_id and f is opts.auto_field)]
        query = InsertQuery(model)
        query.insert_values(fields, [obj])
        compiler = query.get_compiler(connection=conn)
        if new_id:
            compiler.returning_fields = [opts.pk]
        ((sql, params),) = compiler.as_sql()
        plain = len(params) == len(fields) == sql.count("%s")
        returns = not new_id or conn.features.can_return_columns_from_insert
        _INSERTS[key] = (sql if plain and returns else None, fields)
    return _INSERTS[key]
