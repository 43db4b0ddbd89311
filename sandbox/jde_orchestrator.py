"""JD Edwards fake: the orchestrator endpoint and the OpenAPI catalog of orchestrations."""

import time

from .http import json_response
from .jde_errors import JdeError, Rejected

DEFAULT_ORCHESTRATION = "MLC_AddJournalBatch"
DEFAULT_VOUCHER_ORCHESTRATION = "MLC_AddVoucherBatch"
DEFAULT_SUPPLIER_ORCHESTRATION = "MLC_UpsertSupplier"
SUMMARIES = {"journal": "Add a journal entry batch to F0911Z1 (ml-connector sandbox)",
             "voucher": "Add an AP voucher batch to F0411Z1 with its G/L lines in F0911Z1 (ml-connector sandbox)",
             "supplier": "Add or change a supplier (F0401/F0101/F0111/F01151/F0115) (ml-connector sandbox)"}
INPUTS = {"journal": ("BatchReference", "User", "DocumentType", "Company", "GLDate", "Currency", "Explanation"),
          "voucher": ("VoucherReference", "Supplier", "InvoiceNumber", "InvoiceDate", "DueDate", "User", "DocumentType",
                      "Company", "GLDate", "Currency", "Explanation"),
          "supplier": ("SupplierReference", "AddressNumber", "Name", "Status", "Email", "Contact")}


class OrchestratorMixin:
    """``POST /jderest/v3/orchestrator/<name>``: dispatches to the orchestration named."""

    def _orchestration_names(self):
        """``{name: "journal" | "voucher"}`` from the ``journal_orchestration`` and ``voucher_orchestration``
        settings (each a name or a list of names)."""
        names = {}
        for kind, key, default in (("supplier", "supplier_orchestration", DEFAULT_SUPPLIER_ORCHESTRATION),
                                   ("voucher", "voucher_orchestration", DEFAULT_VOUCHER_ORCHESTRATION),
                                   ("journal", "journal_orchestration", DEFAULT_ORCHESTRATION)):
            value = self.settings.get(key) or default
            names.update(dict.fromkeys([value] if isinstance(value, str) else list(value), kind))
        return names

    def _catalog(self, req, route):
        self._session(req, {})
        paths = {}
        for name, kind in self._orchestration_names().items():
            arrays = {} if kind == "supplier" else {"Lines": {"type": "array"}}
            arrays |= {"PayItems": {"type": "array"}} if kind == "voucher" else {}
            paths[f"/v3/orchestrator/{name}"] = {"post": {
                "operationId": name, "summary": SUMMARIES[kind],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                    k: {"type": "string"} for k in INPUTS[kind]} | arrays}}}},
                "responses": {"200": {"description": "BatchNumber, DocumentNumber, Existing"}},
            }}
        return json_response({"openapi": "3.0.1", "info": {"title": "JD Edwards Orchestrator", "version": "9.2"},
                              "paths": paths})

    def _orchestrator(self, req, route):
        body = self._json_body(req)
        session = self._session(req, body)
        kind = self._orchestration_names().get(route.name)
        if kind is None:
            raise self._fail(404, f"Orchestration {route.name} was not found or the user is not authorized to it")
        started = self.now()
        clock_start = time.perf_counter()
        inputs = {k: v for k, v in body.items() if k != "token"}
        try:
            if kind == "supplier":
                outputs, message = self._supplier(inputs, session)
            else:
                write = self._voucher if kind == "voucher" else self._journal
                batch, document, existing, message = write(inputs, session)
                outputs = {"BatchNumber": batch, "DocumentNumber": document, "Existing": existing}
        except Rejected as exc:
            raise JdeError(500, self._service_error(
                f"Orchestration {route.name} failed", user_text=str(exc), error_type="Orchestration"))
        elapsed = time.perf_counter() - clock_start
        ended = self.now()
        return json_response({
            **outputs,
            "jde__status": "SUCCESS",
            "jde__startTimestamp": started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "jde__endTimestamp": ended.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "jde__serverExecutionSeconds": round(elapsed, 3),
            "jde__simpleMessage": message,
        })
