"""Credentials at rest.

django-fernet-encrypted-fields does the field mechanics; we give it our own key list
(``FIELD_ENCRYPTION_KEYS``, first key encrypts, all keys decrypt) instead of keys derived
from ``SECRET_KEY``, so rotating the session secret never touches stored credentials and
rotating the field key is its own, explicit operation (``rotate_encryption_keys``).
The whole JSON document is one ciphertext: not even the key names are stored in clear.
"""

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from encrypted_fields.fields import EncryptedTextField

from .scrub import is_secret_key, remember_secret


class UndecryptableSecret(Exception):
    pass


def fernet():
    keys = settings.FIELD_ENCRYPTION_KEYS
    if isinstance(keys, str):
        keys = [keys]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def remember_secrets(data):
    """Every decrypted secret value is masked in logs from then on (see portal.logging)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if is_secret_key(key) and isinstance(value, str):
                remember_secret(value)


class EncryptedJSONField(EncryptedTextField):
    """A JSON object stored as one Fernet token in a text column."""

    # Not cached: keys come from settings each time, so rotation takes effect at once.
    @property
    def f(self):
        return fernet()

    @property
    def keys(self):
        return list(settings.FIELD_ENCRYPTION_KEYS)

    def get_prep_value(self, value):
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            remember_secrets(value)
            value = json.dumps(value, sort_keys=True)
        return self.f.encrypt(value.encode("utf-8")).decode("utf-8")

    def from_db_value(self, value, expression, connection):
        if value is None:
            return {}
        try:
            data = json.loads(self.f.decrypt(value.encode("utf-8")).decode("utf-8"))
        except InvalidToken:
            raise UndecryptableSecret(
                "Stored credentials cannot be decrypted with FIELD_ENCRYPTION_KEYS; "
                "keep the key they were written with in the list until rotate_encryption_keys has run."
            ) from None
        remember_secrets(data)
        return data

    def to_python(self, value):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value if value is not None else {}

    def value_to_string(self, obj):
        return "***"  # never serialise a secret (dumpdata, admin history)
