"""Procurify reference data and AP records (the fake's vendor, account code, department,
location, bill and payment handlers).

Endpoints (shared/reference/procurify.md):
  GET/POST /api/v3/vendors/, GET/PUT/PATCH /api/v3/vendors/{id}/   create needs name, email (array),
                                                                   type, overall_score; ``search`` = name;
                                                                   phoneOne <= 20, contact <= 50 characters
  GET/POST /api/v3/account-codes/, GET/PUT /api/v3/account-codes/{id}/   ``active: false`` deactivates
  GET/POST /api/v3/departments/, PUT /api/v3/departments/{id}/
  GET /api/v2/locations/
  GET /api/v3/ap/bills/        ``last_modified_datetime_0/1`` (date-time; the deprecated
                               ``modified_date_0/1`` still filters the same field by date), ``order_by``
  GET /api/v2/ap/bills/{uuid}/ one bill with its ``items`` (lines allocated to account codes)
  GET /api/public/v1/payments/ ``updated_at_after/before``, ``created_at_after/before``, ``order_by``
No modified filter exists on vendors, account codes or departments (a full sweep; vendors carry
``dateModified``). An account code ``code`` must be unique (400 otherwise, a sandbox choice).
"""

from . import procurify_data as data
from .procurify_api import detail, in_after_before, in_range, invalid, ordered, page_of, single
from .table_index import TableIndex

VENDOR_FIELDS = (
    "name",
    "active",
    "addressLineOne",
    "addressLineTwo",
    "city",
    "state_province",
    "postalCode",
    "country",
    "phoneOne",
    "contact",
    "email",
    "external_id",
    "currency",
    "type",
    "overall_score",
    "is_1099_eligible",
)
CODE_FIELDS = ("code", "description", "account_type", "active", "parent")
DEPARTMENT_FIELDS = ("name", "external_id", "active")
VENDOR_LENGTHS = {"name": 150, "phoneOne": 20, "contact": 50}  # max_length in the spec's Vendor schema


