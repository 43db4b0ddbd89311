"""One-screen onboarding: support invites a customer finance user (e-mail, name, tenant).

One form creates the user (no usable password yet), the customer membership (which gives
the customer role and admin login, ``portal.signals``) and a password-set link built on
Django's password-reset token: it works once (setting the password changes the hash the
token is made from) and expires after ``PASSWORD_RESET_TIMEOUT``. The link is e-mailed to
the user and shown to the support person to pass on. Only the customer role is ever given
here, so nothing a support user does on this page grants more (``role_guard``).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from audit import log as audit

from . import tenancy
from .models import Membership, Tenant

User = get_user_model()


class InviteForm(forms.Form):
    required_css_class = "required"  # the admin shows these labels in bold

    email = forms.EmailField(label="E-mail", help_text="Also their user name for signing in.")
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150, required=False)
    tenant = forms.ModelChoiceField(Tenant.objects.filter(active=True), help_text="The customer whose data they will see.")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(username__iexact=email).exists() or User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this e-mail already exists: give them a membership instead.")
        return email


def password_set_link(request, user):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return request.build_absolute_uri(reverse("password-set", args=[uid, token]))


@transaction.atomic
def invite(request, data):
    user = User.objects.create_user(
        username=data["email"],
        email=data["email"],
        first_name=data["first_name"],
        last_name=data.get("last_name", ""),
        is_staff=True,
    )  # no password: they set their own
    Membership.objects.create(user=user, tenant=data["tenant"], role=Membership.CUSTOMER)
    audit.record(
        data["tenant"].pk,
        "user.invited",
        actor=audit.actor_name(request.user),
        source_ref=f"user:{user.pk}",
        message=f"{user.email} invited as a customer user",
    )
    return user


def invite_view(model_admin, request):
    if tenancy.tenants_for(request.user) is not None or not model_admin.has_add_permission(request):
        raise PermissionDenied  # support and superusers onboard customers
    form = InviteForm(request.POST or None)
    link = user = None
    if request.method == "POST" and form.is_valid():
        user = invite(request, form.cleaned_data)
        link = password_set_link(request, user)
        tenant = form.cleaned_data["tenant"]
        send_mail(
            f"Your access to {tenant.name}'s finance integrations",
            f"Hello {user.first_name},\n\n{audit.actor_name(request.user)} gave you access to the ml-connector portal "
            f"for {tenant.name}.\nSet your password here (the link works once): {link}\nThen sign in with {user.email}.\n",
            None,
            [user.email],
        )
        messages.success(
            request, f"{user.email} can now sign in to {tenant.name} once they set a password; the link was e-mailed."
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Invite a customer user",
        "form": form,
        "invited": user,
        "link": link,
    }
    return TemplateResponse(request, "admin/auth/user/invite.html", context)
