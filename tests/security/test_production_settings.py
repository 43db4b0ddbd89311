"""PRODUCTION=true refuses weak settings at start-up, naming the variable (issue 9, point 8)."""

import pytest

from portal import settings as portal_settings
from tests.portal.test_settings import PRODUCTION_ENV, run


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", portal_settings._DEV_SECRET),
        ("SECRET_KEY", ""),
        ("SECRET_KEY", "   "),
        ("SECRET_KEY", "short-but-set-0123456789"),
        ("FIELD_ENCRYPTION_KEYS", portal_settings._DEV_FIELD_KEY),
        ("FIELD_ENCRYPTION_KEYS", PRODUCTION_ENV["FIELD_ENCRYPTION_KEYS"] + "," + portal_settings._DEV_FIELD_KEY),
        ("FIELD_ENCRYPTION_KEYS", ""),
        ("FIELD_ENCRYPTION_KEYS", " , "),
        ("ALLOWED_HOSTS", ""),
        ("ALLOWED_HOSTS", " , "),
    ],
)
def test_production_refuses_a_weak_value_and_names_it(name, value):
    result = run(["manage.py", "check"], **{**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.strip().splitlines()[-1]


def test_development_still_starts_with_the_written_keys():
    result = run(["manage.py", "check"])
    assert result.returncode == 0, result.stderr
