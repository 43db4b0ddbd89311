"""What each external system needs in a Connection, and which flow kinds exist.

Kept free of model imports so forms, the sandbox wiring and the engine can all read it.
"""

SYSTEMS = {
    "expensify": "Expensify",
    "jde": "Oracle JD Edwards (AIS Server)",
    "ifs": "IFS Cloud",
    "acumatica": "Acumatica",
    "procurify": "Procurify",
    "bill": "BILL",
}

# Keys each system's credentials must hold (validated on save; a missing key is a form error).
CREDENTIAL_KEYS = {
    "expensify": ["partnerUserID", "partnerUserSecret"],
    "jde": ["username", "password", "environment", "role"],
    "ifs": ["client_id", "client_secret", "realm"],
    "acumatica": ["client_id", "client_secret", "username", "password", "company", "endpoint_name", "endpoint_version"],
    "procurify": ["client_id", "client_secret", "domain"],
    "bill": ["dev_key", "username", "password", "org_id", "webhook_secret"],
}

# Keys that are identifiers, not secrets: shown back in forms. Everything else is write-only.
NON_SECRET_KEYS = {
    "partnerUserID",
    "username",
    "environment",
    "role",
    "client_id",
    "realm",
    "company",
    "endpoint_name",
    "endpoint_version",
    "domain",
    "org_id",
}

# One flow kind per direction of the five integrations: kind -> (label, source system, target system)
FLOW_KINDS = {
    "expensify_to_jde": ("Expensify reports -> JD Edwards journals", "expensify", "jde"),
    "expensify_to_ifs": ("Expensify reports -> IFS Cloud accrual journals", "expensify", "ifs"),
    "jde_to_procurify": ("JD Edwards POs, suppliers, GL accounts -> Procurify", "jde", "procurify"),
    "procurify_to_jde": ("Procurify bills and payments -> JD Edwards AP batches", "procurify", "jde"),
    "expensify_to_acumatica": ("Expensify reports -> Acumatica bills or journals", "expensify", "acumatica"),
    "acumatica_to_expensify": ("Acumatica employees -> Expensify policies", "acumatica", "expensify"),
    "jde_to_bill": ("JD Edwards suppliers, POs, invoices -> BILL", "jde", "bill"),
    "bill_to_jde": ("BILL payments -> JD Edwards vouchers", "bill", "jde"),
}

# Calls in flight at once per credential, for every worker together (``HttpClient.concurrency``;
# a connection's ``concurrency`` option overrides it), also the most threads worth posting with.
DEFAULT_CONCURRENCY = {
    "jde": 8,
    "ifs": 8,
    "acumatica": 4,
    "expensify": 1,
    "procurify": 4,
    # BILL's documented limit: 3 requests in flight per devKey and organization; the 4th is
    # refused with BDC_1322 until one finishes (shared/reference/bill.md, "Concurrency").
    "bill": 3,
}
# The most a vendor allows in flight per credential: a connection's ``concurrency`` option above it is refused
# when the connection is saved and capped where it is used (a 4th BILL call in flight is refused: BDC_1322).
MAX_CONCURRENCY = {"bill": 3}


def concurrency_for(system, option):
    """Calls in flight at once for a connection of ``system`` whose ``concurrency`` option is ``option``."""
    value = DEFAULT_CONCURRENCY.get(system, 1) if option in (None, "") else max(1, int(option))
    return min(value, MAX_CONCURRENCY.get(system, value))
