"""Tenant validation: time zone, currency, alert addresses."""

import pytest
from django.core.exceptions import ValidationError

from portal.models import Tenant

pytestmark = pytest.mark.django_db


def tenant(**fields):
    return Tenant(**{"name": "Acme", "slug": "acme", **fields})


def test_valid_tenant():
    t = tenant(
        time_zone="America/Chicago", base_currency="EUR", alert_emails="a@example.com, b@example.com; c@example.com\nd@x.io"
    )
    t.full_clean()
    assert t.alert_email_list == ["a@example.com", "b@example.com", "c@example.com", "d@x.io"]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "CST", "", "europe/berlin "])
def test_unknown_time_zone(zone):
    with pytest.raises(ValidationError) as exc:
        tenant(time_zone=zone).full_clean()
    assert "time_zone" in exc.value.message_dict


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "12A", ""])
def test_bad_currency(currency):
    with pytest.raises(ValidationError) as exc:
        tenant(base_currency=currency).full_clean()
    assert "base_currency" in exc.value.message_dict


@pytest.mark.parametrize("emails", ["not-an-address", "a@example.com, nope", "a@@example.com"])
def test_bad_alert_address_is_named(emails):
    with pytest.raises(ValidationError) as exc:
        tenant(alert_emails=emails).full_clean()
    message = " ".join(exc.value.message_dict["alert_emails"])
    assert "is not a valid e-mail address" in message


def test_alert_emails_may_be_empty():
    tenant(alert_emails="").full_clean()
