"""Flow kind -> handler class. One module per flow."""

from importlib import import_module

HANDLERS = {
    "expensify_to_jde": "integrations.flows.expensify_to_jde.ExpensifyToJde",
    "expensify_to_acumatica": "integrations.flows.expensify_to_acumatica.ExpensifyToAcumatica",
    "acumatica_to_expensify": "integrations.flows.acumatica_to_expensify.AcumaticaToExpensify",
    "expensify_to_ifs": "integrations.flows.expensify_to_ifs.ExpensifyToIfs",
    "procurify_to_jde": "integrations.flows.procurify_to_jde.ProcurifyToJde",
    "jde_to_procurify": "integrations.flows.jde_to_procurify.JdeToProcurify",
    "bill_to_jde": "integrations.flows.bill_to_jde.BillToJde",
    "jde_to_bill": "integrations.flows.jde_to_bill.JdeToBill",
}


def handler_class(kind):
    try:
        path = HANDLERS[kind]
    except KeyError:
        raise LookupError(f"flow kind {kind!r} is not implemented yet") from None
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def implemented_kinds():
    return list(HANDLERS)
