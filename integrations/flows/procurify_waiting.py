"""Which waiting ``procurify_to_jde`` bills can go again (the engine's ``waiting_codes`` / ``waiting_over``):
a bill held for an account missing from F0901 (``JDE-ACCOUNT-NOT-FOUND``) once every account it uses exists,
a bill held for a vendor with no supplier (``MAP-NO-SUPPLIER``) once a supplier of that name exists."""

from mappings.reference import refresh_reference

from ..posting import Hold
from .expensify_to_jde import split_account


def waiting_over(handler, batches):
    """``[(batch, note)]`` of the waiting bills whose wait is over (one F0901 and one supplier read while some
    wait); one that meets another problem then (a non-posting account) is held for it by the mapping as usual."""
    from .procurify_to_jde import NO_SUPPLIER, WAITING

    refresh_reference(handler.flow.target, actor="cycle")
    handler._accounts, handler._suppliers = None, None
    over = []
    for batch in batches:
        if batch.error_code == NO_SUPPLIER:
            try:
                handler.supplier_for(batch.payload.get("vendor"))
            except Hold:
                continue
            over.append((batch, "its vendor has a supplier in JD Edwards now"))
            continue
        keys = handler.waited_accounts(batch.payload)
        try:
            problems = [handler.account_problem(split_account(k)) for k in keys]
        except ValueError:
            continue  # a mapping gap: a person retries it
        if not [p for p in problems if p is not None and p.code == WAITING]:
            over.append((batch, "every account it waited for is in F0901 now"))
    return over