class RecordsMixin:
    def _find(self, kind, key):
        """The row of ``kind`` whose id or uuid is ``key``. By an index kept as rows are appended: a scan per read
        made the 10,000 bill reads of a bench cycle quadratic (for the cycle and for its replay alike)."""
        indexes = self.__dict__.setdefault("_find_indexes", {})
        by_id = indexes.setdefault((kind, "id"), TableIndex("id"))
        by_uuid = indexes.setdefault((kind, "uuid"), TableIndex("uuid", where=lambda row: row.get("uuid") is not None))
        rows, text = self.world[kind], str(key)
        row = by_id.first(rows).get(int(text)) if text.isdigit() else None
        if row is None:
            row = by_id.first(rows).get(text) or by_uuid.first(rows).get(text)
        if row is None:
            raise detail(404, "Not found.")
        return row

    def _by_name(self, kind, name, field):
        row = next((r for r in self.world[kind] if r["name"] == str(name)), None)
        if row is None:
            raise invalid(field, f"No {kind[:-1]} named {name}.")
        return row

    def _kept(self, req, name, compute):
        """The rows a list query matches, in order, kept between its pages until anything is written: reading 10,000
        bills 50 a page filtered and sorted the whole table for every page. The version is read before computing
        and bumped after every change (``ProcurifyFake.handle``), so a list computed across a write is not kept."""
        key = (name, tuple(sorted((k, tuple(v)) for k, v in req.query.items() if k not in ("page", "page_size"))))
        version = self.writes
        kept = self.lists.get(key)
        if kept is not None and kept[0] == version:
            return kept[1]
        rows = compute()
        if len(self.lists) > 64:  # a fake serves a few queries at a time; old ones go
            self.lists.clear()
        self.lists[key] = (version, rows)
        return rows

    def _listing(self, req, kind, default_order="id", search_field="name"):
        def compute():
            rows = [dict(r) for r in self.world[kind]]
            term = (req.arg("search") or "").strip().lower()
            if term:
                rows = [r for r in rows if term in str(r.get(search_field, "")).lower()]
            if req.arg("active") in ("true", "false"):
                rows = [r for r in rows if bool(r.get("active")) == (req.arg("active") == "true")]
            return ordered(req, rows, default_order)
        return page_of(req, self._kept(req, kind, compute), self.settings, self.name)

    def _apply(self, row, body, fields, *, partial):
        if not partial:
            missing = [f for f in fields[:1] if body.get(f) in (None, "")]
            if missing:
                raise invalid(missing[0], "This field is required.")
        for field in fields:
            if field in body:
                row[field] = body[field]

    # -- vendors ---------------------------------------------------------------------------------------
    @staticmethod
    def _vendor_checks(body):
        if "email" in body and not isinstance(body["email"], list):
            raise invalid("email", 'Expected a list of items but got type "str".')
        for field, length in VENDOR_LENGTHS.items():
            if len(str(body.get(field) or "")) > length:
                raise invalid(field, f"Ensure this field has no more than {length} characters.")

    def vendor_create(self, req):
        body = self.body(req)
        for field in ("name", "email", "type", "overall_score"):
            if body.get(field) in (None, ""):
                raise invalid(field, "This field is required.")
        self._vendor_checks(body)
        self.counters["vendor"] += 1
        vendor = {
            "id": self.counters["vendor"],
            "active": True,
            "addressLineOne": "",
            "addressLineTwo": "",
            "city": "",
            "state_province": "",
            "postalCode": "",
            "country": "",
            "phoneOne": "",
            "contact": "",
            "external_id": "",
            "currency": "USD",
            "is_1099_eligible": False,
        }
        self._apply(vendor, body, VENDOR_FIELDS, partial=True)
        vendor["dateModified"] = data.stamp(self.now())
        self.world["vendors"].append(vendor)
        return single(vendor, 201)

    def vendor_update(self, req, key):
        vendor = self._find("vendors", key)
        body = self.body(req)
        self._vendor_checks(body)
        self._apply(vendor, body, VENDOR_FIELDS, partial=req.method == "PATCH")
        vendor["dateModified"] = data.stamp(self.now())
        return single(vendor)

    # -- account codes and departments -----------------------------------------------------------------
    def code_write(self, req, key=None):
        body = self.body(req)
        row = self._find("account_codes", key) if key is not None else None
        code = body.get("code")
        if code not in (None, "") and any(c["code"] == str(code) and c is not row for c in self.world["account_codes"]):
            raise invalid("code", "account code with this code already exists.")
        if row is None:
            for field in ("code", "description", "account_type"):
                if body.get(field) in (None, ""):
                    raise invalid(field, "This field is required.")
            self.counters["code"] += 1
            row = {"id": self.counters["code"], "active": True, "parent": None}
            self.world["account_codes"].append(row)
            self._apply(row, body, CODE_FIELDS, partial=True)
            return single(row, 201)
        self._apply(row, body, CODE_FIELDS, partial=False)
        return single(row)

    def department_write(self, req, key=None):
        body = self.body(req)
        row = self._find("departments", key) if key is not None else None
        if row is None:
            if body.get("name") in (None, ""):
                raise invalid("name", "This field is required.")
            self.counters["department"] += 1
            branch = self._find("locations", body.get("branch") or 1)
            row = {
                "id": self.counters["department"],
                "branch": {"id": branch["id"], "name": branch["name"]},
                "external_id": "",
                "active": True,
            }
            self.world["departments"].append(row)
            self._apply(row, body, DEPARTMENT_FIELDS, partial=True)
            return single(row, 201)
        self._apply(row, body, DEPARTMENT_FIELDS, partial=False)
        return single(row)

    # -- bills and payments ----------------------------------------------------------------------------
    def bill_list(self, req):
        def compute():
            changed, modified = in_range(req, "last_modified_datetime"), in_range(req, "modified_date", dates=True)
            return ordered(req, [b for b in self.world["bills"]
                                 if changed(b["last_modified_datetime"]) and modified(b["last_modified_datetime"])], "id")
        return page_of(req, self._kept(req, "bills", compute), self.settings, self.name, shape=_header)

    def bill_get(self, req, key):
        return single(dict(self._find("bills", key)))

    def payment_list(self, req):
        def compute():
            updated, created = in_after_before(req, "updated_at"), in_after_before(req, "created_at")
            return ordered(req, [p for p in self.world["payments"] if updated(p["updated_at"]) and created(p["created_at"])],
                           "id")
        return page_of(req, self._kept(req, "payments", compute), self.settings, self.name, shape=dict)


def _header(bill):
    """A bill as the list shows it: without its lines (``items``), which only the single-bill read gives."""
    return {k: v for k, v in bill.items() if k != "items"}
