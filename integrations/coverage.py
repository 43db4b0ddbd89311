"""Mapping coverage of a flow: source values in use with no mapping or an unusable target."""

from mappings.coverage import check_coverage
from mappings.reference import ReferenceSet

from .flows import handler_class
from .reference import refresh_if_stale


def flow_coverage(flow):
    handler = handler_class(flow.kind)(flow)
    handler.open()
    try:
        refresh_if_stale(flow.target, max_age_minutes=int(flow.options.get("reference_max_age_minutes", 60)))
        return check_coverage(handler.resolver, handler.coverage_usages(), required_fields=handler.required_fields,
                              reference=ReferenceSet.for_connection(flow.target), fallback=handler.coverage_fallback)
    finally:
        handler.close()
