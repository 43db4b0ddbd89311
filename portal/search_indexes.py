"""Trigram indexes for the admin's substring search, on PostgreSQL only.

The admin's search is ``icontains`` (``UPPER(col::text) LIKE UPPER('%term%')``): without an
index it reads every row, about a second over a million audit entries. A GIN trigram index on
the same expression serves it (for terms of three characters or more) and, for a search over
several columns, PostgreSQL ORs the indexes' bitmaps. Expression indexes with an operator class
are PostgreSQL-only, so the migrations run these through ``trigram_indexes`` (nothing happens on
SQLite), next to ``TrigramExtension``. See the PostgreSQL manual, pg_trgm, "Index Support".
"""

from django.db import migrations


def trigram_indexes(table, indexes):
    """A migration operation creating ``indexes`` ({name: SQL expression}) on ``table`` on PostgreSQL."""

    def create(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for name, expression in indexes.items():
                schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}) gin_trgm_ops)")

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for name in indexes:
                schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    return migrations.RunPython(create, drop, elidable=False)
