"""JD Edwards supplier writes: the supplier orchestration ``MLC_UpsertSupplier`` (option
``supplier_orchestration``), a customer-side artifact of this product like the journal and voucher
ones, wrapping the Supplier Master MBF (N0100043) that P04012 and Oracle's processSupplier use
(F0401, F0101, F0111, F01151, F0115). Its contract is documented in ``sandbox/jde_suppliers.py``: an add
carries ``SupplierReference`` (kept in F0101 ALKY), and an add whose reference is already on a
supplier answers that supplier with ``Existing: true`` and writes nothing, so a retried add after a
lost answer never makes a second supplier.
"""

from dataclasses import dataclass, field

from .errors import IntegrationError, OutcomeUnknown
from .jde_values import as_int, flag

DEFAULT_SUPPLIER_ORCHESTRATION = "MLC_UpsertSupplier"


@dataclass
class SupplierResult:
    address_number: int
    existing: bool = False
    raw: dict = field(default_factory=dict, repr=False)


class SupplierWrites:
    """Mixed into ``JdeClient``: needs ``call``, ``_url``, ``_json``, ``options``, ``orchestrator_version``."""

    def upsert_supplier(self, *, address_number=None, reference="", name=None, active=None, email=None,
                        contact=None, phone=None) -> SupplierResult:
        """Add a supplier (no ``address_number``: ``reference`` and ``name`` needed) or change the given
        fields of one; ``None`` leaves a field as it is, ``""`` clears e-mail, contact or phone."""
        payload = {"SupplierReference": reference} if reference else {}
        if address_number is not None:
            payload["AddressNumber"] = int(address_number)
        for key, value in (("Name", name), ("Email", email), ("Contact", contact), ("Phone", phone)):
            if value is not None:
                payload[key] = value
        if active is not None:
            payload["Status"] = "active" if active else "inactive"
        name_of = str(self.options.get("supplier_orchestration") or DEFAULT_SUPPLIER_ORCHESTRATION)
        response = self.call("POST", self._url(f"orchestrator/{name_of}", self.orchestrator_version),
                             idempotent=False, json_body=payload)
        what = f"supplier {address_number or reference}"
        try:
            body = self._json(response)
        except IntegrationError:
            raise OutcomeUnknown(f"JD Edwards answered the {what} with something that is not JSON; it may or may "
                                 "not have been written", code="JDE-OUTCOME-UNKNOWN", status=response.status_code) from None
        number = as_int(body.get("AddressNumber"))
        if not number:
            raise OutcomeUnknown(f"JD Edwards answered the {what} without an address number; it may or may not have "
                                 "been written", code="JDE-OUTCOME-UNKNOWN", status=response.status_code)
        return SupplierResult(address_number=number, existing=flag(body.get("Existing")), raw=body)
