"""JD Edwards fake: its ``/_sandbox/jde/...`` control endpoints (see ``sandbox/jde.py``)."""

from decimal import Decimal

from . import catalog
from . import jde_data as data
from .http import BadRequest, NotFoundError, json_response


class ControlMixin:
    """Views of the tables and the test levers (process, purge, accounts, restart)."""

    def _view(self, table_name, row):
        table = data.TABLES[table_name]
        prefix = table["prefix"]
        out = {}
        for alias, (kind, _) in table["columns"].items():
            value = row.get(alias)
            if kind == "amount":
                value = str(value)
            elif kind == "mcu":
                value = data.pad_mcu(value)
            out[f"{prefix}{alias}"] = value
        return out

    def control(self, req, subpath):
        parts = [p for p in subpath.split("/") if p]
        head = parts[0] if parts else ""
        method = req.method
        if head.upper() == "F0911Z1" and method == "GET":
            reference, batch = req.arg("reference"), req.arg("batch")
            rows = [r for r in self.tables["F0911Z1"]
                    if (reference is None or r["EDTN"] == reference) and (batch is None or r["EDBT"] == batch)]
            return json_response([self._view("F0911Z1", r) for r in rows])
        if head.upper() == "F0911" and method == "GET":
            return json_response(self._ledger_view(req))
        if head == "process" and method == "POST":
            return json_response(self._process_all(**self._selection(req)))
        if head == "purge" and method == "POST":
            return json_response(self._purge_all(**self._selection(req)))
        if head == "batches" and method == "GET":
            return json_response(self._batches())
        if head == "accounts" and method == "GET":
            return json_response([self._view("F0901", r) for r in self.tables["F0901"]])
        if head == "accounts" and method == "POST":
            return json_response(self._control_account(req.json()))
        if head == "suppliers" and method == "GET":
            return json_response(self._suppliers_view())
        if head == "tokens" and method == "GET":
            return json_response({"live": self.live_tokens(), "result_sets": len(self.result_sets)})
        if head == "restart" and method == "POST":
            self.restart()
            return json_response({"live": 0})
        answer = self._purchasing_control(req, parts) if parts else None
        if answer is None:
            answer = self._voucher_control(req, parts) if parts else None
        if answer is None:
            answer = self._invoice_control(req, parts) if parts else None
        if answer is not None:
            return answer
        raise NotFoundError(f"no jde control endpoint {method} {subpath}")

    def _suppliers_view(self):
        """Each F0401 supplier with its F0101 row, the AP contact's name and e-mail, and its F0115 phone rows."""
        names = {r["AN8"]: r for r in self.tables["F0101"]}
        emails = {r["AN8"]: r["EMAL"] for r in self.tables["F01151"] if r["IDLN"] == 1}
        contacts = {r["AN8"]: r["MLNM"] for r in self.tables["F0111"] if r["IDLN"] == 1}
        phones = {}
        for row in self.tables["F0115"]:
            if row["IDLN"] == 1:
                phones.setdefault(row["AN8"], []).append(self._view("F0115", row))
        return [{**self._view("F0401", r), **self._view("F0101", names.get(r["AN8"], {})), "email": emails.get(r["AN8"], ""),
                 "contact": contacts.get(r["AN8"], ""), "phones": phones.get(r["AN8"], [])} for r in self.tables["F0401"]]

    def _batches(self):
        groups = {}
        for row in self.tables["F0911Z1"]:
            key = (row["EDUS"], row["EDBT"])
            group = groups.setdefault(key, {"user": row["EDUS"], "batch": row["EDBT"], "reference": row["EDTN"],
                                            "document_type": row["DCT"], "document": row["DOC"], "company": row["CO"],
                                            "gl_date": data.from_julian(row["DGJ"]).isoformat(),
                                            "currency": row["CRCD"], "lines": 0, "net": Decimal(0), "processed": True})
            group["lines"] += 1
            group["net"] += row["AA"]
            group["processed"] = group["processed"] and row["EDSP"] == "1"
        return [{**g, "net": str(g["net"])} for g in groups.values()]

    def _ledger_view(self, req):
        reference, batch, document = req.arg("reference"), req.arg("batch"), req.arg("document")
        rows = [r for r in self.tables["F0911"]
                if (reference is None or r["EXR"] == reference) and (batch is None or str(r["ICU"]) == batch)
                and (document is None or str(r["DOC"]) == document)]
        return [self._view("F0911", r) for r in rows]

    @staticmethod
    def _selection(req):
        """``{"reference": ..., "batch": ...}`` from a JSON body (both optional; none = every row)."""
        body = req.json() if req.body else {}
        if not isinstance(body, dict) or set(body) - {"reference", "batch"}:
            raise BadRequest('expected {"reference": "EXP-1"} and/or {"batch": "10001"}, or no body for every row')
        return {k: str(v) for k, v in body.items() if v not in (None, "")}

    def _control_account(self, body):
        if not isinstance(body, dict):
            raise BadRequest('expected {"account": "BU.OBJ[.SUB]" or "AID": ..., plus fields such as "PEC"}')
        row = None
        if body.get("AID"):
            row = next((r for r in self.tables["F0901"] if r["AID"] == str(body["AID"]).zfill(8)), None)
            if row is None:
                raise NotFoundError(f"no F0901 row with AID {body['AID']}")
        else:
            parts = str(body.get("account") or "").split(".")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise BadRequest('"account" must look like BU.OBJ or BU.OBJ.SUB')
            bu, obj, sub = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
            row = self._find_account(bu, obj, sub)
            if row is None:
                row = {"AID": f"{self._next_aid:08d}", "CO": catalog.COMPANY, "MCU": data.pad_mcu(bu), "OBJ": obj,
                       "SUB": sub, "DL01": f"Account {data.account_key(bu, obj, sub)}"[:30], "LDA": "6", "PEC": "",
                       "CRCD": "", "UPMJ": 0, "UPMT": 0}
                self._next_aid += 1
                self.tables["F0901"].append(row)
        for field in ("PEC", "DL01", "LDA", "CO", "CRCD"):
            if field in body:
                row[field] = str(body[field] or "").strip()
        now = self.now()
        row["UPMJ"] = data.to_julian(now.date())
        row["UPMT"] = now.hour * 10000 + now.minute * 100 + now.second
        return self._view("F0901", row)
