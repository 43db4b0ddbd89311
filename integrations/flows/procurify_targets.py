"""Procurify as a mirror target (``engine.mirror.MirrorTarget``): account codes and vendors.

Each target reads its whole Procurify list once per cycle (one paged GET) and keeps it current
as it writes, so a cycle that finds nothing changed makes no write call and one list read.
"""

from datetime import date
from decimal import Decimal

from ..engine.mirror import MirrorTarget
from .supplier_sync import procurify_values

CONTACT_FIELDS = {"contact": "contact", "phone": "phoneOne"}  # agreed field -> the vendor's field in the API


class AccountCodes(MirrorTarget):
    """JD Edwards F0901 accounts -> Procurify account codes, matched by code (``BU.OBJ[.SUB]``)."""

    def __init__(self, procurify):
        self.procurify = procurify
        self._codes = None

    @property
    def codes(self):
        if self._codes is None:
            self._codes = {c.code: c for c in self.procurify.account_codes()}
        return self._codes

    def match(self, state):
        return self.codes.get(state["key"])

    def same(self, existing, state):
        if not state.get("active", True):
            return not existing.active
        return existing.active and existing.description == state["description"]

    def target_id(self, existing, state):
        return str(existing.id) if existing is not None else state["key"]

    def _keep(self, code):
        self.codes[code.code] = code
        return str(code.id)

    def create(self, state):
        return self._keep(self.procurify.create_account_code(state["key"], state["description"]))

    def update(self, existing, state):
        return self._keep(self.procurify.update_account_code(existing, description=state["description"], active=True))

    def deactivate(self, existing, state):
        return self._keep(self.procurify.deactivate_account_code(existing))


class Vendors(MirrorTarget):
    """JD Edwards suppliers -> Procurify vendors, the vendor the pairing found (``state["_vendor"]``,
    ``supplier_sync``) or else matched by name (case and spacing ignored); the vendor keeps the
    supplier's address number in ``external_id``."""

    def __init__(self, procurify):
        self.procurify = procurify
        self._by_name = None
        self._by_key = None
        self._all = None

    @property
    def all(self):
        """Every Procurify vendor, read once per cycle."""
        if self._all is None:
            self._all = self.procurify.vendors()
        return self._all

    @staticmethod
    def name_key(name):
        return " ".join(str(name or "").split()).casefold()

    @property
    def by_name(self):
        """name key -> every Procurify vendor of that name."""
        if self._by_name is None:
            self._by_name = {}
            for vendor in self.all:
                self._by_name.setdefault(self.name_key(vendor.name), []).append(vendor)
        return self._by_name

    def candidates(self, name):
        return self.by_name.get(self.name_key(name), [])

    def match(self, state):
        if state.get("_vendor"):
            found = [v for group in self.by_name.values() for v in group if str(v.id) == state["_vendor"]]
            if found:
                return found[0]
        found = self.candidates(state["name"])
        mine = [v for v in found if v.external_id == state["key"]]
        # A vendor renamed in Procurify still carries its supplier's number: one this mirror made (its answer lost,
        # say) is found by it, not added a second time.
        return (mine or found or [self.by_key.get(state["key"])])[0]

    @property
    def by_key(self):
        """external_id (a supplier's number) -> a vendor carrying it, built at the first question."""
        if self._by_key is None:
            self._by_key = {}
            for group in self.by_name.values():
                for vendor in group:
                    if vendor.external_id:
                        self._by_key.setdefault(vendor.external_id, vendor)
        return self._by_key

    def same(self, existing, state):
        if not state.get("active", True):
            return not existing.active
        values = procurify_values(existing)
        return (existing.active and existing.name == state["name"] and existing.external_id == state["key"]
                and (not state["email"] or state["email"] == values["email"])
                and all(values[f] == state[f] for f in CONTACT_FIELDS if f in state))

    def target_id(self, existing, state):
        return str(existing.id) if existing is not None else state["key"]

    def _fields(self, existing, state):
        emails = list(existing.email) if existing is not None else []
        if state["email"]:  # the agreed address first: it is the one both sides compare
            emails = [state["email"], *(e for e in emails if e.lower() != state["email"])]
        contact = {api: state[f] for f, api in CONTACT_FIELDS.items() if f in state}
        return {"name": state["name"], "active": True, "external_id": state["key"], "email": emails, **contact}

    def _keep(self, vendor, old=None):
        if old is not None:
            self.by_name[self.name_key(old.name)] = [v for v in self.candidates(old.name) if v.id != old.id]
        self.by_name.setdefault(self.name_key(vendor.name), []).append(vendor)
        if self._by_key is not None and vendor.external_id:
            self._by_key[vendor.external_id] = vendor
        return str(vendor.id)

    def create(self, state):
        fields = self._fields(None, state)
        return self._keep(self.procurify.create_vendor(fields.pop("name"), emails=fields.pop("email"), **fields))

    def update(self, existing, state):
        return self._keep(self.procurify.update_vendor(existing.id, **self._fields(existing, state)), existing)

    def deactivate(self, existing, state):
        return self._keep(self.procurify.update_vendor(existing.id, active=False), existing)


