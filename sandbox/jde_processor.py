"""JD Edwards fake: the simulated batch processor (R09110Z) and the purge of processed Z rows."""

from . import jde_data as data


class ProcessorMixin:
    """F0911Z1 transactions into F0911; purge of VNEDSP "1" rows."""

    def _z_transactions(self, state, reference=None, batch=None):
        """F0911Z1 journal rows (VNEDTR "J") with VNEDSP ``state``, grouped per transaction (EDUS, EDBT,
        EDTN) in table order. Voucher G/L lines (VNEDTR "V") are processed and purged with their voucher."""
        groups = {}
        for row in self.tables["F0911Z1"]:
            if (row["EDSP"] != state or row["EDTR"] != "J" or reference not in (None, row["EDTN"])
                    or batch not in (None, row["EDBT"])):
                continue
            groups.setdefault((row["EDUS"], row["EDBT"], row["EDTN"]), []).append(row)
        return groups

    def _process(self, reference=None, batch=None):
        """R09110Z in miniature: each unprocessed transaction becomes F0911 rows and its Z rows VNEDSP "1".

        A transaction whose document (KCO, DCT, DOC) is already in F0911 is a duplicate under
        the VNDOC rule: it is not processed and its rows keep VNEDSP "0", as on error."""
        ledger = self.tables["F0911"]
        documents = {(r["KCO"], r["DCT"], r["DOC"]) for r in ledger}
        now = self.now()
        upmj, upmt = data.to_julian(now.date()), now.hour * 10000 + now.minute * 100 + now.second
        journals, errors, lines = [], [], 0
        for (user, batch_number, ref), rows in self._z_transactions("0", reference, batch).items():
            first = rows[0]
            document = (first.get("KCO") or first["CO"], first["DCT"], first["DOC"])
            summary = {"user": user, "batch": batch_number, "reference": ref, "company": document[0],
                       "document_type": document[1], "document": document[2]}
            if document in documents:
                errors.append({**summary, "message": f"Document {document[1]} {document[2]} of company {document[0]} "
                                                     "already exists in F0911: duplicate, not processed"})
                continue
            for row in rows:
                ledger.append(self._ledger_row(row, upmj, upmt))
                row["EDSP"] = "1"
            documents.add(document)
            journals.append({**summary, "lines": len(rows)})
            lines += len(rows)
        return {"journals": len(journals), "lines": lines, "processed": journals, "errors": errors}

    @staticmethod
    def _ledger_row(row, upmj, upmt, batch_type="G"):
        """The F0911 line for one F0911Z1 row: document, account, amount and both explanations
        carried over; batch number = VNEDBT (type G for journals, V for vouchers); unposted (POST blank)."""
        batch = str(row["EDBT"]).strip()
        return {"KCO": row.get("KCO") or row["CO"], "DCT": row["DCT"], "DOC": row["DOC"], "DGJ": row["DGJ"],
                "JELN": row["EDLN"], "LT": row["LT"], "AID": row["AID"], "MCU": row["MCU"], "OBJ": row["OBJ"],
                "SUB": row["SUB"], "ANI": row["ANI"], "AA": row["AA"], "CRCD": row["CRCD"], "EXA": row["EXA"],
                "EXR": row["EXR"], "CO": row["CO"], "ICU": int(batch) if batch.isdigit() else 0, "ICUT": batch_type,
                "POST": "", "UPMJ": upmj, "UPMT": upmt}

    def _purge(self, reference=None, batch=None):
        """Delete processed (VNEDSP "1") F0911Z1 rows, as a site's purge job does; F0911 keeps the journal."""
        transactions = self._z_transactions("1", reference, batch)
        doomed = {id(r) for rows in transactions.values() for r in rows}
        self.tables["F0911Z1"] = [r for r in self.tables["F0911Z1"] if id(r) not in doomed]
        return {"journals": len(transactions), "lines": len(doomed)}

    def _process_all(self, reference=None, batch=None):
        """``process`` control: journals, then vouchers (their keys only when a voucher batch was in scope)."""
        answer = self._process(reference, batch)
        if self._voucher_transactions("0", reference, batch):
            answer["vouchers"] = self._process_vouchers(reference, batch)
        return answer

    def _purge_all(self, reference=None, batch=None):
        answer = self._purge(reference, batch)
        if self._voucher_transactions("1", reference, batch):
            answer["vouchers"] = self._purge_vouchers(reference, batch)
        return answer
