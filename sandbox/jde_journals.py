"""JD Edwards fake: the journal orchestration's contract (F0911Z1 batches), see ``sandbox/jde.py``."""

from .jde_errors import Rejected, truthy
from .table_index import TableIndex


class JournalMixin:
    """Idempotency by BatchReference, validation and the F0911Z1 write."""

    def _journal(self, inputs, session):
        """``(batch, document, existing, message)``: the journal already written for the
        reference (idempotent orchestration), else the one written now."""
        reference = self._reference(inputs)
        found = self._existing_journal(reference) if self._on("journal_idempotent", True) else None
        if found is not None:
            return found["batch"], found["document"], True, (
                f"Journal {reference} already exists as batch {found['batch']}, document {found['document_type']} "
                f"{found['document']} ({found['where']}); nothing was written")
        batch, document, lines = self._add_journal(inputs, reference, session)
        if self._on("auto_process", False):
            self._process(batch=batch)
        return batch, document, False, f"Batch {batch} with {lines} lines added to F0911Z1"

    def _on(self, name, default):
        """A boolean setting; JSON true/false or their text forms."""
        value = self.settings.get(name)
        return default if value is None else truthy(value)

    @staticmethod
    def _reference(inputs):
        reference = str(inputs.get("BatchReference") or "").strip()
        if not reference:
            raise Rejected("BatchReference is required")
        if len(reference) > 22:
            raise Rejected(f"BatchReference {reference} is longer than 22 characters (VNEDTN)")
        return reference

    def _existing_journal(self, reference):
        """The first journal already written for ``reference``: in F0911Z1 by VNEDTN (whatever
        VNEDSP says), else in F0911 by GLEXR (the Z rows may have been purged), else None.
        Voucher G/L lines (VNEDTR "V", batch type "V") belong to vouchers, not journals."""
        row = self._index("F0911Z1", "EDTN", lambda r: r["EDTR"] == "J").get(reference)
        if row is not None:
            return {"batch": row["EDBT"], "document": row["DOC"], "document_type": row["DCT"], "where": "F0911Z1"}
        row = self._index("F0911", "EXR", lambda r: r["ICUT"] == "G").get(reference)
        if row is not None:
            return {"batch": str(row["ICU"]), "document": row["DOC"], "document_type": row["DCT"], "where": "F0911"}
        return None

    def _index(self, table, column, where):
        """{``column`` value: first row of ``table`` where ``where`` holds}, kept as rows are appended."""
        indexes = self.__dict__.setdefault("_table_indexes", {})
        index = indexes.get((table, column))
        if index is None:
            index = indexes[(table, column)] = TableIndex(column, where)
        return index.first(self.tables[table])

    def _add_journal(self, inputs, reference, session):
        header = self._batch_header(inputs, session, "JE")
        gl_date = header["gl_date"]
        prepared, total = self._distribution(inputs.get("Lines"), header, str(inputs.get("Explanation") or ""),
                                             f"Journal {reference}")
        if total != 0:
            raise Rejected(f"Journal {reference} is out of balance by {total} {header['currency']}")
        batch, document = self._next_numbers()
        self._write_gl_lines(prepared, header, batch, document, reference, gl_date, "J")
        return batch, document, len(prepared)
