"""JD Edwards fake: the orchestrator endpoint and the OpenAPI catalog of orchestrations."""

import time

from .http import json_response
from .jde_errors import JdeError, Rejected

DEFAULT_ORCHESTRATION = "MLC_AddJournalBatch"


class OrchestratorMixin:
    """``POST /jderest/v3/orchestrator/<name>``: dispatches to the orchestration named."""

    def _orchestration_names(self):
        name = self.settings.get("journal_orchestration") or DEFAULT_ORCHESTRATION
        return [name] if isinstance(name, str) else list(name)

    def _catalog(self, req, route):
        self._session(req, {})
        paths = {}
        for name in self._orchestration_names():
            paths[f"/v3/orchestrator/{name}"] = {"post": {
                "operationId": name, "summary": "Add a journal entry batch to F0911Z1 (ml-connector sandbox)",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                    k: {"type": "string"} for k in ("BatchReference", "User", "DocumentType", "Company", "GLDate",
                                                    "Currency", "Explanation")} | {"Lines": {"type": "array"}}}}}},
                "responses": {"200": {"description": "BatchNumber, DocumentNumber, Existing"}},
            }}
        return json_response({"openapi": "3.0.1", "info": {"title": "JD Edwards Orchestrator", "version": "9.2"},
                              "paths": paths})

    def _orchestrator(self, req, route):
        body = self._json_body(req)
        session = self._session(req, body)
        if route.name not in self._orchestration_names():
            raise self._fail(404, f"Orchestration {route.name} was not found or the user is not authorized to it")
        started = self.now()
        clock_start = time.perf_counter()
        inputs = {k: v for k, v in body.items() if k != "token"}
        try:
            batch, document, existing, message = self._journal(inputs, session)
        except Rejected as exc:
            raise JdeError(500, self._service_error(
                f"Orchestration {route.name} failed", user_text=str(exc), error_type="Orchestration"))
        elapsed = time.perf_counter() - clock_start
        ended = self.now()
        return json_response({
            "BatchNumber": batch, "DocumentNumber": document, "Existing": existing,
            "jde__status": "SUCCESS",
            "jde__startTimestamp": started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "jde__endTimestamp": ended.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "jde__serverExecutionSeconds": round(elapsed, 3),
            "jde__simpleMessage": message,
        })
