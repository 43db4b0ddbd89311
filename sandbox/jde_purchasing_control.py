"""JD Edwards fake: control levers for purchase orders and suppliers, so tests can drive mirror flows.

    GET  /_sandbox/jde/purchase-orders[?order=400001]      headers (PH-prefixed) each with "lines" (PD-prefixed)
    POST /_sandbox/jde/purchase-orders                     {"supplier": AN8, "lines": [{"item", "description",
                                                            "quantity", "unit_cost", "account": "BU.OBJ[.SUB]"}]}
    POST /_sandbox/jde/purchase-orders/<DOCO>/lines        {"item", "description", "quantity", "unit_cost", "account"}:
                                                            a line added (next line number)
    POST /_sandbox/jde/purchase-orders/<DOCO>/lines/<LNID> {"quantity": "12", "unit_cost": "9.50", "cancel": true}
    POST /_sandbox/jde/purchase-orders/<DOCO>/cancel       every line cancelled (status 980)
    POST /_sandbox/jde/suppliers                           {"AN8": n (omit to add), "name", "tax_id",
                                                            "status": "active"|"inactive", "contact", "email",
                                                            "phone", "payment_terms", "currency", "hold": true}

Every change stamps the rows it touches with the fake's current date and time (UPMJ and
TDAY on orders, UPMJ and UPMT on suppliers), as JDE's own programs do, so incremental reads
see it. An inactive supplier has search type ``inactive_supplier_search_type`` (default
``VX``; how a site retires a supplier is site-specific: UNCONFIRMED).
"""

from decimal import Decimal, InvalidOperation

from . import catalog
from . import jde_data as data
from . import jde_purchasing_data as po
from .http import BadRequest, NotFoundError, json_response

CONTACT_TABLES = ("F0111", "F01151", "F0115")  # a supplier's Who's Who rows, stamped with each change


def _decimal(value, what):
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise BadRequest(f"{what} {value!r} is not a number")
    if not number.is_finite() or number < 0:
        raise BadRequest(f"{what} {value!r} must be a number >= 0")
    return number


