"""REST trigger for a JD Edwards Orchestrator cron (or any scheduler).

``POST /api/v1/flows/<id>/trigger`` with ``Authorization: Bearer <flow token>`` queues
one cycle and answers 202 with the task id. While a cycle the trigger queued waits or
runs (or any cycle of the flow runs), it answers 202 with that one instead
(``"status": "already queued"``); past ``TRIGGER_RATE_LIMIT`` calls per window a token gets
429 with ``Retry-After`` (``integrations.api.guard``).

The token authenticates first: it is hashed and looked up, then compared in constant
time. A token that belongs to no flow is 401, whatever the id in the URL, so an
unauthenticated caller cannot probe which flow ids exist. A valid token used with an id
other than its own flow's is 404: for that caller, no such flow exists.

Every answer under ``/api/`` is JSON, errors included (``not_found`` and
``portal.api_errors``).
"""

import hashlib
import secrets

from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ..models import Flow
from ..tasks import queue_cycle
from . import guard


def _bearer(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _unauthorized():
    response = JsonResponse({"error": "invalid or missing bearer token"}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="ml-connector"'
    return response


def method_not_allowed(allowed):
    response = JsonResponse({"error": f"method not allowed; use {', '.join(allowed)}"}, status=405)
    response["Allow"] = ", ".join(allowed)
    return response


@csrf_exempt
def not_found(request, *args, **kwargs):
    return JsonResponse({"error": "no such API endpoint", "path": request.path}, status=404)


@csrf_exempt
def trigger_flow(request, flow_id):
    if request.method != "POST":
        return method_not_allowed(["POST"])
    token = _bearer(request)
    if not token:
        return _unauthorized()
    digest = hashlib.sha256(token.encode()).hexdigest()
    flow = Flow.objects.select_related("tenant").filter(trigger_token_hash=digest).first()
    if flow is None or not secrets.compare_digest(flow.trigger_token_hash, digest):
        return _unauthorized()
    if flow.pk != int(flow_id):
        return JsonResponse({"error": "no such flow"}, status=404)
    wait = guard.rate_limited(flow)
    if wait:
        response = JsonResponse({"error": "too many trigger calls for this token", "retry_after": wait}, status=429)
        response["Retry-After"] = str(wait)
        return response
    if not flow.enabled or not flow.tenant.active:
        return JsonResponse({"error": "this flow is disabled; enable it in the portal first"}, status=409)
    if cache.get(guard.pending_key(flow.pk)) is None:
        running = guard.running_cycle(flow)
        if running is not None:
            return JsonResponse({"task_id": None, "cycle_id": running.hex, "flow": flow.pk, "status": "already running"},
                                status=202)
    task_id, created = guard.queue_once(flow, lambda f: queue_cycle(f, trigger="api"))
    status = "queued" if created else "already queued"
    return JsonResponse({"task_id": task_id, "flow": flow.pk, "status": status}, status=202)
