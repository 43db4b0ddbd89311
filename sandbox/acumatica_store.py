"""Reads and upserts of the Acumatica fake's records, with Acumatica's per-field errors.

Facts (shared/reference/acumatica.md, "Reads" and "Writes"): a list is a JSON array paged
with ``$top``/``$skip`` (no next link); ``$expand`` must name every detail or linked entity
wanted; ``$select`` limits the fields. PUT is an upsert: the record is found by ``id`` or its
key fields; ``If-None-Match: *`` creates only and ``If-Match: *`` updates only (412 otherwise);
a refused record comes back 422 with each bad field carrying ``"error"`` and a generic
top-level ``"error"``. A detail line sent with ``"delete": true`` is removed.
Choices (UNCONFIRMED): amounts with more decimals than the currency has are refused (422)
rather than rounded; a journal that is not on hold must balance; a bill's Amount is the sum
of its lines; documents are numbered ``000001``... per type.
"""

import copy
import datetime as dt

from . import catalog
from .acumatica_odata import FilterError, compile_filter, equality_terms
from .acumatica_schema import ENTITIES, stamp, unwrap_fields
from .http import BadRequest, HttpError
from .table_index import TableIndex

GENERIC_ERROR = (
    "PX.Data.PXException: Error: Inserting or updating the record raised at least one error. Please review the errors."
)


class Rejected(Exception):
    """422: ``errors`` is {field: message} for the header, ``line_errors`` {line index: {field: message}}."""

    def __init__(self, errors=None, line_errors=None):
        super().__init__("rejected")
        self.errors = errors or {}
        self.line_errors = line_errors or {}


