"""JD Edwards fake: the supplier orchestration ``MLC_UpsertSupplier`` (the name is
``supplier_orchestration``), how Procurify vendors reach the supplier master.

The data service is read-only and direct F-table writes are not supported (shared/reference/
jde.md, "Writes"). JD Edwards maintains suppliers through the Supplier Master MBF (N0100043,
behind P04012 and the SupplierManager business service's processSupplier, which adds or
changes F0401, F0101, F0111, F01151 and F0115 rows: Oracle, "Supplier Master Data", eoaaa). As with the
journal and voucher orchestrations, this is the sandbox's design of a customer-built
orchestration wrapping that function (the contract ml-connector gives customers), not an
Oracle artifact. Input::

    {"SupplierReference": "PRC-V-12",  # required to add, <= 20: F0101 ALKY (long address number);
                                       # an add whose reference is already on a supplier adds nothing
     "AddressNumber": 4012,            # change this supplier (F0401 AN8); omit to add one
     "Name": "Acme Supplies",          # F0101 ALPH (40) and Who's Who line 0
     "Status": "active",               # "active" | "inactive": F0101 AT1 V | inactive_supplier_search_type
     "Email": "ap@acme.example",       # F01151 line 1 (the AP contact's e-mail)
     "Contact": "Jordan Miles",        # optional: F0111 line 1
     "Phone": "+1 604 555 0142"}       # optional, <= 20: F0115 line 1, the business phone (PH1, AR1 blank)

Output ``{"AddressNumber": n, "Existing": bool, "jde__status": "SUCCESS", ...}``; ``Existing`` is
true when an add found its reference already on supplier ``n`` (nothing written: the answer a
retried add gets after its first answer was lost). Every row written is stamped with the fake's
date and time (UPMJ/UPMT), as the MBF does. Refusals (HTTP 500 ServiceErrorResponse, nothing
written): an unknown AddressNumber, an add without Name or SupplierReference, a reference or
name or phone too long, a Status other than active/inactive. An empty Email, Contact or Phone clears it.
"""

from .jde_errors import Rejected

REFERENCE_LENGTH = 20  # F0101 ALKY
NAME_LENGTH = 40  # F0101 ALPH
PHONE_LENGTH = 20  # F0115 PH1
CLEARABLE = (("Email", "email"), ("Contact", "contact"), ("Phone", "phone"))  # input -> purchasing-control field


class SupplierWriteMixin:
    """The supplier orchestration over F0101/F0401/F0111/F01151/F0115 (the changes themselves are the
    purchasing control's ``_change_supplier``: one code path for both)."""

    def _supplier(self, inputs, session):
        reference = str(inputs.get("SupplierReference") or "").strip()
        if len(reference) > REFERENCE_LENGTH:
            raise Rejected(f"SupplierReference {reference} is longer than {REFERENCE_LENGTH} characters (ALKY)")
        name = str(inputs.get("Name") or "").strip()
        if len(name) > NAME_LENGTH:
            raise Rejected(f"Name {name} is longer than {NAME_LENGTH} characters (ALPH)")
        status = str(inputs.get("Status") or "").strip().lower()
        if status not in ("", "active", "inactive"):
            raise Rejected(f"Status {status} is not active or inactive")
        if len(str(inputs.get("Phone") or "")) > PHONE_LENGTH:
            raise Rejected(f"Phone {inputs['Phone']} is longer than {PHONE_LENGTH} characters (PH1)")
        number = inputs.get("AddressNumber")
        body = {k: v for k, v in (("name", name), ("status", status)) if v}
        body.update({field: str(inputs.get(given) or "") for given, field in CLEARABLE if given in inputs})
        if number in (None, ""):
            if not reference or not name:
                raise Rejected("adding a supplier needs SupplierReference and Name")
            found = next((r for r in self.tables["F0101"] if r.get("ALKY") == reference), None)
            if found is not None:
                return {"AddressNumber": found["AN8"], "Existing": True}, (
                    f"Supplier {found['AN8']} already carries {reference}; nothing was written")
        elif not any(str(r["AN8"]) == str(number).strip() for r in self.tables["F0401"]):
            raise Rejected(f"AddressNumber {number} is not in F0401 (supplier master)")
        else:
            body["AN8"] = int(str(number).strip())
        row = self._change_supplier(body)
        if reference:
            book = next(r for r in self.tables["F0101"] if r["AN8"] == row["ABAN8"])
            book["ALKY"] = reference
        verb = "changed" if "AN8" in body else "added"
        return {"AddressNumber": row["ABAN8"], "Existing": False}, f"Supplier {row['ABAN8']} {verb}"
