"""JD Edwards orchestration calls: one POST per write, its answer read with the outcome semantics
documented in ``integrations/systems/jde.py`` (existing reference, definite refusal, unknown outcome)."""

from .errors import IntegrationError, OutcomeUnknown, ValidationRejected
from .jde_values import as_text, document_number, flag


class OrchestrationCalls:
    """Mixed into ``JdeClient``: needs ``call``, ``_url``, ``_json``, ``scrub``, ``orchestrator_version``."""

    def _post_orchestration(self, name, payload, what, reference_key, result):
        """POST ``payload`` to orchestration ``name``; a ``result`` (JournalResult, VoucherResult) with
        the batch and document it answered, ``existing`` when it already had the reference.
        ``OutcomeUnknown`` when it may have written without a usable answer."""
        url = self._url(f"orchestrator/{name}", self.orchestrator_version)
        response = self.call("POST", url, idempotent=False, json_body=payload)
        try:
            body = self._json(response)
        except IntegrationError:
            raise OutcomeUnknown(f"JD Edwards answered the {what} {payload[reference_key]} with something that is "
                                 "not JSON; it may or may not have been written", code="JDE-OUTCOME-UNKNOWN",
                                 status=response.status_code) from None
        status = str(body.get("jde__status") or "SUCCESS").upper()
        batch, document = body.get("BatchNumber"), body.get("DocumentNumber")
        if batch not in (None, "") and status in ("SUCCESS", "WARNING"):
            return result(batch_number=as_text(batch), document_number=document_number(document), raw=body,
                          existing=flag(body.get("Existing")))
        message = self.scrub(str(body.get("jde__simpleMessage") or body.get("message") or "").strip())
        if status in ("ERROR", "FAIL", "FAILED", "FAILURE"):
            # UNCONFIRMED: an orchestration reporting its own failure with HTTP 200. Ours validates
            # before it writes, so this is a definite rejection.
            return_text = message or f"jde__status {status}"
            raise ValidationRejected(f"JD Edwards rejected it: {return_text}", code="JDE-REJECTED",
                                     status=response.status_code,
                                     help="Correct what JD Edwards names, then retry the batch.")
        raise OutcomeUnknown(f"JD Edwards answered the {what} {payload[reference_key]} without a batch number "
                             f"(jde__status {status}); it may or may not have been written", code="JDE-OUTCOME-UNKNOWN",
                             status=response.status_code)

# -- helpers ---------------------------------------------------------------------------------------------------
