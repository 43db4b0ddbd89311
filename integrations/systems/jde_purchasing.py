"""JD Edwards purchasing reads for the mirror flows: purchase orders (F4301 headers with their
F4311 lines) and suppliers (F0401 with F0101, F0111, F01151 and F0115) changed since a cursor.

The cursor is a datetime: JDE stamps a change with a Julian date (UPMJ) and a separate time
column, UPMT on F0101/F0401/F0111/F01151/F0115 but TDAY on F4301/F4311, which have no UPMT
(shared/reference/jde.md, "Incremental poll"). The data service cannot express
"UPMJ > d OR (UPMJ = d AND time >= t)" in one flat condition list, so the query asks
``UPMJ >= d`` and rows of day ``d`` before ``t`` are dropped here. The cursor is inclusive:
a change stamped exactly at the cursor is read again (the mirror compares, so re-reading is
harmless; missing it is not).

An order is returned whole (header and every line) when its header or any line changed: a
site's programs may restamp a line without its header. Cancelled lines are those whose last
status is in ``cancelled_statuses`` (option, default ``("980",)``: JDE's standard purchase
order activity rules; a site may use others, UNCONFIRMED). A supplier is active when its
F0101 search type is in ``supplier_search_types`` (option, default ``("V",)``); other
supplier types (e.g. ``VX``) are read as inactive when they have an F0401 row. A supplier's phone
is the first F0115 number of Who's Who line 1 (the AP contact) whose type is blank, the business
number (UDC 01/PH is site-specific: UNCONFIRMED).
"""

import datetime as dt
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from .jde_values import as_date, as_decimal, as_int, as_text, stamp

# Values per LIST condition. The data service turns a LIST into an SQL IN list, and Oracle Database takes at most
# 1,000 expressions in one (ORA-01795); 500 matches the page size, so a chunk is usually one call.
LIST_CHUNK = 500
PHONE_TYPES = ("",)  # F0115 PHTP read as the supplier's phone


@dataclass(frozen=True, slots=True)
class PurchaseOrderLine:
    line_number: Decimal  # LNID as displayed: 1.000
    item: str
    description: str
    unit_of_measure: str
    quantity: Decimal
    quantity_received: Decimal
    unit_cost: Decimal
    extended_amount: Decimal
    open_amount: Decimal
    last_status: str
    next_status: str
    account: str  # BU.OBJ[.SUB]
    account_id: str
    promised_date: dt.date | None
    updated: dt.datetime | None
    cancelled: bool


@dataclass(frozen=True, slots=True)
class PurchaseOrder:
    company: str
    number: int
    order_type: str
    suffix: str
    supplier: int
    business_unit: str
    order_date: dt.date | None
    requested_date: dt.date | None
    currency: str
    total: Decimal
    description: str
    updated: dt.datetime | None  # the latest change of the header or any line
    lines: tuple[PurchaseOrderLine, ...] = field(default=())

    @property
    def key(self):
        """``KCOO-DCTO-DOCO``: the order's identity, e.g. ``00001-OP-400001``."""
        return f"{self.company}-{self.order_type}-{self.number}"

    @property
    def cancelled(self):
        return bool(self.lines) and all(line.cancelled for line in self.lines)


@dataclass(frozen=True, slots=True)
class Supplier:
    address_number: int
    name: str
    tax_id: str
    search_type: str
    active: bool
    on_hold: bool
    contact: str
    email: str
    currency: str
    payment_terms: str
    default_account: str
    updated: dt.datetime | None
    reference: str = ""  # F0101 ALKY: the Procurify vendor a supplier was added from ("PRC-V-<id>")
    phone: str = ""  # F0115 line 1, the first business number: prefix (AR1) and number (PH1) as JDE shows them


HEADER_COLUMNS = ["KCOO", "DOCO", "DCTO", "SFXO", "AN8", "MCU", "TRDJ", "DRQJ", "CRCD", "OTOT", "DESC", "UPMJ", "TDAY"]
LINE_COLUMNS = ["KCOO", "DOCO", "DCTO", "SFXO", "LNID", "LITM", "DSC1", "UOM", "UORG", "UREC", "PRRC", "AEXP", "AOPN",
                "LTTR", "NXTR", "ANI", "AID", "OMCU", "OBJ", "SUB", "PDDJ", "UPMJ", "TDAY"]


def _order_key(row):
    return as_text(row.get("KCOO")), as_int(row.get("DOCO")), as_text(row.get("DCTO")), as_text(row.get("SFXO"))


class _Master(NamedTuple):
    """What a supplier needs of its F0401 row."""

    business_unit: str
    object: str
    currency: str
    terms: str
    hold: str
    updated: dt.datetime | None


def _master(row):
    """An F0401 row as ``_Master``, its codes shared: a read of every supplier holds all their rows at once (5,000
    whole rows were the peak of a 10,000-record bill_to_jde cycle), and the codes repeat from one to the next."""
    return _Master(*(sys.intern(as_text(row.get(c))) for c in ("MCUP", "OBAP", "CRRP", "TRAP", "HDPY")),
                   stamp(row.get("UPMJ"), row.get("UPMT")))


