"""Procurify purchase orders, requisitions and order items (the fake's order handlers).

Endpoints (shared/reference/procurify.md, "Endpoints"):
  GET  /api/v2/purchase_orders/{role}/{status}/   role purchased|receivable, status all|open|partial|closed|
                                                  cancelled|paid; ``modified_date_0/1`` (YYYY-MM-DD)
  GET  /api/v2/purchase_orders/{id}/              by Procurify PO number or UUID, with ``order_items``
  PUT  /api/v3/purchase-orders/{procurify_PO}/    ``order_items`` [{id, name, unit, quantity, price, sku?}]
                                                  (the spec's OrderItemPurchaseEditRequest), ``PO_Num`` /
                                                  ``po_num``, ``version``, ``confirm_duplicate_external_po_number``
  POST /api/v3/purchase-orders/{procurify_PO}/close/ and /reopen/
  POST /api/v3/requisitions/                      by names, not ids: required_date, location_name,
                                                  department_name, line_items[{item_name, vendor_name,
                                                  account_code, unit_price, quantity, unit, currency_code}]
  GET  /api/v3/order-items/                       ``orderNum``, ``last_modified_0/1``

Sandbox choices where the spec is silent (UNCONFIRMED):
  * an item in a PUT that the order does not hold is refused (400); items left out are kept; an item
    without ``id`` (name, unit, quantity, price, account_code) is added to the PO (the spec marks ``id``
    required: how Procurify's "add item" on a revised PO reaches the API is UNCONFIRMED);
    ``quantity`` "0" is how a cancelled line reads; a PO's ``version`` goes up on every change and
    a PUT carrying an older ``version`` is refused (400 ``{"version": [...]}``);
  * a custom PO number already used by another PO is refused unless
    ``confirm_duplicate_external_po_number`` is true (the spec's flag);
  * ``requisition_purchase`` (config, default ``"auto"``): a new requisition is approved and purchased
    at once, one PO per vendor, and each item's ``PO`` lists its PO number; ``"manual"`` leaves it
    pending until ``POST /_sandbox/procurify/requisitions/<id>/purchase``.
"""

import re
import uuid
from decimal import Decimal, InvalidOperation

from . import procurify_data as data
from .procurify_api import detail, in_range, invalid, ordered, page_of, single

PO_ROLES = ("purchased", "receivable")
PO_STATUSES = ("all", "open", "partial", "closed", "cancelled", "paid")
REQUIRED_LINE = ("item_name", "vendor_name", "account_code", "unit_price", "quantity")


def _decimal(value, field):
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid(field, "A valid number is required.")
    if not number.is_finite() or number < 0:
        raise invalid(field, "A valid number is required.")
    return number


