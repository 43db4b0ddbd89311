"""JD Edwards -> Procurify, as mirrors (``engine.mirror``): GL accounts, suppliers, purchase orders.

The flow option ``records`` chooses what one flow keeps aligned (one mirror per flow, each with its
own schedule): ``accounts`` (default), ``suppliers`` or ``purchase_orders``.

* ``accounts``: every F0901 account is a Procurify account code of the same number
  (``BU.OBJ[.SUB]``, what the bills coming back are posted to) with the F0901 description; an
  inactive or non-posting account (posting edit code not blank) is a deactivated code, and so is
  one deleted from F0901. Account codes Procurify has that F0901 never listed are left alone.
* ``suppliers``: every F0401 supplier is a Procurify vendor (paired as ``supplier_sync`` says: by
  ``external_id``, by the supplier's ``PRC-V-<id>`` link, else by name), carrying the address number in
  ``external_id``; a retired supplier (search type outside ``supplier_search_types``) or one on
  payment hold deactivates the vendor. Suppliers go both ways: ``procurify_to_jde`` with ``records:
  vendors`` writes the other way, and which side wins a field changed on both is the option
  ``supplier_rules`` over name, active, email, contact and phone (default: JD Edwards for name and
  status, Procurify for the e-mail, the contact person ``contact`` and the phone ``phoneOne``; other
  vendor fields are Procurify's). A supplier whose name matches several Procurify vendors none of which
  carries its address number cannot be resolved: it is held with ``MAP-VENDOR-AMBIGUOUS`` (audited,
  with both ids), and written once a person merges the vendors in Procurify; with ``create_missing:
  false`` a supplier with no vendor is held with ``MAP-NO-MATCH`` instead of added.

* ``purchase_orders``: every F4301/F4311 order is a Procurify purchase order whose ``PO_Num`` is
  the order key (``KCOO-DCTO-DOCO``), raised as a requisition by names (options ``location`` and
  ``department``, the supplier's name as vendor, each line's account as account code; an order
  whose vendor or account code Procurify lacks yet waits for them, held with ``PROCURIFY-PO-WAITING``,
  and is written by the first cycle after the suppliers and accounts mirrors made them) and updated in
  place on a change of quantity or price; a cancelled line reads quantity 0, a cancelled order closes
  the PO (``procurify_targets.PurchaseOrders``). A PO is made in two calls (the requisition, then its
  ``PO_Num``); one left without its key by a stop or a lost answer between them is found by vendor and
  lines and adopted by the retry, never raised again.

A version written is one batch (source id ``<key>@<fingerprint>``, reference ``JDE-...``); a run that
finds nothing changed makes no write call. Options: records, location, department, page_size (500),
supplier_rules (``{"name"|"active"|"email"|"contact"|"phone": "jde"|"procurify"}``, partial), create_missing.
"""

from ..engine import mirror
from ..posting import Hold
from ..systems.jde import JdeClient
from ..systems.procurify import ProcurifyClient
from ..systems.text import fit
from . import supplier_sync
from .mirror import MirrorFlow
from .procurify_targets import AccountCodes, PurchaseOrders, Vendors

RECORDS = ("accounts", "suppliers", "purchase_orders")
PO_WAITING = "PROCURIFY-PO-WAITING"
LINE_TEXT_LENGTH = 100  # an order item's name (Procurify documents no length: the connector's choice)


class JdeToProcurify(MirrorFlow):
    reference_prefix = "JDE"

    @staticmethod
    def default_interval_minutes(options):
        """Cadence (``integrations.cadence``): orders hourly, reference data (accounts, suppliers) every 4 hours."""
        return 60 if (options or {}).get("records") == "purchase_orders" else 240

    def __init__(self, flow, **kwargs):
        super().__init__(flow, **kwargs)
        self.records = str(self.options.get("records") or "accounts")
        if self.records not in RECORDS:
            raise ValueError(f"option records={self.records!r}: this flow mirrors one of {', '.join(RECORDS)}")

    @property
    def source_kind(self):
        return f"jde_{self.records}"

    def open(self):
        self.jde = JdeClient(self.flow.source)
        procurify = ProcurifyClient(self.flow.target)
        if self.records == "purchase_orders":
            self.target = PurchaseOrders(procurify, self.options.get("location", ""), self.options.get("department", ""))
        else:
            self.target = AccountCodes(procurify) if self.records == "accounts" else Vendors(procurify)

    def describe(self, state):
        if self.records == "accounts":
            return f"account {state['key']} {state['description']}"
        if self.records == "suppliers":
            return f"supplier {state['key']} {state['name']}"
        return f"order {state['key']} for {state.get('vendor') or '?'}"

    def source_states(self):
        if self.records == "accounts":
            return self.states_of(self.jde.accounts(), lambda a: {"key": a.key, "active": a.is_postable,
                                                                  "description": a.description}, key=lambda a: a.key), True
        if self.records == "suppliers":
            return self.supplier_states(), True
        names = {s["address_number"]: s["name"] for s in self.jde.suppliers()}
        return self.states_of(self.jde.purchase_orders_changed_since(None), lambda o: self.order_state(o, names),
                              key=lambda o: o.key), True

    def order_state(self, order, names):
        """Every order is read whole each cycle (complete scan): an order changed twice between polls
        is one new state, its last."""
        state = {"key": order.key, "active": not order.cancelled, "vendor": names.get(order.supplier, ""),
                 "required_date": str(order.requested_date or order.order_date or ""),
                 "lines": [{"name": fit(ln.description or ln.item or f"line {ln.line_number}", LINE_TEXT_LENGTH),
                            "quantity": str(0 if ln.cancelled else ln.quantity), "price": str(ln.unit_cost),
                            "account_code": ln.account} for ln in order.lines]}
        if not state["vendor"]:
            state["problem"] = ["MAP-NO-SUPPLIER", f"order {order.key}: supplier {order.supplier} has no name in F0101"]
        elif not self.options.get("location") or not self.options.get("department"):
            state["problem"] = ["MAP-NO-LOCATION", "set the flow options location and department (Procurify names) "
                                "the requisitions are raised for"]
        return state

    # -- purchase orders wait for their vendor and account codes ------------------------------------
    @property
    def waiting_codes(self):
        return (PO_WAITING,) if self.records == "purchase_orders" else ()

    def build_posting(self, record_payload, external_ref):
        posting = super().build_posting(record_payload, external_ref)
        if self.records == "purchase_orders":
            state = record_payload["target"]
            missing = self.target.missing(state)
            if missing:
                raise Hold(f"order {state['key']} waits for {', '.join(missing)} in Procurify",
                           code=PO_WAITING,
                           help="The suppliers and accounts flows create them (run them first); the order is written "
                                "by the first cycle after that. If it is a new supplier or account, check its mirror.")
        return posting

    def waiting_over(self, batches):
        self.target.forget()
        return [(b, "Procurify has its vendor and account codes now") for b in batches
                if not self.target.missing((b.payload or {}).get("target") or {})]

    def supplier_states(self):
        """Suppliers both ways (``supplier_sync``): the agreed state of every supplier's vendor."""
        winners = supplier_sync.rules(self.options)
        found = supplier_sync.baselines(self.flow)
        pairs = supplier_sync.pairs(self.jde.suppliers_changed_since(None), self.target.all)
        create = bool(self.options.get("create_missing", True))
        known = set(mirror.latest_versions(self.flow, self.source_kind))
        states = [supplier_sync.pair_state(p, found, winners, source="jde", create_missing=create, known=known)
                  for p in pairs if p.supplier is not None]
        return [state for state in states if state is not None]
