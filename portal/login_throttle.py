"""Login throttling with django-axes: who gets locked out, the audit trail of it, releasing it.

Settings (``portal/settings.py``, documented in ``.env.example``): after ``LOGIN_FAILURE_LIMIT``
failed logins an account is locked, and so is the address they came from, each on its own
(``AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]``), for ``LOGIN_LOCKOUT_MINUTES``.
Attempts and lockouts are listed in the admin under **Axes > Access attempts**; deleting an
attempt releases its lockout. A lockout and a release each write an ``AuditEntry`` in every
tenant the account belongs to (tenantless for an unknown name, an address or a superuser:
only support sees those).
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.dispatch import receiver

from audit import log as audit

from .models import Membership


def client_ip(request):
    """The caller's address: REMOTE_ADDR, or the hop our ``LOGIN_TRUSTED_PROXIES`` proxies saw in X-Forwarded-For."""
    proxies = int(getattr(settings, "LOGIN_TRUSTED_PROXIES", 0) or 0)
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and forwarded:
        return forwarded[-min(proxies, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "")


def _tenants_of(username):
    user = get_user_model().objects.filter(username=username).first() if username else None
    if user is None:
        return [None]
    tenants = sorted(set(Membership.objects.filter(user=user).values_list("tenant_id", flat=True)))
    return tenants or [None]


def record(event, username, ip_address, actor, message):
    for tenant_id in _tenants_of(username):
        audit.record(tenant_id, event, actor=actor, source_ref=f"login:{username or '-'}"[:120],
                     message=message, after={"username": username or "", "ip_address": ip_address or ""})


def _audited_key(kind, value):
    return f"axes-audited:{kind}:{value}"


def _newly_locked(username, ip_address):
    """The subjects (account, address) over the limit whose lockout is not audited yet."""
    from axes.models import AccessAttempt
    from django.db.models import Sum

    limit = settings.AXES_FAILURE_LIMIT
    ttl = int(getattr(settings, "LOGIN_LOCKOUT_MINUTES", 30) * 60) or 60
    subjects = []
    for kind, value, lookup in (("account", username, "username"), ("address", ip_address, "ip_address")):
        if not value:
            continue
        failures = AccessAttempt.objects.filter(**{lookup: value}).aggregate(n=Sum("failures_since_start"))["n"] or 0
        if failures >= limit and cache.add(_audited_key(kind, value), 1, ttl):
            subjects.append((kind, value))
    return subjects


def _locked_out(sender, request, username, ip_address, **kwargs):
    # axes signals on every try while locked out: one entry per account or address locked is enough.
    for kind, value in _newly_locked(username, ip_address):
        name = username if kind == "account" else ""
        record("login.locked_out", name, ip_address, "django-axes",
               f"{kind} {value} locked out after {settings.AXES_FAILURE_LIMIT} failed logins")


def connect():
    from axes.signals import user_locked_out

    receiver(user_locked_out, dispatch_uid="portal.login_throttle.locked_out")(_locked_out)


def install_admin(site=admin.site):
    """The axes attempt admin, auditing each release (deleting an attempt ends its lockout)."""
    from axes.admin import AccessAttemptAdmin  # registers axes' own admins first
    from axes.models import AccessAttempt

    class AuditedAccessAttemptAdmin(AccessAttemptAdmin):
        def _released(self, request, attempts):
            for attempt in attempts:
                cache.delete_many([_audited_key("account", attempt.username), _audited_key("address", attempt.ip_address)])
                record("login.lockout_released", attempt.username, attempt.ip_address, audit.actor_name(request.user),
                       f"lockout of {attempt.username or '-'} from {attempt.ip_address} released")

        def delete_model(self, request, obj):
            self._released(request, [obj])
            super().delete_model(request, obj)

        def delete_queryset(self, request, queryset):
            self._released(request, list(queryset))
            super().delete_queryset(request, queryset)

    if AccessAttempt in site._registry:
        site.unregister(AccessAttempt)
    site.register(AccessAttempt, AuditedAccessAttemptAdmin)
