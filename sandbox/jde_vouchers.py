"""JD Edwards fake: the AP voucher orchestration ``MLC_AddVoucherBatch`` (the name is
``voucher_orchestration``), its simulated batch processor and purge.

Like ``MLC_AddJournalBatch`` this is the sandbox's design of a customer-built
orchestration (the contract ml-connector gives customers to import into Orchestrator
Studio), writing what JD Edwards' voucher batch processor (R04110Z; exact program name
UNCONFIRMED) reads: F0411Z1 pay items plus their G/L distribution in F0911Z1 with matching
EDUS/EDBT/EDTN/CO/DGJ and VNEDTR "V" (shared/reference/jde.md, "F0411Z1"). Input::

    {"VoucherReference": "PRC-BILL-77",  # required, <= 22: VLEDTN and VNEDTN, VLRMK and every VNEXR
     "Supplier": 4012,                   # required: VLAN8 (and payee VLPYE); must be in F0401
     "InvoiceNumber": "B-1001",          # optional, <= 25: VLVINV
     "InvoiceDate": "2026-11-18",        # optional (default GLDate): VLDIVJ
     "DueDate": "2026-12-18",            # optional (default InvoiceDate): VLDDJ of pay items without their own
     "GLDate", "Currency", "Company", "User", "Explanation"   # as the journal orchestration
     "DocumentType": "PV",               # optional (default PV): VLDCT and VNDCT
     "PayItems": [{"Amount": "100.00", "DueDate": "...", "Remark": "..."}],   # VLAG (= VLAAP), VLSFX 001, 002...
     "Lines": [{"Account": "200.6200.CC10", "Amount": "100.00", "Explanation": "..."}]}  # F0911Z1, debit +

Output as the journal one (``BatchNumber``, ``DocumentNumber``, ``Existing``, ``jde__*``).
Refusals (HTTP 500 ServiceErrorResponse naming every problem, nothing written): what the
journal refuses (accounts not in F0901 or not postable, decimals, currency, dates...), a
supplier not in F0401, no pay items, and a G/L distribution whose total differs from the
gross of the pay items (the processor books the A/P trade offset itself from the AAIs, so
the distribution must equal the gross; sandbox rule, UNCONFIRMED).

Idempotency (``voucher_idempotent``, default true, as ``journal_idempotent``): a voucher
with the same reference in F0411Z1 (VLEDTN, any VLEDSP) or, after a purge, in F0411 (RPRMK)
is answered with its batch and document and ``"Existing": true``, nothing written.

Processing (``POST /_sandbox/jde/process``, or ``auto_process``): each unprocessed F0411Z1
transaction becomes one F0411 row per pay item (batch type ICUT "V", pay status PST "A")
and its F0911Z1 "V" lines F0911 rows; all its Z rows get EDSP "1". Oracle: a transaction
already in F0411 is an error; here a document (KCO, DCT, DOC) already in F0411 stays "0" and
is reported. Purge deletes processed F0411Z1 rows and their processed G/L lines.
"""

from decimal import Decimal

from .http import json_response
from .jde_batch_input import amount_problem, parse_amount, parse_input_date
from .jde_data import to_julian as _julian
from .jde_errors import Rejected

# Columns a pay item carries from F0411Z1 into F0411 (the voucher's own columns, jde_schema_ap).
LEDGER_COLUMNS = ("KCO", "DCT", "DOC", "SFX", "AN8", "PYE", "DIVJ", "DDJ", "DGJ", "CO", "AG", "AAP", "CRCD", "VINV",
                  "RMK", "PST")