class OrdersMixin:
    def _po(self, key):
        for po in self.world["purchase_orders"]:
            if str(po["procurify_PO"]) == str(key) or po["uuid"] == str(key):
                return po
        raise detail(404, "Not found.")

    def _po_view(self, po, *, items=True):
        view = {k: v for k, v in po.items() if k != "order_items"}
        if items:
            view["order_items"] = [dict(it) for it in po["order_items"]]
        return view

    def po_list(self, req, role, status):
        if role not in PO_ROLES or status not in PO_STATUSES:
            raise detail(404, "Not found.")
        wanted = None if status == "all" else data.PO_STATES[status]
        modified = in_range(req, "modified_date", dates=True)
        rows = [
            self._po_view(po, items=False)
            for po in self.world["purchase_orders"]
            if (wanted is None or po["state"] == wanted) and modified(po["last_modified"])
        ]
        return page_of(req, ordered(req, rows, "procurify_PO"), self.settings, self.name)

    def po_get(self, req, key):
        return single(self._po_view(self._po(key)))

    def po_update(self, req, key):
        po = self._po(key)
        body = self.body(req)
        version = body.get("version")
        if version is not None and str(version) != str(po["version"]):
            raise invalid("version", f"This purchase order has changed (version {po['version']}); reload it.")
        number = body.get("PO_Num", body.get("po_num"))
        if number not in (None, ""):
            confirm = str(body.get("confirm_duplicate_external_po_number", "")).lower() == "true"
            clash = any(p is not po and p["PO_Num"] == str(number) for p in self.world["purchase_orders"])
            if clash and not confirm:
                raise invalid("po_num", f"Purchase order number {number} is already in use.")
        changes, added = [], []
        for index, raw in enumerate(body.get("order_items") or []):
            if not isinstance(raw, dict):
                raise invalid("order_items", "Expected a list of items.")
            if raw.get("id") in (None, ""):
                added.append(self._added_item(po, raw, index))
                continue
            item = next((it for it in po["order_items"] if str(it["id"]) == str(raw.get("id"))), None)
            if item is None:
                raise invalid("order_items", f"Item {raw.get('id')} is not on purchase order {po['procurify_PO']}.")
            change = {k: raw[k] for k in ("name", "sku", "unit") if raw.get(k) is not None}
            for key_name in ("quantity", "price"):
                if raw.get(key_name) is not None:
                    change[key_name] = data.money(_decimal(raw[key_name], key_name))
            changes.append((item, change))
        stamp = data.stamp(self.now())
        for item, change in changes:
            item.update(change, last_modified=stamp)
        for item in added:
            item.update(last_modified=stamp)
            po["order_items"].append(item)
        if number not in (None, ""):
            po["PO_Num"] = str(number)
        data.recompute_po(po)
        po.update(version=po["version"] + 1, last_modified=stamp)
        return single(self._po_view(po))

    def _added_item(self, po, raw, index):
        """A PUT item without ``id``: a line added to the PO (name, unit, quantity, price as the spec's
        OrderItemPurchaseEdit, plus ``account_code``). UNCONFIRMED: the spec marks ``id`` required; this is
        the sandbox's stand-in for Procurify's revise-PO "add item", which the public spec does not show."""
        for field in ("name", "quantity", "price", "account_code"):
            if raw.get(field) in (None, ""):
                raise invalid(f"order_items[{index}].{field}", "This field is required.")
        code = next((c for c in self.world["account_codes"] if c["code"] == str(raw["account_code"]) and c["active"]), None)
        if code is None:
            raise invalid(f"order_items[{index}].account_code", f"No active account code {raw['account_code']}.")
        first = po["order_items"][0] if po["order_items"] else {}
        item = self._new_item(first.get("orderNum"), raw["name"], _decimal(raw["quantity"], "quantity"),
                              _decimal(raw["price"], "price"), po["pref_vendor"], code,
                              currency=po.get("purchased_currency") or "USD", unit=raw.get("unit"), sku=raw.get("sku"))
        item.update(PO=[po["procurify_PO"]], status=2)
        return item

    def _new_item(self, order_num, name, quantity, price, vendor, code, *, currency, unit=None, sku=None):
        self.counters["item"] += 1
        return {
            "id": self.counters["item"],
            "orderNum": order_num,
            "PO": [],
            "name": name,
            "sku": sku or "",
            "quantity": data.money(quantity),
            "price": data.money(price),
            "total_cost": data.money(quantity * price),
            "currency": currency,
            "unit": unit or "each",
            "account": code["id"],
            "accountCode": code["code"],
            "status": 0,
            "last_modified": data.stamp(self.now()),
            "vendor": {"id": vendor["id"], "name": vendor["name"]},
        }

    def po_state(self, req, key, action):
        po = self._po(key)
        closed = action == "close"
        po.update(
            state=data.PO_STATES["closed" if closed else "open"],
            status_name="closed" if closed else "open",
            closed_date=self.now().date().isoformat() if closed else None,
            version=po["version"] + 1,
            last_modified=data.stamp(self.now()),
        )
        return single(self._po_view(po))

    # -- requisitions ----------------------------------------------------------------------
    def requisition_create(self, req):
        body = self.body(req)
        for field in ("required_date", "location_name", "department_name", "line_items"):
            if body.get(field) in (None, "", []):
                raise invalid(field, "This field is required.")
        location = self._by_name("locations", body["location_name"], "location_name")
        department = next(
            (
                d
                for d in self.world["departments"]
                if d["name"] == body["department_name"] and d["branch"]["id"] == location["id"]
            ),
            None,
        )
        if department is None:
            raise invalid("department_name", f"No department named {body['department_name']} at {location['name']}.")
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", str(body["required_date"])):
            raise invalid("required_date", "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")
        lines = []
        for index, line in enumerate(body["line_items"]):
            if not isinstance(line, dict):
                raise invalid("line_items", "Expected a list of items.")
            for field in REQUIRED_LINE:
                if line.get(field) in (None, ""):
                    raise invalid(f"line_items[{index}].{field}", "This field is required.")
            vendor = self._by_name("vendors", line["vendor_name"], f"line_items[{index}].vendor_name")
            code = next((c for c in self.world["account_codes"] if c["code"] == str(line["account_code"]) and c["active"]), None)
            if code is None:
                raise invalid(f"line_items[{index}].account_code", f"No active account code {line['account_code']}.")
            lines.append((line, vendor, code, _decimal(line["quantity"], "quantity"), _decimal(line["unit_price"], "unit_price")))
        self.counters["order"] += 1
        order_num = self.counters["order"]
        stamp = data.stamp(self.now())
        items = []
        for line, vendor, code, quantity, price in lines:
            items.append(self._new_item(order_num, line["item_name"], quantity, price, vendor, code,
                                        currency=line.get("currency_code") or "USD", unit=line.get("unit"),
                                        sku=line.get("sku")))
        requisition = {
            "id": order_num,
            "uuid": str(uuid.uuid4()),
            "status": 1,
            "required_date": body["required_date"],
            "department": {"id": department["id"], "name": department["name"]},
            "location": {"id": location["id"], "name": location["name"]},
            "created": stamp,
            "last_modified": stamp,
            "order_items": items,
        }
        self.world["requisitions"].append(requisition)
        if (self.settings.get("requisition_purchase") or "auto") == "auto":
            self.purchase(requisition)
        return single(requisition, 201)

    def purchase(self, requisition):
        """Approve and purchase a requisition: one open PO per vendor; each item learns its PO number."""
        stamp = data.stamp(self.now())
        by_vendor = {}
        for item in requisition["order_items"]:
            by_vendor.setdefault(item["vendor"]["id"], []).append(item)
        for items in by_vendor.values():
            self.counters["po"] += 1
            number = self.counters["po"]
            for item in items:
                item.update(PO=[number], status=2, last_modified=stamp)
            vendor = items[0]["vendor"]
            po = {
                "procurify_PO": number,
                "uuid": str(uuid.uuid4()),
                "PO_Num": "",
                "date": self.now().date().isoformat(),
                "pref_vendor": dict(vendor),
                "vendor_name": vendor["name"],
                "purchased_currency": items[0]["currency"],
                "state": data.PO_STATES["open"],
                "status_name": "open",
                "fulfilment_status": 0,
                "closed_date": None,
                "version": 1,
                "last_modified": stamp,
                "order_items": items,
            }
            data.recompute_po(po)
            self.world["purchase_orders"].append(po)
        requisition.update(status=3, last_modified=stamp)

    def order_items(self, req):
        modified = in_range(req, "last_modified", dates=True)
        rows = [
            dict(it)
            for it in self._all_items()
            if (not req.arg("orderNum") or str(it["orderNum"]) == req.arg("orderNum")) and modified(it["last_modified"])
        ]
        return page_of(req, ordered(req, rows, "id"), self.settings, self.name)

    def _all_items(self):
        seen = {}
        for source in (self.world["purchase_orders"], self.world["requisitions"]):
            for order in source:
                for item in order["order_items"]:
                    seen[item["id"]] = item
        return list(seen.values())
