"""JD Edwards suppliers <-> BILL vendors: the one matching rule both directions use, and the vendor mirror's target.

A supplier and a vendor are the same party when their tax ids are equal, or, when one of them has
no tax id, when their names are equal (case and spacing aside). Two parties with different tax
ids are never matched by name: a same-named different company stays a different vendor.
"""

from ..engine.mirror import MirrorTarget


def norm(text):
    return " ".join(str(text or "").lower().split())


def same_party(name, tax_id, other_name, other_tax_id):
    if tax_id and other_tax_id:
        return str(tax_id).strip() == str(other_tax_id).strip()
    return bool(norm(name)) and norm(name) == norm(other_name)


def matches(items, name, tax_id, *, name_of, tax_of):
    """The items that are the party (tax id matches first: they win over name matches)."""
    by_tax = [i for i in items if tax_id and tax_of(i) and tax_of(i) == tax_id]
    return by_tax or [i for i in items if same_party(name, tax_id, name_of(i), tax_of(i))]


class PartyIndex:
    """``matches`` over a list of items that does not change, from dicts built once instead of a scan per party
    (a bill cycle matches every record's supplier against every vendor). A cycle holds one for every vendor or
    supplier of the organization, so each key maps to an item's position, or to a list only when several share
    it, and a tax id is kept stripped apart only when it is not already."""

    def __init__(self, items, *, name_of, tax_of):
        self.items = list(items)
        self.tax, self.stripped_tax, self.name, self.untaxed_name = {}, {}, {}, {}
        for n, item in enumerate(self.items):
            tax, name = tax_of(item), norm(name_of(item))
            if tax:
                _add(self.tax, tax, n)
                if str(tax).strip() != tax:
                    _add(self.stripped_tax, str(tax).strip(), n)
            else:
                _add(self.untaxed_name, name, n)
            _add(self.name, name, n)

    def matches(self, name, tax_id):
        if tax_id and tax_id in self.tax:
            return [self.items[n] for n in _at(self.tax, tax_id)]
        name, found = norm(name), []
        if tax_id:  # same_party: tax ids when both have one, else names
            stripped = str(tax_id).strip()
            found = [*_at(self.tax, stripped), *_at(self.stripped_tax, stripped),
                     *(_at(self.untaxed_name, name) if name else ())]
        elif name:
            found = list(_at(self.name, name))
        return [self.items[n] for n in sorted(set(found))]


def _add(index, key, n):
    have = index.get(key)
    if have is None:
        index[key] = n
    elif type(have) is int:
        index[key] = [have, n]
    else:
        have.append(n)


def _at(index, key):
    have = index.get(key)
    return () if have is None else (have,) if type(have) is int else have


class BillVendors(MirrorTarget):
    """BILL vendors, read once per cycle; a supplier's vendor is found by ``matches`` (an existing vendor
    is linked, never duplicated) and kept in step: name, email, tax id, archived when the supplier is
    inactive or gone."""

    def __init__(self, bill):
        self.bill = bill
        self.vendors = None

    def _load(self):
        if self.vendors is None:
            self.vendors = {v.id: v for v in self.bill.vendors()}
        return self.vendors.values()

    def match(self, state):
        found = matches(
            list(self._load()), state["name"], state.get("taxId"), name_of=lambda v: v.name, tax_of=lambda v: v.tax_id
        )
        live = [v for v in found if not v.archived]
        return (live or found or [None])[0]

    def same(self, existing, state):
        if not state.get("active", True):
            return existing is None or existing.archived
        return (
            not existing.archived
            and existing.name == state["name"]
            and existing.tax_id == (state.get("taxId") or "")
            and existing.email == (state.get("email") or "")
        )

    def target_id(self, existing, state):
        return existing.id if existing is not None else f"supplier {state['key']}"

    def _keep(self, vendor):
        self.vendors[vendor.id] = vendor
        return vendor.id

    def _fields(self, state):
        fields = {"name": state["name"], "email": state.get("email") or ""}
        if state.get("taxId"):
            fields["additionalInfo"] = {"taxId": state["taxId"]}
        return fields

    def create(self, state):
        self._load()
        fields = self._fields(state)
        fields.pop("additionalInfo", None)
        # A new vendor's bills are in its supplier's currency (F0401 CRRP); an existing vendor's billCurrency is
        # BILL's to keep: a bill in another currency is held with the reason (jde_bills.check_currency).
        fields["billCurrency"] = state.get("currency") or ""
        return self._keep(
            self.bill.create_vendor(
                state["name"], tax_id=state.get("taxId") or None, **{k: v for k, v in fields.items() if k != "name" and v}
            )
        )

    def update(self, existing, state):
        if existing.archived:
            existing = self.bill.set_vendor_archived(existing.id, False)
        return self._keep(self.bill.update_vendor(existing.id, **self._fields(state)))

    def deactivate(self, existing, state):
        return self._keep(self.bill.set_vendor_archived(existing.id, True))
