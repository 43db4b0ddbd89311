"""Dry run: the exact target document a source record would become, without posting.

Nothing is stored and nothing is marked at the source: the handler's mapping and
validation run as in a real cycle, and holds are reported with their code and fix.
"""

from itertools import islice

from .flows import handler_class
from .posting import Hold


def preview_payload(handler, source_id, payload):
    external_ref = handler.external_ref(source_id)
    try:
        posting = handler.build_posting(payload, external_ref)
        posting.check_balanced()
        handler.validate(posting)
    except Hold as hold:
        return {"source_id": source_id, "ok": False, "hold": hold.as_dict()}
    return {
        "source_id": source_id,
        "ok": True,
        "external_ref": external_ref,
        "posting": posting.to_json(),
        "document": handler.target_document(posting),
        "debit_total": str(posting.debit_total),
        "currency": posting.currency,
    }


def preview(flow, *, source_id=None, limit=20):
    """Previews for one source record (``source_id``) or the next ``limit`` records the flow would fetch."""
    handler = handler_class(flow.kind)(flow)
    handler.open()
    try:
        if source_id is not None:
            record = handler.fetch_record(source_id)
            if record is None:
                return [{"source_id": str(source_id), "ok": False,
                         "hold": {"code": "SRC-NOT-FOUND", "message": f"no source record {source_id}", "help": ""}}]
            return [preview_payload(handler, record.id, record.payload)]
        results = []
        # Only the first page: without storing batches the source would offer the same page again.
        for page in islice(handler.fetch(dict(flow.cursor or {})), 1):
            for record in page.records[:limit]:
                results.append(preview_payload(handler, record.id, record.payload))
        return results
    finally:
        handler.close()
