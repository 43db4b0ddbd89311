"""Two-factor login (django-otp, TOTP): required for anyone who sees more than one tenant.

With ``OTP_REQUIRED`` (on when ``PRODUCTION=true``), a superuser, a support user or a
customer user of several tenants is sent, after the password, to **Two-factor** in the
admin: enrol an authenticator app (QR code or key, then one code to confirm) the first
time, enter a code every time after. Until then every admin page redirects there. A
customer user of one tenant may enrol from the same page (the user menu's "Two-factor"
link) and is then asked for a code at each login too. Nothing changes without
``OTP_REQUIRED`` (development, the demo, the tests) except for users who enrolled.

A lost phone: a superuser deletes the user's device under **OTP_TOTP > TOTP devices**;
the user enrols again at the next login.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import tenancy

# Paths a half-logged-in user may still open: these pages, logging out, static files, the token API.
_OPEN_PREFIXES = ("/two-factor/", "/logout/", "/static/", "/api/", "/jsi18n/")


def required_for(user):
    """Must this user pass a second factor? Anyone who sees more than one tenant, in production."""
    if not getattr(settings, "OTP_REQUIRED", False):
        return False
    tenants = tenancy.tenants_for(user)
    return tenants is None or len(tenants) > 1


def wants_code(user):
    """Asked for a code at login: required, or enrolled by choice."""
    return required_for(user) or user_has_device(user, confirmed=True)


class RequireTwoFactorMiddleware:
    """After django-otp's middleware: a user who owes a code sees only the two-factor pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and not user.is_verified()
                and not request.path.startswith(_OPEN_PREFIXES) and wants_code(user)):
            return redirect(f"{reverse('two-factor')}?next={request.get_full_path()}")
        return self.get_response(request)


class CodeForm(forms.Form):
    code = forms.CharField(max_length=8, label="Code from your authenticator app",
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "autofocus": True}))


def _qr_svg(url):
    import qrcode
    import qrcode.image.svg

    return qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")


def _next(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else reverse("admin:index")


@staff_member_required
def two_factor_view(request):
    """Enrol (first time) or verify (each login) the user's TOTP device."""
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    form = CodeForm(request.POST or None)
    if confirmed is not None:
        if request.method == "POST" and form.is_valid():
            if confirmed.verify_token(form.cleaned_data["code"].strip()):
                otp_login(request, confirmed)
                return redirect(_next(request))
            form.add_error("code", "That code is not valid; enter the current one.")
        mode, device = "verify", confirmed
    else:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name="authenticator", confirmed=False)
        if request.method == "POST" and form.is_valid():
            if device.verify_token(form.cleaned_data["code"].strip()):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                otp_login(request, device)
                return redirect(_next(request))
            form.add_error("code", "That code does not match; check the app's clock and try the current code.")
        mode = "enrol"
    context = {
        **admin.site.each_context(request),
        "title": "Two-factor login",
        "mode": mode,
        "form": form,
        "next": _next(request),
        "required": required_for(user),
        "secret": device.key if mode == "enrol" else "",
        "qr": _qr_svg(device.config_url) if mode == "enrol" else "",
    }
    response = TemplateResponse(request, "admin/two_factor.html", context)
    response["Cache-Control"] = "no-store"  # the enrolment key must not stay in a cache
    return response


urlpatterns = [path("two-factor/", two_factor_view, name="two-factor")]