def _interned_key(row):
    """``_order_key`` with its texts shared: a scan of every order keeps 10,000 keys of a few distinct companies,
    types and suffixes."""
    company, number, kind, suffix = _order_key(row)
    return sys.intern(company), number, sys.intern(kind), sys.intern(suffix)


def _after(row, since, time_column):
    """Whether the row's (UPMJ, time) stamp is at or after ``since`` (None: every row)."""
    if since is None:
        return True
    moment = stamp(row.get("UPMJ"), row.get(time_column))
    return moment is not None and moment >= since


class PurchasingReads:
    """Mixed into ``JdeClient``: needs ``browse`` and ``options``."""

    def _since_conditions(self, since):
        return [("UPMJ", "GREATER_EQUAL", since.date())] if since else []

    def _chunks(self, table, columns, column, values, extra=()):
        values = sorted(set(values))
        for start in range(0, len(values), LIST_CHUNK):
            yield from self.browse(table, columns, [(column, "LIST", values[start:start + LIST_CHUNK]), *extra])

    def purchase_orders_changed_since(self, since: dt.datetime | None = None) -> list[PurchaseOrder]:
        """Orders whose header or a line changed at or after ``since`` (every order when None), whole."""
        orders = [order for page in self.purchase_order_pages(since) for order in page]
        return sorted(orders, key=lambda o: (o.company, o.order_type, o.number, o.suffix))

    def purchase_order_pages(self, since: dt.datetime | None = None, size: int = LIST_CHUNK):
        """The orders of ``purchase_orders_changed_since``, oldest change first (then by number), ``size`` at a
        time. The scan holds only each changed order's key and newest stamp; a page's headers and lines are read
        with the page (a LIST of its order numbers per 500), so a cycle holds one page of orders at a time.

        An order's ``updated`` is the stamp the scan saw, even when the page read finds it changed again since:
        a cursor taken from it (the newest of a page) then never passes a change the scan did not see (an order
        changed meanwhile is read again from that cursor, in its then state)."""
        cancelled = tuple(self.options.get("cancelled_statuses") or ("980",))
        stamps = {}  # order key -> the newest stamp of its header or a line changed since ``since``
        for table, time_column in (("F4301", "TDAY"), ("F4311", "TDAY")):
            for row in self.browse(table, ["KCOO", "DOCO", "DCTO", "SFXO", "UPMJ", time_column],
                                   self._since_conditions(since)):
                moment = stamp(row.get("UPMJ"), row.get(time_column))
                if _after(row, since, time_column):
                    key = _interned_key(row)
                    stamps[key] = max(filter(None, (moment, stamps.get(key))), default=None)
        keys = sorted(stamps, key=lambda k: (stamps[k] or dt.datetime.min, k[1], k))
        step = max(1, int(size))
        for start in range(0, len(keys), step):
            chunk = keys[start:start + step]
            wanted, lines = set(chunk), {}
            numbers = {key[1] for key in chunk}
            headers = {_order_key(r): r for r in self._chunks("F4301", HEADER_COLUMNS, "DOCO", numbers)
                       if _order_key(r) in wanted}
            for row in self._chunks("F4311", LINE_COLUMNS, "DOCO", numbers):
                if _order_key(row) in wanted:
                    lines.setdefault(_order_key(row), []).append(self._po_line(row, cancelled))
            # lines whose order has no header (deleted meanwhile, or never had one) are no order
            orders = [self._order(key, headers[key], lines.get(key, []), seen=stamps.pop(key)) for key in chunk
                      if key in headers]
            headers = lines = None
            yield orders
            orders = None  # the caller has this page: not held while the next one is read

    @staticmethod
    def _po_line(row, cancelled):
        business_unit, obj, sub = as_text(row.get("OMCU")), as_text(row.get("OBJ")), as_text(row.get("SUB"))
        account = as_text(row.get("ANI")) or ".".join(p for p in (business_unit, obj, sub) if p)
        status = as_text(row.get("LTTR"))
        return PurchaseOrderLine(
            line_number=as_decimal(row.get("LNID")), item=as_text(row.get("LITM")), description=as_text(row.get("DSC1")),
            unit_of_measure=as_text(row.get("UOM")), quantity=as_decimal(row.get("UORG")),
            quantity_received=as_decimal(row.get("UREC")), unit_cost=as_decimal(row.get("PRRC")),
            extended_amount=as_decimal(row.get("AEXP")), open_amount=as_decimal(row.get("AOPN")), last_status=status,
            next_status=as_text(row.get("NXTR")), account=account, account_id=as_text(row.get("AID")),
            promised_date=as_date(row.get("PDDJ")), updated=stamp(row.get("UPMJ"), row.get("TDAY")),
            cancelled=status in cancelled)

    @staticmethod
    def _order(key, row, lines, seen=None):
        """``seen``: the order's newest stamp as the scan saw it, its ``updated`` (see ``purchase_order_pages``)."""
        lines = sorted(lines, key=lambda ln: ln.line_number)
        stamps = [s for s in [stamp(row.get("UPMJ"), row.get("TDAY")), *(ln.updated for ln in lines)] if s]
        if seen is not None:
            stamps = [seen]
        return PurchaseOrder(
            company=key[0], number=key[1], order_type=key[2], suffix=key[3], supplier=as_int(row.get("AN8")),
            business_unit=as_text(row.get("MCU")), order_date=as_date(row.get("TRDJ")),
            requested_date=as_date(row.get("DRQJ")), currency=as_text(row.get("CRCD")), total=as_decimal(row.get("OTOT")),
            description=as_text(row.get("DESC")), updated=max(stamps) if stamps else None, lines=tuple(lines))

    def suppliers_changed_since(self, since: dt.datetime | None = None) -> list[Supplier]:
        """Suppliers (F0401 rows) whose supplier master, address book, Who's Who, email or phone rows
        changed at or after ``since`` (every supplier when None), ordered by address number."""
        master_columns = ["AN8", "MCUP", "OBAP", "CRRP", "TRAP", "HDPY", "UPMJ", "UPMT"]
        if since is None:  # every supplier: the supplier master read whole, the rest joined to it
            masters = {as_int(r.get("AN8")): _master(r) for r in self.browse("F0401", master_columns)}
        else:  # a supplier changed in any of its tables
            conditions, numbers = self._since_conditions(since), set()
            for table in ("F0401", "F0101", "F0111", "F01151", "F0115"):
                numbers |= {as_int(r.get("AN8")) for r in self.browse(table, ["AN8", "UPMJ", "UPMT"], conditions)
                            if _after(r, since, "UPMT")}
            masters = {as_int(r.get("AN8")): _master(r) for r in self._chunks("F0401", master_columns, "AN8", numbers)}
        active_types = {t.upper() for t in (self.options.get("supplier_search_types") or ("V",))}
        out, numbers = [], sorted(masters)
        # The other tables are joined LIST_CHUNK suppliers at a time (the calls _chunks would make anyway), so a
        # read of every supplier holds their master rows and one chunk of the rest, not five tables whole.
        for start in range(0, len(numbers), LIST_CHUNK):
            chunk = numbers[start:start + LIST_CHUNK]
            out += self._suppliers_joined({n: masters.pop(n) for n in chunk}, active_types)
        return out

    def _suppliers_joined(self, masters, active_types):
        """``Supplier``s of these F0401 rows (address number -> row), joined to F0101, F0111, F01151 and F0115."""
        book = {as_int(r.get("AN8")): r for r in self._chunks(
            "F0101", ["AN8", "ALPH", "ALKY", "AT1", "TAX", "UPMJ", "UPMT"], "AN8", masters)}
        contacts = {as_int(r.get("AN8")): as_text(r.get("MLNM")) for r in self._chunks(
            "F0111", ["AN8", "IDLN", "MLNM"], "AN8", masters, [("IDLN", "EQUAL", 1)])}
        emails = {}
        for row in self._chunks("F01151", ["AN8", "IDLN", "RCK7", "ETP", "EMAL"], "AN8", masters, [("IDLN", "EQUAL", 1)]):
            if as_text(row.get("ETP")).upper() in ("E", ""):
                emails.setdefault(as_int(row.get("AN8")), as_text(row.get("EMAL")))
        phones = {}
        for row in self._chunks("F0115", ["AN8", "IDLN", "RCK7", "PHTP", "AR1", "PH1"], "AN8", masters,
                                [("IDLN", "EQUAL", 1)]):
            if as_text(row.get("PHTP")).upper() in PHONE_TYPES:
                phones.setdefault(as_int(row.get("AN8")), " ".join(filter(None, (as_text(row.get(c)) for c in ("AR1", "PH1")))))
        out = []
        for number in sorted(masters):
            master, entry = masters[number], book.get(number, {})
            stamps = [s for s in (master.updated, stamp(entry.get("UPMJ"), entry.get("UPMT"))) if s]
            business_unit, obj = master.business_unit, master.object
            out.append(Supplier(
                address_number=number, name=as_text(entry.get("ALPH")), tax_id=as_text(entry.get("TAX")),
                search_type=as_text(entry.get("AT1")), active=as_text(entry.get("AT1")).upper() in active_types,
                on_hold=master.hold.upper() == "Y", contact=contacts.get(number, ""),
                email=emails.get(number, ""), currency=master.currency, payment_terms=master.terms,
                default_account=f"{business_unit}.{obj}" if business_unit and obj else "",
                updated=max(stamps) if stamps else None, reference=as_text(entry.get("ALKY")), phone=phones.get(number, "")))
        return out
