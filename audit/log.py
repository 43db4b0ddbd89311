"""Writing audit entries. Every state change in the portal goes through here."""

import json
import uuid

from django.db import connection
from django.utils import timezone

from portal.scrub import scrub, scrub_data
from portal.statement_rows import array_type, as_columns, chunks, unnest_rows

from .models import AuditEntry

# The columns ``row`` fills, in its order; ``write_rows`` adds ``created``.
ROW_FIELDS = ("tenant", "flow", "batch", "event", "source_ref", "target_ref", "actor", "action_id", "message", "before",
              "after")


def new_action_id():
    return uuid.uuid4().hex


def entry(tenant_id, event, *, flow_id=None, batch_id=None, source_ref="", target_ref="", actor="system",
          action_id="", message="", before=None, after=None):
    """An unsaved entry, for bulk_create by callers that write many at once. Text and data are scrubbed of secrets."""
    return AuditEntry(
        tenant_id=tenant_id,
        flow_id=flow_id,
        batch_id=batch_id,
        event=event,
        source_ref=str(source_ref)[:120],
        target_ref=str(target_ref)[:120],
        actor=str(actor)[:150],
        action_id=action_id,
        message=scrub(message),
        before=scrub_data(before),
        after=scrub_data(after),
    )


def row(tenant_id, event, *, flow_id=None, batch_id=None, source_ref="", target_ref="", actor="system", action_id="",
        message="", before=None, after=None):
    """What ``entry`` holds, as a tuple of column values ready for ``write_rows``: scrubbed like an entry, the JSON
    already serialised. A cycle audits every step of every record (about five entries per posted report);
    building a model instance for each and letting ``bulk_create`` prepare it field by field cost more than
    the statement itself."""
    return (tenant_id, flow_id, batch_id, event, str(source_ref)[:120], str(target_ref)[:120], str(actor)[:150], action_id,
            scrub(message), _json(scrub_data(before)), _json(scrub_data(after)))


def _json(value):
    # JSONField stores None as SQL NULL (``entry`` does the same through the field).
    return None if value is None else json.dumps(value)


def write_rows(rows):
    """Insert ``row`` tuples, many per statement, each entry dated now, as ``auto_now_add`` would. One statement of
    many rows rather than ``executemany``: on SQLite that steps the statement once per row, giving up and taking
    back the GIL each time, and a cycle's thread waits for it behind its posting threads at every row. The row
    counts per statement are few (``portal.statement_rows``): each is a statement the driver keeps prepared. On
    PostgreSQL the rows go as one array per column (``unnest_rows``), in one statement."""
    if not rows:
        return
    meta, q = AuditEntry._meta, connection.ops.quote_name
    columns = [meta.get_field(name).column for name in ROW_FIELDS] + [meta.get_field("created").column]
    created = meta.get_field("created").get_db_prep_value(timezone.now(), connection)
    if connection.vendor == "postgresql":  # the rows as arrays: one statement text for any number of rows
        types = [array_type(meta.get_field(name), connection) for name in (*ROW_FIELDS, "created")]
        sql = f"INSERT INTO {q(meta.db_table)} ({', '.join(q(c) for c in columns)}) SELECT * FROM {unnest_rows(types)}"
        with connection.cursor() as cursor:
            cursor.execute(sql, as_columns([(*values, created) for values in rows], len(columns)))
        return
    marks = "(" + ", ".join(["%s"] * (len(ROW_FIELDS) + 1)) + ")"  # SQLite stores the serialised JSON as it is
    head = f"INSERT INTO {q(meta.db_table)} ({', '.join(q(c) for c in columns)}) VALUES "
    with connection.cursor() as cursor:
        for chunk in chunks(rows):
            cursor.execute(head + ", ".join([marks] * len(chunk)), [v for values in chunk for v in (*values, created)])


def record(tenant_id, event, **kwargs):
    e = entry(tenant_id, event, **kwargs)
    e.save()
    return e


def write(entries):
    if entries:
        AuditEntry.objects.bulk_create(entries)


def actor_name(user):
    if user is None:
        return "system"
    return user.get_username() if hasattr(user, "get_username") else str(user)
