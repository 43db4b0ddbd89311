"""BILL v3 records: vendors, bills, chart of accounts, departments, payments (the fake's handlers).

Endpoints (shared/reference/bill.md, "v3 endpoints the integration needs"):
  GET/POST /v3/vendors, GET/PATCH /v3/vendors/{id}, POST /v3/vendors/{id}/archive|restore
  GET/POST /v3/bills, GET/PATCH /v3/bills/{id}, POST /v3/bills/{id}/archive|restore
  GET/POST /v3/classifications/chart-of-accounts, GET/PATCH .../{id}, POST .../{id}/archive|restore
  GET/POST /v3/classifications/departments, GET/PATCH .../{id}
  GET /v3/payments, GET /v3/payments/{paymentId}
Vendor create needs ``name`` (``accountType`` defaults to BUSINESS); the tax id lives in
``additionalInfo.taxId`` (the reference's reading, UNCONFIRMED). Bill create needs ``vendorId`` (an
active vendor), ``dueDate``, ``invoice.invoiceNumber``, ``invoice.invoiceDate`` and ``billLineItems``
with ``amount`` in currency units (a number, at most two decimals) and optional
``classifications.chartOfAccountId`` / ``departmentId`` that must exist and not be archived. The bill's
``amount`` is the sum of its lines. With ``refuse_duplicate_invoice`` (config, default true) a second
live bill with the same vendor and invoice number is refused (a sandbox choice: BILL warns of
duplicates, the API behaviour is UNCONFIRMED). Every create and change stamps ``updatedTime`` and
sends the matching webhook event (``vendor.created``, ``bill.updated``, ``bill.archived`` ...).
"""

from decimal import Decimal, InvalidOperation

from . import bill_data as data
from . import bill_query as query
from .table_index import TableIndex

KINDS = {
    "vendors": "vendor",
    "bills": "bill",
    "chart_of_accounts": "chart_of_account",
    "departments": "department",
    "payments": "payment",
}
VENDOR_FIELDS = (
    "name",
    "shortName",
    "accountType",
    "email",
    "phone",
    "address",
    "additionalInfo",
    "billCurrency",
    "accountNumber",
    "paymentInformation",
)
BILL_FIELDS = ("vendorId", "dueDate", "invoice", "billLineItems", "payFromChartOfAccountId", "purchaseOrderNumber", "description")
CHART_FIELDS = ("name", "accountNumber", "accountType", "parentId", "description")
DEPARTMENT_FIELDS = ("name", "shortName", "parentId")


