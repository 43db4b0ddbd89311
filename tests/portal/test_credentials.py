"""Credentials at rest: ciphertext in the column, key rotation, secrets kept out of logs."""

import io
import json
import logging
from contextlib import redirect_stdout

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from integrations.models import Connection
from portal.fields import UndecryptableSecret
from portal.logging import RedactSecretsFilter, redact, remember_secret
from tests.factories import SECRET_MARK, credentials_for, make_connection

KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))


def raw_column(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM integrations_connection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("system", ["expensify", "jde", "ifs", "acumatica", "procurify", "bill"])
def test_column_holds_no_plaintext(tenant, system):
    creds = credentials_for(system, "raw")
    conn = make_connection(tenant, system, credentials=creds)
    raw = raw_column(conn.pk)
    assert raw.startswith("gAAAAA")  # one Fernet token
    for key, value in creds.items():
        assert key not in raw, "key names are encrypted too"
        assert value not in raw
    assert SECRET_MARK not in raw
    assert Connection.objects.get(pk=conn.pk).credentials == creds


def test_same_credentials_encrypt_differently_each_time(tenant):
    a = make_connection(tenant, credentials={"partnerUserID": "u", "partnerUserSecret": "same-secret-value"})
    b = make_connection(tenant, credentials={"partnerUserID": "u", "partnerUserSecret": "same-secret-value"})
    assert raw_column(a.pk) != raw_column(b.pk)


def test_key_rotation(tenant):
    creds = credentials_for("jde", "rot")
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        conn = make_connection(tenant, "jde", credentials=creds)
        token_a = raw_column(conn.pk)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        with pytest.raises(UndecryptableSecret) as exc:
            Connection.objects.get(pk=conn.pk)
        assert "rotate_encryption_keys" in str(exc.value)
        assert KEY_A not in str(exc.value) and KEY_B not in str(exc.value)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        assert Connection.objects.get(pk=conn.pk).credentials == creds  # old key as fallback
        out = io.StringIO()
        call_command("rotate_encryption_keys", stdout=out)
        assert "1 of 1 encrypted value(s) re-encrypted" in out.getvalue()
        token_b = raw_column(conn.pk)
        assert token_b != token_a
        out = io.StringIO()
        call_command("rotate_encryption_keys", stdout=out)  # idempotent
        assert "0 of 1" in out.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        assert Connection.objects.get(pk=conn.pk).credentials == creds
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        with pytest.raises(UndecryptableSecret):
            Connection.objects.get(pk=conn.pk)


def test_rotation_dry_run_changes_nothing(tenant):
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        conn = make_connection(tenant)
        before = raw_column(conn.pk)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        out = io.StringIO()
        call_command("rotate_encryption_keys", "--dry-run", stdout=out)
        assert "1 of 1 encrypted value(s) would be re-encrypted" in out.getvalue()
    assert raw_column(conn.pk) == before


def test_rotation_stops_without_changes_when_a_row_has_an_unknown_key(tenant):
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        first = make_connection(tenant)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_C]):
        make_connection(tenant)
    before = raw_column(first.pk)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        with pytest.raises(CommandError, match="cannot be decrypted"):
            call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert raw_column(first.pk) == before


def test_serialisation_never_writes_secrets(tenant):
    conn = make_connection(tenant, credentials=credentials_for("expensify", "dump"))
    out = io.StringIO()
    with redirect_stdout(out):
        call_command("dumpdata", "integrations.connection", stdout=out)
    dumped = out.getvalue()
    assert json.loads(dumped)[0]["pk"] == conn.pk
    assert SECRET_MARK not in dumped and "partnerUserSecret" not in dumped


# -- logs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "POST /auth password=hunter2secret&user=x",
        '{"partnerUserSecret": "hunter2secret", "partnerUserID": "me"}',
        "headers={'Authorization': 'Bearer abc.def.hunter2secret'}",
        "client_secret=hunter2secret",
        "jde-AIS-Auth: hunter2secret",
        '{"dev_key": "hunter2secret"}',
        "webhook_secret: hunter2secret",
        "Authorization: Basic aHVudGVyMnNlY3JldDp4eXo=",
    ],
)
def test_redact_masks_known_secret_shapes(line):
    cleaned = redact(line)
    assert "hunter2secret" not in cleaned and "aHVudGVyMnNlY3JldDp4eXo=" not in cleaned
    assert "***" in cleaned


def test_redact_keeps_ordinary_text():
    line = "posted journal EXP-123 to JDE batch 4711 (3 lines, 12.34 USD)"
    assert redact(line) == line


def test_decrypted_secrets_are_masked_even_when_bare(tenant):
    conn = make_connection(tenant, credentials={"partnerUserID": "ident-visible", "partnerUserSecret": "bare-value-9f8e7d"})
    Connection.objects.get(pk=conn.pk).credentials  # noqa: B018 - decrypting registers the secret
    assert redact("vendor said: invalid credential bare-value-9f8e7d for ident-visible") == (
        "vendor said: invalid credential *** for ident-visible"
    )


def make_logger(stream):
    logger = logging.getLogger(f"test.redact.{id(stream)}")
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger.addHandler(handler)
    logger.propagate = False
    return logger


def test_filter_masks_messages_args_and_tracebacks():
    remember_secret("tb-secret-0a1b2c")
    stream = io.StringIO()
    logger = make_logger(stream)
    logger.warning("login with password=%s failed", "arg-secret-777")
    try:
        raise RuntimeError("upstream echoed tb-secret-0a1b2c back")
    except RuntimeError:
        logger.exception("call failed")
    written = stream.getvalue()
    assert "arg-secret-777" not in written and "tb-secret-0a1b2c" not in written
    assert "RuntimeError" in written and "***" in written


def test_every_configured_handler_redacts():
    from django.conf import settings

    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact" in handler.get("filters", []), name
    root_filters = [f for h in logging.getLogger().handlers for f in h.filters]
    assert any(isinstance(f, RedactSecretsFilter) for f in root_filters)
