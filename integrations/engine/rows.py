"""Many batches written in one statement each way, as plain SQL: ``update_each`` and ``insert_each``.

``UPDATE batch SET f = CASE id WHEN %s THEN %s ... ELSE f END ... WHERE id IN (...) AND <guard>``.
The ORM's ``Case``/``When`` says the same, but resolving one expression per row and field cost
more than the statement itself (about 3 ms per batch in a profile of a 1,000-report cycle);
here a value is converted once by its field (``get_db_prep_value``) and becomes a parameter.
PostgreSQL reads a parameter in a CASE branch as text, so each one is cast to the column's type.
"""

import json

from django.db import connection, models
from django.utils import timezone

from portal.statement_rows import array_type, chunks, unnest_rows

from ..models import Batch
from .binding import server_binding


def _column_type(field):
    return field.cast_db_type(connection)


def _placeholder(field):
    if connection.vendor == "postgresql":
        return f"CAST(%s AS {_column_type(field)})"
    return "%s"


def update_each(rows, *, where="", where_params=(), model=Batch):
    """Set ``rows`` (``{pk: {field name: value}}``) in one statement; returns the number of rows changed.

    A row whose dict does not name a field keeps that column. ``where`` (SQL, ``%s`` parameters in
    ``where_params``) guards every row, e.g. that it is still in the state the caller saw."""
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _update_each_unnest(rows, where, where_params, model)
    q = connection.ops.quote_name
    meta = model._meta
    pk_column = q(meta.pk.column)
    names = sorted({name for values in rows.values() for name in values})
    sets, params = [], []
    for name in names:
        field = meta.get_field(name)
        column, mark = q(field.column), _placeholder(field)
        branches = []
        for pk, values in rows.items():
            if name in values:
                branches.append(f"WHEN %s THEN {mark}")
                params += [pk, field.get_db_prep_save(values[name], connection)]
        default = "" if len(branches) == len(rows) else f" ELSE {column}"
        sets.append(f"{column} = CASE {pk_column} {' '.join(branches)}{default} END")
    marks = ", ".join(["%s"] * len(rows))
    sql = f"UPDATE {q(meta.db_table)} SET {', '.join(sets)} WHERE {pk_column} IN ({marks})"
    params += list(rows)
    if where:
        sql += f" AND ({where})"
        params += list(where_params)
    with server_binding(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _update_each_unnest(rows, where, where_params, model):
    """``update_each`` on PostgreSQL: the rows as arrays (``unnest_rows``), joined to the table by id. A field that
    some rows do not set comes with a flag column saying which do."""
    q, meta = connection.ops.quote_name, model._meta
    table, pk_column = q(meta.db_table), q(meta.pk.column)
    names = sorted({name for values in rows.values() for name in values})
    types, aliases, columns, sets = [array_type(meta.pk, connection)], ["k"], [list(rows)], []
    for i, name in enumerate(names):
        field = meta.get_field(name)
        column = q(field.column)
        types.append(array_type(field, connection))
        aliases.append(f"v{i}")
        columns.append([_db_value(field, values[name]) if name in values else None for values in rows.values()])
        if all(name in values for values in rows.values()):
            sets.append(f"{column} = u.v{i}")
            continue
        types.append("boolean")
        aliases.append(f"s{i}")
        columns.append([name in values for values in rows.values()])
        sets.append(f"{column} = CASE WHEN u.s{i} THEN u.v{i} ELSE {table}.{column} END")
    sql = (f"UPDATE {table} SET {', '.join(sets)} FROM {unnest_rows(types)} AS u({', '.join(aliases)}) "
           f"WHERE {table}.{pk_column} = u.k")
    if where:
        sql += f" AND ({where})"
    with server_binding(), connection.cursor() as cursor:
        cursor.execute(sql, [*columns, *where_params])
        return cursor.rowcount


def _db_value(field, value):
    """A value as its column takes it; JSON as text (cast to jsonb with the array)."""
    if isinstance(field, models.JSONField):
        return None if value is None else json.dumps(value, cls=field.encoder)
    return field.get_db_prep_save(value, connection)


def guard(**conditions):
    """``(sql, params)`` for equality conditions on Batch columns, e.g. ``guard(state="new")``."""
    q = connection.ops.quote_name
    parts, params = [], []
    for name, value in conditions.items():
        field = Batch._meta.get_field(name)
        parts.append(f"{q(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection))
    return " AND ".join(parts), params


def insert_each(objs, *, key, encoded=None, model=Batch):
    """INSERT the unsaved ``objs`` as ``bulk_create`` would (their pk, ``auto_now`` dates and saved state set),
    without its per-value expression work: for a page of batches that cost more than the statement (a third of
    the store step in a profile of a 3,000-report cycle). ``key``: field names unique among ``objs``; the new ids
    are matched to the objects by them, as neither database promises RETURNING's order. ``encoded``:
    ``{field name: {id(obj): JSON text}}`` for values the caller encoded already (the payload, on its check for
    NUL). Raises IntegrityError or DataError as ``bulk_create`` does; nothing is set on ``objs`` then."""
    if not objs:
        return objs
    q, meta, encoded = connection.ops.quote_name, model._meta, encoded or {}
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                setattr(obj, field.attname, now)
    marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(q(f.column) for f in fields)
    key_attnames = [meta.get_field(name).attname for name in key]
    returning = ", ".join(q(meta.get_field(name).column) for name in (meta.pk.name, *key))
    by_key = {tuple(getattr(obj, name) for name in key_attnames): obj for obj in objs}
    convert = [_converter(field, encoded.get(field.name), now) for field in fields]
    table = q(meta.db_table)
    if connection.vendor == "postgresql":  # one array per column: one statement text for any number of rows
        types = [array_type(f, connection) for f in fields]
        statements = [(f"INSERT INTO {table} ({columns}) SELECT * FROM {unnest_rows(types)} RETURNING {returning}",
                       [[fn(obj) for obj in objs] for fn in convert])]
    else:  # at most 64 rows a statement: each row count is a statement the driver keeps prepared
        statements = ((f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * len(chunk))} RETURNING {returning}",
                       [fn(obj) for obj in chunk for fn in convert]) for chunk in chunks(objs))
    found = {}
    with server_binding(), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            found.update((tuple(values), pk) for pk, *values in cursor.fetchall())
    if len(found) != len(objs) or set(found) != set(by_key):
        raise RuntimeError(f"{len(objs)} {meta.db_table} rows inserted but {len(found)} ids matched to them by {key}")
    for values, pk in found.items():
        obj = by_key[values]
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


def _converter(field, texts, now):
    """``obj -> column value`` for one field, doing per row only what the row's value needs."""
    attname = field.attname
    if isinstance(field, models.JSONField):  # text, cast to jsonb on PostgreSQL (its Jsonb adapter is slower)
        texts, encoder = texts or {}, field.encoder

        def json_value(obj):
            text = texts.get(id(obj))
            if text is not None:
                return text
            value = getattr(obj, attname)
            return None if value is None else json.dumps(value, cls=encoder)
        return json_value
    prepared_now = field.get_db_prep_save(now, connection) if isinstance(field, models.DateTimeField) else None
    textual = isinstance(field, (models.CharField, models.TextField))

    def value_of(obj):
        value = getattr(obj, attname)
        if value is None:
            return None
        if value is now:  # the insert's own date (auto_now), converted once
            return prepared_now
        if textual and value.__class__ is str:
            return value
        return field.get_db_prep_save(value, connection)
    return value_of