def _amount(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise query.invalid(f"{where}: amount must be a number in currency units")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise query.invalid(f"{where}: amount must be a number")
    if not number.is_finite() or number <= 0 or number.as_tuple().exponent < -2:
        raise query.invalid(f"{where}: amount must be positive with at most two decimals")
    return number


# Fields a list filters on with eq/in through an index of the table, not a scan of every row (a group search
# and a per-post search, one list per 40 or per bill, over 10,000 bills).
INDEXED = {"bills": ("invoice.invoiceNumber",)}
LISTS_KEPT = 32  # distinct list queries whose rows are kept between pages


def _duplicate_key(bill):
    return bill.get("vendorId"), (bill.get("invoice") if isinstance(bill.get("invoice"), dict) else {}).get("invoiceNumber")


class RecordsMixin:
    writes = 0  # bumped by every request that may change a row (the fake's handle and control)

    def _index(self, name, column):
        return self.__dict__.setdefault("_indexes", {}).setdefault(name, TableIndex(column))

    @property
    def _changes(self):
        """Bumped by every change of a row in place that may move it in an index (a bill's PATCH)."""
        return self.__dict__.get("_changed", 0)

    def _find(self, kind, key):
        return self._index((kind, "id"), "id").first(self.world[kind]).get(key)

    def _get(self, kind, key):
        row = self._find(kind, key)
        if row is None:
            raise self.not_found(KINDS[kind], key)
        return row

    def _candidates(self, kind, filters):
        """The rows an eq/in filter on an indexed field can match (then checked by every filter), else all."""
        for field, op, wanted in filters:
            if field in INDEXED.get(kind, ()) and op in ("eq", "in"):
                index = self._index((kind, field), lambda row, f=field: query.comparable(f, query.lookup(row, f)))
                values = wanted if op == "in" else [wanted]
                return index.rows_with(self.world[kind], [query.comparable(field, v) for v in values], self._changes)
        return self.world[kind]

    def _list(self, req, kind):
        query_key = f"{kind}|{req.arg('filters')}|{req.arg('sort')}"
        # A list is read a page at a time; filtering and sorting the whole table again for each 100-row page made
        # reading 5,000 vendors quadratic. The matched and sorted rows are kept per query until anything is written
        # (``writes``: every request but a GET, every control change, a reset).
        table = self.world[kind]
        version = (id(table), len(table), self.writes)
        kept = self.__dict__.setdefault("_lists", {})
        found = kept.get(query_key)
        if found is None or found[0] != version:
            filters = query.parse_filters(req.arg("filters"))  # once, not once a row
            rows = [r for r in self._candidates(kind, filters) if query.matches(r, filters)]
            found = (version, query.sort(rows, req.arg("sort") or "createdTime:asc"))
            if len(kept) >= LISTS_KEPT:
                kept.clear()
            kept[query_key] = found
        return query.page(req, found[1], query_key)

    def _touch(self, row, event=None):
        row["updatedTime"] = self.stamp()
        if event:
            self.notify(event, row)
        return row

    def _archive(self, kind, key, archived, event_base):
        row = self._get(kind, key)
        row["archived"] = archived
        return self._touch(row, f"{event_base}.{'archived' if archived else 'restored'}" if event_base else None)

    # -- vendors ---------------------------------------------------------------------------------------
    def vendors(self, req, session):
        return self._list(req, "vendors")

    def vendor(self, req, session, key, action=None):
        if action:
            return self._archive("vendors", key, action == "archive", "vendor")
        if req.method == "GET":
            return self._get("vendors", key)
        row = self._get("vendors", key)
        row.update({k: v for k, v in self.body(req).items() if k in VENDOR_FIELDS})
        return self._touch(row, "vendor.updated")

    def vendor_create(self, req, session):
        body = self.body(req)
        if not str(body.get("name") or "").strip():
            raise query.invalid("name is required")
        if body.get("accountType", "BUSINESS") not in ("BUSINESS", "PERSON", "NONE"):
            raise query.invalid("accountType must be BUSINESS, PERSON or NONE")
        now = self.stamp()
        row = {
            "id": self.new_id("vendor"),
            "accountType": "BUSINESS",
            "archived": False,
            "additionalInfo": {},
            "billCurrency": "USD",
            "createdTime": now,
            "updatedTime": now,
        }
        row.update({k: v for k, v in body.items() if k in VENDOR_FIELDS})
        self.world["vendors"].append(row)
        self.notify("vendor.created", row)
        return row

    # -- bills -----------------------------------------------------------------------------------------
    def bills(self, req, session):
        return self._list(req, "bills")

    def bill(self, req, session, key, action=None):
        if action:
            return self._archive("bills", key, action == "archive", "bill")
        row = self._get("bills", key)
        if req.method == "GET":
            return row
        merged = dict(row)
        merged.update({k: v for k, v in self.body(req).items() if k in BILL_FIELDS})
        self._check_bill(merged, exclude=row)
        row.update(merged)
        self.__dict__["_changed"] = self._changes + 1  # its invoice number may have changed
        return self._touch(row, "bill.updated")

    def bill_create(self, req, session):
        body = {k: v for k, v in self.body(req).items() if k in BILL_FIELDS}
        self._check_bill(body)
        now = self.stamp()
        row = {
            "id": self.new_id("bill"),
            "paymentStatus": "UNPAID",
            "approvalStatus": "UNASSIGNED",
            "archived": False,
            "purchaseOrderNumber": "",
            "description": "",
            "createdTime": now,
            "updatedTime": now,
            **body,
        }
        row["dueAmount"] = row["amount"]
        self.world["bills"].append(row)
        self.notify("bill.created", row)
        return row

    def _check_bill(self, bill, exclude=None):
        vendor = self._find("vendors", bill.get("vendorId"))
        if vendor is None or vendor["archived"]:
            raise query.invalid(f"vendorId {bill.get('vendorId')!r} is not an active vendor")
        invoice = bill.get("invoice") if isinstance(bill.get("invoice"), dict) else {}
        for label, value in (
            ("dueDate", bill.get("dueDate")),
            ("invoice.invoiceNumber", invoice.get("invoiceNumber")),
            ("invoice.invoiceDate", invoice.get("invoiceDate")),
        ):
            if not value:
                raise query.invalid(f"{label} is required")
        lines = bill.get("billLineItems")
        if not isinstance(lines, list) or not lines:
            raise query.invalid("billLineItems must hold at least one line")
        total = Decimal(0)
        for n, line in enumerate(lines, start=1):
            total += _amount(line.get("amount") if isinstance(line, dict) else None, f"billLineItems[{n}]")
            refs = line.get("classifications") or {}
            for field, kind in (("chartOfAccountId", "chart_of_accounts"), ("departmentId", "departments")):
                known = self._find(kind, refs.get(field)) if refs.get(field) else None
                if refs.get(field) and (known is None or known["archived"]):
                    raise query.invalid(f"billLineItems[{n}].classifications.{field} {refs[field]!r} does not exist")
        same = self._index("duplicates", _duplicate_key).rows_with(
            self.world["bills"], [(vendor["id"], invoice["invoiceNumber"])], self._changes
        )
        if self.settings.get("refuse_duplicate_invoice", True) and any(b is not exclude and not b["archived"] for b in same):
            raise query.invalid(f"A bill with invoice number {invoice['invoiceNumber']} already exists for this vendor")
        bill.update(vendorName=vendor["name"], amount=data.amount(total))

    # -- classifications and payments ------------------------------------------------------------------
    def chart(self, req, session):
        return self._list(req, "chart_of_accounts")

    def departments(self, req, session):
        return self._list(req, "departments")

    def classification_create(self, req, session, kind):
        body = self.body(req)
        if not str(body.get("name") or "").strip():
            raise query.invalid("name is required")
        now = self.stamp()
        fields = CHART_FIELDS if kind == "chart_of_accounts" else DEPARTMENT_FIELDS
        row = {"id": self.new_id(KINDS[kind]), "archived": False, "createdTime": now, "updatedTime": now}
        row.update({k: v for k, v in body.items() if k in fields})
        self.world[kind].append(row)
        return row

    def classification(self, req, session, kind, key, action=None):
        if action:
            return self._archive(kind, key, action == "archive", None)
        row = self._get(kind, key)
        if req.method == "PATCH":
            fields = CHART_FIELDS if kind == "chart_of_accounts" else DEPARTMENT_FIELDS
            row.update({k: v for k, v in self.body(req).items() if k in fields})
            self._touch(row)
        return row

    def payments(self, req, session):
        return self._list(req, "payments")

    def payment(self, req, session, key):
        return self._get("payments", key)
