"""Re-encrypt every encrypted credential under the first key of FIELD_ENCRYPTION_KEYS.

Rotation, step by step:

1. generate a key: ``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``
2. put it FIRST in FIELD_ENCRYPTION_KEYS, keep the old key(s) after it, restart:
   new writes use the new key, old rows still decrypt;
3. ``python manage.py rotate_encryption_keys``: every row is re-encrypted under the new key
   (the command then checks each row decrypts with the new key alone);
4. remove the old key(s) from FIELD_ENCRYPTION_KEYS and restart.

Works on the raw column (no model save, no signals, ``updated_at`` untouched) in one
transaction; every model with an ``EncryptedJSONField`` is covered.
"""

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from portal.fields import EncryptedJSONField, fernet


def encrypted_columns():
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedJSONField):
                yield model, field


class Command(BaseCommand):
    help = "Re-encrypt stored credentials under the first FIELD_ENCRYPTION_KEYS key (see the module docstring)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count rows that need it; change nothing")

    def handle(self, *args, dry_run=False, verbosity=1, **options):
        keys = list(settings.FIELD_ENCRYPTION_KEYS)
        if not keys:
            raise CommandError("FIELD_ENCRYPTION_KEYS is empty.")
        primary = Fernet(keys[0].encode() if isinstance(keys[0], str) else keys[0])
        multi = fernet()
        quote = connection.ops.quote_name
        total = rotated = 0
        with transaction.atomic():
            for model, field in encrypted_columns():
                table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} IS NOT NULL")  # noqa: S608
                    rows = cursor.fetchall()
                updates = []
                for row_pk, token in rows:
                    total += 1
                    try:
                        primary.decrypt(token.encode())
                        continue  # already under the primary key
                    except InvalidToken:
                        pass
                    try:
                        updates.append((multi.rotate(token.encode()).decode(), row_pk))
                    except InvalidToken:
                        raise CommandError(
                            f"{model._meta.label} #{row_pk}: {field.name} cannot be decrypted with any FIELD_ENCRYPTION_KEYS "
                            "key; add the key it was written with and run again. Nothing was changed."
                        ) from None
                rotated += len(updates)
                if updates and not dry_run:
                    with connection.cursor() as cursor:
                        cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", updates)  # noqa: S608
                if verbosity:
                    self.stdout.write(f"{model._meta.label}.{field.name}: {len(rows)} row(s), {len(updates)} to re-encrypt")
            if not dry_run:
                self._verify(primary, quote)
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        self.stdout.write(self.style.SUCCESS(f"{rotated} of {total} encrypted value(s) {verb} under the first key."))
        if not dry_run and len(keys) > 1:
            self.stdout.write("Every row now decrypts with the first key alone: the other keys may be removed.")

    def _verify(self, primary, quote):
        for model, field in encrypted_columns():
            table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} IS NOT NULL")  # noqa: S608
                for row_pk, token in cursor.fetchall():
                    try:
                        primary.decrypt(token.encode())
                    except InvalidToken:
                        raise CommandError(f"{model._meta.label} #{row_pk} still not under the first key; rolled back.") from None