class PurchaseOrders(MirrorTarget):
    """JD Edwards orders -> Procurify purchase orders, matched by ``PO_Num`` (the JDE order key). A new
    order is a requisition by names (location, department, vendor, account code), purchased into a PO
    whose ``PO_Num`` is then set; a changed order updates that PO's items in place (a cancelled line
    reads quantity 0); a cancelled order closes it. Lines are matched by position: a line added in JD
    Edwards after the PO exists is a new item on the same PO (an item without ``id`` in the PO update:
    UNCONFIRMED, the spec marks ``id`` required, see ``sandbox/procurify_orders.py``)."""

    CLOSED = 3  # the sandbox's PO state code for closed (UNCONFIRMED)

    def __init__(self, procurify, location, department):
        self.procurify, self.location, self.department = procurify, location, department
        self._numbers = None
        self._unnumbered = None  # headers of the POs without a PO_Num, read with ``numbers``
        self._adopting = {}  # PO number -> the order key that found it without its PO_Num
        self._names = None  # what a requisition names: vendors and account codes in Procurify, read once a cycle

    def missing(self, state):
        """What Procurify lacks for this order's requisition: its vendor and account codes, by name (a requisition
        naming one Procurify does not have is refused with a 400). The suppliers and accounts mirrors create them."""
        if not state.get("active", True):
            return []
        if self._names is None:
            self._names = ({Vendors.name_key(v.name) for v in self.procurify.vendors()},
                           {c.code for c in self.procurify.account_codes()})
        vendors, codes = self._names
        out = [] if Vendors.name_key(state.get("vendor")) in vendors else [f"vendor {state.get('vendor')!r}"]
        out += [f"account code {code}" for code in dict.fromkeys(ln["account_code"] for ln in state["lines"])
                if code not in codes]
        return out

    def forget(self):
        """Read Procurify's vendors and account codes again at the next question."""
        self._names = None

    @property
    def numbers(self):
        self._read_headers()
        return self._numbers

    def _read_headers(self):
        """The PO headers, once a cycle (again after a failed create): by ``PO_Num``, and those without one."""
        if self._numbers is None:
            headers = self.procurify.purchase_orders()
            self._numbers = {po.po_num: po.number for po in headers if po.po_num}
            self._unnumbered = [po for po in headers if not po.po_num]

    def match(self, state):
        number = self.numbers.get(state["key"])
        return self.procurify.purchase_order(number) if number else self.unfinished(state)

    @staticmethod
    def _content(vendor, items):
        return Vendors.name_key(vendor), [(name, Decimal(qty), Decimal(price), code) for name, qty, price, code in items]

    def unfinished(self, state):
        """The PO a create for this order left without its ``PO_Num`` (a PO is made in two calls, the requisition
        then the PUT of ``PO_Num``: a stop or a lost answer between them leaves it so), found by vendor and lines
        (name, quantity, price, account code) among the POs without one. Adopting it (``update`` gives it the key)
        keeps the retry from raising a second requisition. Only a header of the same vendor, item count and
        subtotal is read whole, so POs raised in Procurify itself cost no call."""
        if not state.get("active", True):
            return None
        self._read_headers()
        vendor, lines = self._content(state.get("vendor"), [(ln["name"], ln["quantity"], ln["price"], ln["account_code"])
                                                            for ln in state["lines"]])
        for header in self._unnumbered:
            if self._adopting.get(header.number, state["key"]) != state["key"] or not self._alike(header, vendor, lines):
                continue
            po = self.procurify.purchase_order(header.number)
            items = [(i.name, i.quantity, i.price, i.account_code) for i in po.items]
            if not po.po_num and po.state != self.CLOSED and self._content(po.vendor_name, items) == (vendor, lines):
                self._adopting[po.number] = state["key"]  # one order adopts it, not two alike
                return po
        return None

    @staticmethod
    def _alike(header, vendor, lines):
        """Could this PO header be the order's? Same vendor, and item count and subtotal where the list gives them
        (the subtotal within a cent a line: Procurify may round each line's cost before adding them)."""
        raw, subtotal = header.raw, sum((q * p for _, q, p, _ in lines), Decimal(0))
        return (Vendors.name_key(header.vendor_name) == vendor and raw.get("item_count") in (None, len(lines))
                and (raw.get("subtotal") is None
                     or abs(Decimal(str(raw["subtotal"])) - subtotal) <= Decimal("0.01") * len(lines)))

    def same(self, existing, state):
        if not state.get("active", True):
            return existing.state == self.CLOSED
        have = [(i.quantity, i.price) for i in existing.items]
        want = [(Decimal(ln["quantity"]), Decimal(ln["price"])) for ln in state["lines"]]
        return existing.state != self.CLOSED and have == want and existing.po_num == state["key"]

    def target_id(self, existing, state):
        return str(existing.number) if existing is not None else state["key"]

    def create(self, state):
        lines = [{"item_name": ln["name"], "vendor_name": state["vendor"], "account_code": ln["account_code"],
                  "unit_price": Decimal(ln["price"]), "quantity": Decimal(ln["quantity"])} for ln in state["lines"]]
        day = date.fromisoformat(state["required_date"]) if state["required_date"] else date.today()
        try:
            requisition = self.procurify.create_requisition(day, self.location, self.department, lines)
            number = requisition.po_numbers[0]
            self.procurify.update_purchase_order(number, [], po_num=state["key"])
        except Exception:
            self._numbers = None  # a PO may exist now without its key: read the headers again at the next match
            raise
        self.numbers[state["key"]] = number
        return str(number)

    def update(self, existing, state):
        if existing.state == self.CLOSED:
            existing = self.procurify.reopen_purchase_order(existing.number)
        items = [{"id": item.id, "quantity": Decimal(ln["quantity"]), "price": Decimal(ln["price"])}
                 for item, ln in zip(existing.items, state["lines"], strict=False)]
        # lines added in JD Edwards after the PO was written: new items on the same PO (no id)
        items += [{"name": ln["name"], "unit": "each", "quantity": Decimal(ln["quantity"]), "price": Decimal(ln["price"]),
                   "account_code": ln["account_code"], "custom_fields": []} for ln in state["lines"][len(existing.items):]]
        key = state["key"] if existing.po_num != state["key"] else None  # an adopted PO gets its key with the items
        return str(self.procurify.update_purchase_order(existing.number, items, po_num=key, version=existing.version).number)

    def deactivate(self, existing, state):
        return str(self.procurify.close_purchase_order(existing.number).number)