class VoucherMixin:
    """The voucher orchestration and R04110Z in miniature over F0411Z1/F0911Z1 -> F0411/F0911."""

    def _voucher(self, inputs, session):
        reference = str(inputs.get("VoucherReference") or "").strip()
        if not reference:
            raise Rejected("VoucherReference is required")
        if len(reference) > 22:
            raise Rejected(f"VoucherReference {reference} is longer than 22 characters (VLEDTN)")
        found = self._existing_voucher(reference) if self._on("voucher_idempotent", True) else None
        if found is not None:
            return found["batch"], found["document"], True, (
                f"Voucher {reference} already exists as batch {found['batch']}, document {found['document_type']} "
                f"{found['document']} ({found['where']}); nothing was written")
        batch, document, items = self._add_voucher(inputs, reference, session)
        if self._on("auto_process", False):
            self._process_vouchers(batch=batch)
        return batch, document, False, f"Batch {batch} with {items} pay items added to F0411Z1"

    def _existing_voucher(self, reference):
        row = self._index("F0411Z1", "EDTN", lambda r: True).get(reference)
        if row is not None:
            return {"batch": row["EDBT"], "document": row["DOC"], "document_type": row["DCT"], "where": "F0411Z1"}
        row = self._index("F0411", "RMK", lambda r: True).get(reference)
        if row is not None:
            return {"batch": str(row["ICU"]), "document": row["DOC"], "document_type": row["DCT"], "where": "F0411"}
        return None

    def _add_voucher(self, inputs, reference, session):
        header = self._batch_header(inputs, session, "PV")
        supplier = str(inputs.get("Supplier") or "").strip()
        if not any(str(r["AN8"]) == supplier for r in self.tables["F0401"]):
            raise Rejected(f"Supplier {supplier or '(none)'} is not in F0401 (supplier master)")
        invoice = str(inputs.get("InvoiceNumber") or "").strip()
        if len(invoice) > 25:
            raise Rejected(f"InvoiceNumber {invoice} is longer than 25 characters (VLVINV)")
        invoice_date = parse_input_date(inputs["InvoiceDate"], "InvoiceDate") if inputs.get("InvoiceDate") \
            else header["gl_date"]
        due = parse_input_date(inputs["DueDate"], "DueDate") if inputs.get("DueDate") else invoice_date
        items, gross = self._pay_items(inputs.get("PayItems"), header, due, f"Voucher {reference}")
        prepared, total = self._distribution(inputs.get("Lines"), header, str(inputs.get("Explanation") or ""),
                                             f"Voucher {reference}")
        if total != gross:
            raise Rejected(f"Voucher {reference}: the G/L distribution ({total}) does not equal the gross amount "
                           f"of its pay items ({gross}) {header['currency']}")
        batch, document = self._next_numbers()
        upmj, upmt = self._stamp_now()
        quantum = Decimal(1).scaleb(-header["exponent"])
        # VLRMK carries the reference (it survives into F0411 for reconcile), so a pay item's Remark is not stored.
        for number, (amount, due_date) in enumerate(items, start=1):
            self.tables["F0411Z1"].append({
                "EDUS": header["user"], "EDBT": batch, "EDTN": reference, "EDLN": number, "EDSP": "0", "EDTC": "A",
                "EDTR": "V", "KCO": header["company"], "DCT": header["doc_type"], "DOC": document, "SFX": f"{number:03d}",
                "AN8": int(supplier), "PYE": int(supplier), "DIVJ": _julian(invoice_date), "DDJ": _julian(due_date),
                "DGJ": _julian(header["gl_date"]), "CO": header["company"], "AG": amount.quantize(quantum),
                "AAP": amount.quantize(quantum), "CRCD": header["currency"], "VINV": invoice, "RMK": reference,
                "PST": "A", "UPMJ": upmj, "UPMT": upmt})
        self._write_gl_lines(prepared, header, batch, document, reference, header["gl_date"], "V")
        return batch, document, len(items)

    def _pay_items(self, items, header, due, what):
        if not isinstance(items, list) or not items:
            raise Rejected(f"{what} has no pay items")
        out, problems, gross = [], [], Decimal(0)
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                problems.append(f"Pay item {index} is not an object")
                continue
            try:
                amount = parse_amount(item.get("Amount"))
            except ValueError as exc:
                problems.append(f"Pay item {index}: {exc}")
                continue
            problem = amount_problem(item.get("Amount"), amount, header["currency"], header["exponent"])
            if problem:
                problems.append(f"Pay item {index}: {problem}")
                continue
            due_date = parse_input_date(item["DueDate"], "DueDate") if item.get("DueDate") else due
            gross += amount
            out.append((amount, due_date))
        if problems:
            raise Rejected("; ".join(problems))
        return out, gross

    # -- processor and purge ----------------------------------------------------------------------------
    def _voucher_transactions(self, state, reference=None, batch=None):
        groups = {}
        for row in self.tables["F0411Z1"]:
            if row["EDSP"] == state and reference in (None, row["EDTN"]) and batch in (None, row["EDBT"]):
                groups.setdefault((row["EDUS"], row["EDBT"], row["EDTN"]), []).append(row)
        return groups

    def _voucher_gl_rows(self, key, state):
        return [r for r in self.tables["F0911Z1"]
                if r["EDTR"] == "V" and r["EDSP"] == state and (r["EDUS"], r["EDBT"], r["EDTN"]) == key]

    def _process_vouchers(self, reference=None, batch=None):
        ledger = self.tables["F0411"]
        documents = {(r["KCO"], r["DCT"], r["DOC"]) for r in ledger}
        upmj, upmt = self._stamp_now()
        done, errors, items, lines = [], [], 0, 0
        for key, rows in self._voucher_transactions("0", reference, batch).items():
            first = rows[0]
            document = (first["KCO"], first["DCT"], first["DOC"])
            summary = {"kind": "voucher", "user": key[0], "batch": key[1], "reference": key[2], "company": document[0],
                       "document_type": document[1], "document": document[2]}
            if document in documents:
                errors.append({**summary, "message": f"Voucher {document[1]} {document[2]} of company {document[0]} "
                                                     "already exists in F0411: duplicate, not processed"})
                continue
            gl_rows = self._voucher_gl_rows(key, "0")
            for row in rows:
                ledger.append({**{k: row[k] for k in LEDGER_COLUMNS}, "ICU": int(row["EDBT"]), "ICUT": "V",
                               "UPMJ": upmj, "UPMT": upmt})
                row["EDSP"] = "1"
            for row in gl_rows:
                self.tables["F0911"].append(self._ledger_row(row, upmj, upmt, batch_type="V"))
                row["EDSP"] = "1"
            documents.add(document)
            done.append({**summary, "pay_items": len(rows), "lines": len(gl_rows)})
            items += len(rows)
            lines += len(gl_rows)
        return {"vouchers": len(done), "pay_items": items, "lines": lines, "processed": done, "errors": errors}

    def _purge_vouchers(self, reference=None, batch=None):
        transactions = self._voucher_transactions("1", reference, batch)
        doomed = {id(r) for key, rows in transactions.items() for r in (*rows, *self._voucher_gl_rows(key, "1"))}
        items = sum(len(rows) for rows in transactions.values())
        for table in ("F0411Z1", "F0911Z1"):
            self.tables[table] = [r for r in self.tables[table] if id(r) not in doomed]
        return {"vouchers": len(transactions), "pay_items": items, "lines": len(doomed) - items}

    # -- control ------------------------------------------------------------------------------------------
    def _voucher_control(self, req, parts):
        head = parts[0].upper()
        if req.method != "GET" or head not in ("F0411Z1", "F0411"):
            return None
        reference, batch, document = req.arg("reference"), req.arg("batch"), req.arg("document")
        if head == "F0411Z1":
            rows = [r for r in self.tables[head] if reference in (None, r["EDTN"]) and batch in (None, r["EDBT"])]
        else:
            rows = [r for r in self.tables[head] if reference in (None, r["RMK"]) and batch in (None, str(r["ICU"]))
                    and document in (None, str(r["DOC"]))]
        return json_response([self._view(head, r) for r in rows])
