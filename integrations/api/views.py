"""REST trigger for a JD Edwards Orchestrator cron (or any scheduler).

``POST /api/v1/flows/<id>/trigger`` with ``Authorization: Bearer <flow token>`` queues
one cycle and answers 202 with the task id.

The token authenticates first: it is hashed and looked up, then compared in constant
time. A token that belongs to no flow is 401, whatever the id in the URL, so an
unauthenticated caller cannot probe which flow ids exist. A valid token used with an id
other than its own flow's is 404: for that caller, no such flow exists.
"""

import hashlib
import secrets

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..models import Flow
from ..tasks import queue_cycle


def _bearer(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _unauthorized():
    response = JsonResponse({"error": "invalid or missing bearer token"}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="ml-connector"'
    return response


@csrf_exempt
@require_POST
def trigger_flow(request, flow_id):
    token = _bearer(request)
    if not token:
        return _unauthorized()
    digest = hashlib.sha256(token.encode()).hexdigest()
    flow = Flow.objects.select_related("tenant").filter(trigger_token_hash=digest).first()
    if flow is None or not secrets.compare_digest(flow.trigger_token_hash, digest):
        return _unauthorized()
    if flow.pk != flow_id:
        return JsonResponse({"error": "no such flow"}, status=404)
    if not flow.enabled or not flow.tenant.active:
        return JsonResponse({"error": "this flow is disabled; enable it in the portal first"}, status=409)
    task_id = queue_cycle(flow, trigger="api")
    return JsonResponse({"task_id": task_id, "flow": flow.pk, "status": "queued"}, status=202)