class Store:
    def __init__(self, fake, world):
        self.fake = fake
        self.world = world
        self.numbers = {}
        self.indexes = {}  # (entity, field) -> TableIndex of the field's case-folded value
        self.changes = 0  # bumped by every update in place: a record's indexed field may have changed

    @property
    def records(self):
        return self.world.records

    # -- reads ----------------------------------------------------------------------------------
    def resolver(self, entity):
        spec = ENTITIES[entity]

        def resolve(path):
            head, _, field = path.partition("/")
            if not field:
                if head not in spec["fields"]:
                    raise FilterError(f"$filter: {entity} has no field {head}")
                return lambda r: r.get(head)
            if head in spec["details"]:
                raise FilterError(f"$filter on the detail entity {head} is not supported")
            if head not in spec["linked"] or field not in spec["linked"][head]:
                raise FilterError(f"$filter: {entity} has no field {path}")
            return lambda r: (r.get(head) or {}).get(field)

        return resolve

    def candidates(self, entity, filter_text):
        """The rows an ``or`` of equalities on one field can match, from an index of that field (a case-insensitive
        match, as ``_compare`` does), else every row: a group's search does not scan the table once a reference."""
        terms = equality_terms(filter_text)
        if terms is None or terms[0] not in ENTITIES[entity]["fields"]:
            return self.records[entity]
        field, values = terms
        index = self.indexes.setdefault((entity, field), TableIndex(lambda row, f=field: _folded(row.get(f))))
        return index.rows_with(self.records[entity], [_folded(v) for v in values] + [NOT_TEXT], self.changes)

    def select(self, entity, *, filter_text="", top=None, skip=0):
        try:
            predicate = compile_filter(filter_text, self.resolver(entity))
            rows = [r for r in self.candidates(entity, filter_text) if predicate(r)]
        except FilterError as exc:
            raise BadRequest(str(exc), body={"message": "The request is invalid.", "exceptionMessage": str(exc)}) from None
        rows = rows[skip:]
        return rows if top is None else rows[:top]

    def by_keys(self, entity, values):
        keys = ENTITIES[entity]["keys"]
        if len(values) > len(keys):
            return None
        if len(values) < len(keys) and entity in ("Bill", "JournalTransaction"):
            values = [("Bill" if entity == "Bill" else "GL"), *values]  # the type/module may be left out
        wanted = dict(zip(keys, values, strict=False))
        names = tuple(wanted)
        # Every write checks its vendor, accounts and subaccounts by key: an index, not a scan of the table per call
        # (the Acumatica bench at 10,000 reports spent a quarter of the sandbox's time scanning vendors).
        index = self.indexes.setdefault((entity, names), TableIndex(
            lambda row, names=names: tuple(str(row.get(k, "")).lower() for k in names)))
        return index.first(self.records[entity], self.changes).get(tuple(str(v).lower() for v in wanted.values()))

    # -- writes ---------------------------------------------------------------------------------
    def put(self, entity, body, *, if_match=False, if_none_match=False):
        """-> (record, created); raises HttpError(412), Rejected, or Unwrapped."""
        spec = ENTITIES[entity]
        fields = unwrap_fields(spec["fields"], body, "")
        children = {}
        for name, child_spec in {**spec["details"], **spec["linked"]}.items():
            if name not in body:
                continue
            value = body[name]
            if name in spec["details"]:
                if not isinstance(value, list):
                    raise BadRequest(f"{name} must be an array of records")
                children[name] = [(line, unwrap_fields(child_spec, line, f"{name}[{i}].")) for i, line in enumerate(value)]
            elif isinstance(value, dict):
                children[name] = unwrap_fields(child_spec, value, f"{name}.")
        existing = self._existing(entity, body, fields)
        if existing is not None and if_none_match:
            raise HttpError("the record already exists", 412, {"message": "The record already exists."})
        if existing is None and if_match:
            raise HttpError("the record does not exist", 412, {"message": "The record does not exist."})
        record = copy.deepcopy(existing) if existing is not None else {"id": self.world.new_id()}
        for name in spec["read_only"]:
            fields.pop(name, None)
        record.update(fields)
        for name, value in children.items():
            if name in spec["details"]:
                record[name] = _merge_lines(record.get(name) or [], value, self.world)
            else:
                record[name] = {**(record.get(name) or {}), **value}
        self._complete(entity, record, existing is None)
        self._validate(entity, record)
        record["LastModifiedDateTime"] = stamp(self.fake.sandbox.clock())
        if existing is None:
            self.records[entity].append(record)
        else:
            existing.clear()
            existing.update(record)
            record = existing
            self.changes += 1
        return record, existing is None

    def _existing(self, entity, body, fields):
        record_id = body.get("id")
        if record_id:
            return next((r for r in self.records[entity] if r["id"] == record_id), None)
        keys = ENTITIES[entity]["keys"]
        if all(fields.get(k) not in (None, "") for k in keys):
            return self.by_keys(entity, [fields[k] for k in keys])
        return None  # numbered by the system: a record without its number is a new one

    def _next_number(self, kind):
        self.numbers[kind] = self.numbers.get(kind, 0) + 1
        return f"{self.numbers[kind]:06d}"

    def _complete(self, entity, record, new):
        today = dt.datetime.fromtimestamp(self.fake.sandbox.clock(), dt.UTC).date().isoformat()
        if entity == "Bill":
            record.setdefault("Type", "Bill")
            if new:
                record["ReferenceNbr"] = self._next_number(f"Bill:{record['Type']}")
            record["Date"] = record.get("Date") or today
            record["Amount"] = sum((ln.get("Amount") or 0 for ln in record.get("Details") or []), 0)
            record["Balance"] = record["Amount"]
            record["Status"] = "On Hold" if record.get("Hold") else "Balanced"
            record["PostPeriod"] = record.get("PostPeriod") or _period(record["Date"])
        elif entity == "JournalTransaction":
            record.setdefault("Module", "GL")
            if new:
                record["BatchNbr"] = self._next_number(f"GL:{record['Module']}")
                record["CreatedDateTime"] = stamp(self.fake.sandbox.clock())
            record["TransactionDate"] = record.get("TransactionDate") or today
            lines = record.get("Details") or []
            record["DebitTotal"] = sum((ln.get("DebitAmount") or 0 for ln in lines), 0)
            record["CreditTotal"] = sum((ln.get("CreditAmount") or 0 for ln in lines), 0)
            record["Status"] = "Hold" if record.get("Hold") else "Balanced"
            record["PostPeriod"] = record.get("PostPeriod") or _period(record["TransactionDate"])
            record.setdefault("LedgerID", "ACTUAL")

    # -- validation -------------------------------------------------------------------------------
    def _validate(self, entity, record):
        errors, line_errors = {}, {}
        if entity in ("Bill", "JournalTransaction"):
            currency = record.get("CurrencyID") or "USD"
            record["CurrencyID"] = currency
            exponent = catalog.CURRENCY_EXPONENTS.get(str(currency).upper())
            if exponent is None:
                errors["CurrencyID"] = f"'Currency' cannot be found in the system: {currency}."
            for index, line in enumerate(record.get("Details") or []):
                problems = self._line_problems(entity, line, exponent)
                if problems:
                    line_errors[index] = problems
            if not record.get("Details"):
                errors.setdefault("Details", "The document has no lines.")
        if entity == "Bill":
            vendor = self.by_keys("Vendor", [record.get("Vendor") or ""]) if record.get("Vendor") else None
            if vendor is None:
                errors["Vendor"] = "'Vendor' cannot be found in the system."
            elif vendor.get("Status") != "Active":
                errors["Vendor"] = f"The vendor {vendor['VendorID']} is {vendor.get('Status')}."
        if entity == "JournalTransaction" and not record.get("Hold") and record["DebitTotal"] != record["CreditTotal"]:
            errors["DebitTotal"] = "Batch is out of balance, please review."
        if errors or line_errors:
            raise Rejected(errors, line_errors)

    def _line_problems(self, entity, line, exponent):
        problems = {}
        account = self.by_keys("Account", [line.get("Account") or ""]) if line.get("Account") else None
        if account is None:
            problems["Account"] = "'Account' cannot be found in the system."
        elif not account.get("Active"):
            problems["Account"] = f"Account '{account['AccountCD']}' is inactive."
        sub = line.get("Subaccount")
        if sub:
            found = self.by_keys("Subaccount", [sub])
            if found is None:
                problems["Subaccount"] = "'Subaccount' cannot be found in the system."
            elif not found.get("Active"):
                problems["Subaccount"] = f"Subaccount '{sub}' is inactive."
        amounts = ("Amount",) if entity == "Bill" else ("DebitAmount", "CreditAmount")
        for name in amounts:
            value = line.get(name)
            if value is not None and exponent is not None and -value.as_tuple().exponent > exponent:
                problems[name] = f"The value {value} has more decimal places than the currency allows ({exponent})."
            if value is not None and value < 0:
                problems[name] = "The value must not be negative."
        return problems


def _merge_lines(current, sent, world):
    lines = [dict(line) for line in current]
    for raw, fields in sent:
        line_id = raw.get("id")
        target = next((ln for ln in lines if line_id and ln.get("id") == line_id), None)
        if raw.get("delete") is True:
            if target is not None:
                lines.remove(target)
            continue
        if target is None:
            lines.append({"id": world.new_id(), **fields})
        else:
            target.update(fields)
    return lines


NOT_TEXT = object()  # the key of every value that is not a string (a date may equal a string literal): always a candidate


def _folded(value):
    return value.lower() if isinstance(value, str) else NOT_TEXT


def _period(day):
    day = str(day)[:10]
    return f"{day[5:7]}{day[:4]}"
