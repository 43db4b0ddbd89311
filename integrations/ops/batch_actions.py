"""The actions a person may take on one batch, as buttons on its page, and the message they get.

Which actions a batch offers follows its state (the same states ``integrations.operations``
accepts) and the user: customer users act on their own tenant's batches (retry, release,
hold, skip); only support forces a failed batch to post now or accepts a correction.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from .. import operations
from ..models import BatchState

S = BatchState


@dataclass(frozen=True)
class BatchAction:
    name: str
    label: str
    operation: str  # function name in integrations.operations
    verb: str  # "3 batch(es) <verb>."
    states: frozenset
    support_only: bool = False
    error_codes: tuple = ()  # when set, only batches held with one of these codes

    def fits(self, batch):
        return batch.state in self.states and (not self.error_codes or batch.error_code in self.error_codes)


ACTIONS = [
    BatchAction("retry", "Retry", "retry_batches", "queued for retry", frozenset({S.HELD, S.FAILED, S.SKIPPED})),
    BatchAction("release", "Release", "release_batches", "released", frozenset({S.HELD})),
    BatchAction("hold", "Hold", "hold_batches", "held", frozenset({S.NEW, S.READY, S.FAILED})),
    BatchAction("skip", "Skip (never post)", "skip_batches", "skipped", frozenset({S.NEW, S.READY, S.HELD, S.FAILED})),
    BatchAction("force", "Force: post now", "requeue_batches", "queued to post now", frozenset({S.FAILED}), support_only=True),
    BatchAction(
        "accept",
        "Accept correction",
        "accept_corrections",
        "closed as posted",
        frozenset({S.HELD}),
        support_only=True,
        error_codes=operations.ACCEPTABLE,
    ),
]
BY_NAME = {a.name: a for a in ACTIONS}


def may_use(model_admin, request, action):
    if not model_admin.has_change_permission(request):
        return False
    return model_admin.is_support(request) or not action.support_only


def actions_for(model_admin, request, batch):
    return [a for a in ACTIONS if a.fits(batch) and may_use(model_admin, request, a)]


def run(model_admin, request, action, queryset):
    """Run ``action`` over ``queryset``; the message counts what moved and what could not, from one count."""
    total = queryset.count()  # before: a moved batch may leave a queryset filtered by state
    moved = getattr(operations, action.operation)(queryset, request.user)
    text = f"{moved} batch(es) {action.verb}."
    if total > moved:
        text += f" {total - moved} not in a state that allows it."
    model_admin.message_user(request, text, messages.SUCCESS if moved else messages.WARNING)
    return moved


def batch_action_urls(model_admin):
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"

    def act(request, object_id, name):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        batch = model_admin.get_object(request, unquote(object_id))  # scoped: another tenant's batch is a 404
        action = BY_NAME.get(name)
        if batch is None or action is None:
            raise Http404("No such batch or action.")
        if not may_use(model_admin, request, action):
            raise PermissionDenied
        run(model_admin, request, action, model_admin.get_queryset(request).filter(pk=batch.pk))
        return HttpResponseRedirect(reverse(f"admin:{info}_change", args=[quote(batch.pk)]))

    return [path("<path:object_id>/act/<str:name>/", model_admin.admin_site.admin_view(act), name=f"{info}_act")]
