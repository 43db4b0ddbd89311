import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, validate_email
from django.db import models


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f'"{value}" is not a known time zone (e.g. "Europe/Berlin", "America/Chicago").')


def validate_email_list(value):
    for address in split_addresses(value):
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f'"{address}" is not a valid e-mail address.') from None


def split_addresses(value):
    return [a.strip() for a in (value or "").replace(";", ",").replace("\n", ",").split(",") if a.strip()]


currency_code = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 currency code, e.g. USD.")


class Tenant(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    active = models.BooleanField(default=True, db_index=True)
    alert_emails = models.TextField(
        blank=True,
        validators=[validate_email_list],
        help_text="Comma-separated addresses that receive the held-batch digest.",
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    base_currency = models.CharField(max_length=3, default="USD", validators=[currency_code])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def alert_email_list(self):
        return split_addresses(self.alert_emails)


class Membership(models.Model):
    SUPPORT = "support"
    CUSTOMER = "customer"
    ROLES = [(SUPPORT, "Support staff (all tenants)"), (CUSTOMER, "Customer finance user (own tenant)")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=ROLES, default=CUSTOMER, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_user_tenant_unique")]
        ordering = ["tenant__name", "user__username"]

    def __str__(self):
        return f"{self.user} @ {self.tenant} ({self.role})"