class PurchasingControlMixin:
    """Purchase order and supplier levers over ``tables`` (F4301/F4311, F0101/F0401/F0111/F01151/F0115)."""

    def _purchasing_control(self, req, parts):
        """The answer for a purchasing control call, or None when ``parts`` is not one."""
        head, method = parts[0], req.method
        if head == "purchase-orders":
            if len(parts) == 1 and method == "GET":
                order = req.arg("order")
                return json_response([self._order_view(h) for h in self.tables["F4301"]
                                      if order is None or str(h["DOCO"]) == order])
            if len(parts) == 1 and method == "POST":
                return json_response(self._order_view(self._add_order(req.json())), 201)
            if method == "POST" and len(parts) >= 3:
                header = self._order_header(parts[1])
                if len(parts) == 3 and parts[2] == "cancel":
                    for line in self._order_lines(header):
                        self._change_line(line, {"cancel": True})
                elif len(parts) == 3 and parts[2] == "lines":
                    self._add_line(header, req.json() or {})
                elif len(parts) == 4 and parts[2] == "lines":
                    line = next((ln for ln in self._order_lines(header) if ln["LNID"] == _decimal(parts[3], "line")),
                                None)
                    if line is None:
                        raise NotFoundError(f"order {header['DOCO']} has no line {parts[3]}")
                    self._change_line(line, req.json() or {})
                else:
                    return None
                self._touch_header(header)
                return json_response(self._order_view(header))
        if head == "suppliers" and method == "POST" and len(parts) == 1:
            return json_response(self._change_supplier(req.json()))
        return None

    # -- purchase orders -----------------------------------------------------------------------------
    def _order_header(self, number):
        header = next((h for h in self.tables["F4301"] if str(h["DOCO"]) == str(number)), None)
        if header is None:
            raise NotFoundError(f"no purchase order {number} in F4301")
        return header

    def _order_lines(self, header):
        return [ln for ln in self.tables["F4311"] if (ln["KCOO"], ln["DOCO"], ln["DCTO"]) ==
                (header["KCOO"], header["DOCO"], header["DCTO"])]

    def _order_view(self, header):
        return {**self._view("F4301", header), "lines": [self._view("F4311", ln) for ln in self._order_lines(header)]}

    def _stamp_row(self, row, time_column):
        row["UPMJ"], row[time_column] = po.now_stamp(self.now())

    def _change_line(self, line, body):
        if not isinstance(body, dict) or set(body) - {"quantity", "unit_cost", "cancel"}:
            raise BadRequest('expected {"quantity": "12", "unit_cost": "9.50"} and/or {"cancel": true}')
        if "quantity" in body:
            line["UORG"] = _decimal(body["quantity"], "quantity")
        if "unit_cost" in body:
            line["PRRC"] = _decimal(body["unit_cost"], "unit_cost")
        if body.get("cancel"):
            line["LTTR"], line["NXTR"] = po.CANCELLED, po.NEXT_STATUS[po.CANCELLED]
        po.line_amounts(line)
        self._stamp_row(line, "TDAY")

    def _touch_header(self, header):
        header["OTOT"] = po.header_total(self._order_lines(header))
        self._stamp_row(header, "TDAY")

    def _add_order(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("lines"), list) or not body["lines"]:
            raise BadRequest('expected {"supplier": AN8, "lines": [{"item", "quantity", "unit_cost", "account"}]}')
        supplier = next((s for s in self.tables["F0401"] if str(s["AN8"]) == str(body.get("supplier"))), None)
        if supplier is None:
            raise NotFoundError(f"no supplier {body.get('supplier')} in F0401")
        number = max([h["DOCO"] for h in self.tables["F4301"]] or [400000]) + 1
        today = data.to_julian(self.today())
        keys = {"KCOO": catalog.COMPANY, "DOCO": number, "DCTO": po.ORDER_TYPE, "SFXO": "000"}
        header = {**keys, "AN8": supplier["AN8"], "MCU": supplier["MCUP"], "TRDJ": today, "DRQJ": today,
                  "CRCD": supplier["CRRP"], "DESC": str(body.get("description") or f"PO {number}")[:30], "ORBY": "BUYER1"}
        for index, spec in enumerate(body["lines"], start=1):
            self._new_line(header, index, spec)
        self.tables["F4301"].append(header)
        self._touch_header(header)
        return header

    def _add_line(self, header, spec):
        """A line added to an existing order (the next line number), e.g. after it was mirrored."""
        if not isinstance(spec, dict) or not spec.get("account"):
            raise BadRequest('expected {"item", "description", "quantity", "unit_cost", "account"}')
        index = int(max([ln["LNID"] for ln in self._order_lines(header)] or [Decimal(0)])) + 1
        self._new_line(header, index, spec)

    def _new_line(self, header, index, spec):
        parts = str(spec.get("account") or "").split(".")
        account = self._find_account(parts[0], parts[1], parts[2] if len(parts) > 2 else "") if len(parts) > 1 else None
        if account is None:
            raise BadRequest(f"line {index}: account {spec.get('account')!r} is not in F0901")
        keys = {k: header[k] for k in ("KCOO", "DOCO", "DCTO", "SFXO")}
        today = data.to_julian(self.today())
        line = {**keys, "LNID": Decimal(index).quantize(Decimal("0.001")), "AN8": header["AN8"],
                "LITM": str(spec.get("item") or f"ITEM-{index}"), "DSC1": str(spec.get("description") or "")[:30],
                "UOM": "EA", "UORG": _decimal(spec.get("quantity", 1), "quantity"), "UREC": Decimal(0),
                "PRRC": _decimal(spec.get("unit_cost", 0), "unit_cost"), "AREC": Decimal(0), "LTTR": po.OPEN,
                "NXTR": po.NEXT_STATUS[po.OPEN], "ANI": data.account_key(account["MCU"], account["OBJ"], account["SUB"]),
                "AID": account["AID"], "OMCU": account["MCU"], "OBJ": account["OBJ"], "SUB": account["SUB"],
                "TRDJ": today, "PDDJ": today, "CRCD": header["CRCD"]}
        po.line_amounts(line)
        self._stamp_row(line, "TDAY")
        self.tables["F4311"].append(line)

    # -- suppliers --------------------------------------------------------------------------------------
    def _change_supplier(self, body):
        fields = {"AN8", "name", "tax_id", "status", "contact", "email", "phone", "payment_terms", "currency", "hold"}
        if not isinstance(body, dict) or set(body) - fields:
            raise BadRequest(f"expected a JSON object with some of {sorted(fields)}")
        if body.get("AN8") is not None:
            master = next((s for s in self.tables["F0401"] if str(s["AN8"]) == str(body["AN8"])), None)
            if master is None:
                raise NotFoundError(f"no supplier {body['AN8']} in F0401")
            book = next(r for r in self.tables["F0101"] if r["AN8"] == master["AN8"])
        else:
            if not body.get("name"):
                raise BadRequest("a new supplier needs a name")
            number = max(r["AN8"] for r in self.tables["F0101"]) + 1  # a new address book number
            book = {"AN8": number, "ALPH": "", "ALKY": "", "AT1": "V", "TAX": "", "MCU": data.pad_mcu("100")}
            master = {"AN8": number, "MCUP": data.pad_mcu("100"), "OBAP": "6200", "AIDP": "", "CRRP": "USD",
                      "TRAP": "N30", "PYIN": "", "HDPY": "N"}
            self.tables["F0101"].append(book)
            self.tables["F0401"].append(master)
            self.tables["F0111"].append({"AN8": number, "IDLN": 0, "MLNM": ""})
        if "name" in body:
            book["ALPH"] = str(body["name"])[:40]
            for row in self.tables["F0111"]:
                if row["AN8"] == book["AN8"] and row["IDLN"] == 0:
                    row["MLNM"] = book["ALPH"]
        if "tax_id" in body:
            book["TAX"] = str(body["tax_id"] or "")
        if "status" in body:
            inactive = str(self.settings.get("inactive_supplier_search_type") or "VX")
            book["AT1"] = "V" if str(body["status"]).lower() == "active" else inactive
        for key, column in (("payment_terms", "TRAP"), ("currency", "CRRP")):
            if key in body:
                master[column] = str(body[key] or "")
        if "hold" in body:
            master["HDPY"] = "Y" if body["hold"] else "N"
        if {"contact", "email", "phone"} & set(body):
            self._set_contact(book["AN8"], body)
        for row in (book, master, *[r for t in CONTACT_TABLES for r in self.tables[t] if r["AN8"] == book["AN8"]]):
            self._stamp_row(row, "UPMT")
        return {**self._view("F0401", master), **self._view("F0101", book)}

    def _set_contact(self, number, body):
        """The AP contact: Who's Who line 1, its first email and its first business phone (kept whole in
        PH1, AR1 blank: a number from elsewhere comes as one string)."""
        if "contact" in body:
            row = next((r for r in self.tables["F0111"] if r["AN8"] == number and r["IDLN"] == 1), None)
            if row is None:
                row = {"AN8": number, "IDLN": 1, "MLNM": ""}
                self.tables["F0111"].append(row)
            row["MLNM"] = str(body["contact"] or "")[:40]
        if "email" in body:
            row = next((r for r in self.tables["F01151"] if r["AN8"] == number and r["IDLN"] == 1), None)
            if row is None:
                row = {"AN8": number, "IDLN": 1, "RCK7": 1, "ETP": "E", "EMAL": ""}
                self.tables["F01151"].append(row)
            row["EMAL"] = str(body["email"] or "")
        if "phone" in body:
            row = next((r for r in self.tables["F0115"] if r["AN8"] == number and r["IDLN"] == 1 and r["PHTP"] == ""), None)
            if row is None:
                taken = [r["RCK7"] for r in self.tables["F0115"] if r["AN8"] == number and r["IDLN"] == 1]
                row = {"AN8": number, "IDLN": 1, "RCK7": max(taken, default=0) + 1, "PHTP": ""}
                self.tables["F0115"].append(row)
            row["AR1"], row["PH1"] = "", str(body["phone"] or "")[:20]
