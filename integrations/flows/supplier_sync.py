"""Suppliers both ways between JD Edwards (F0401) and Procurify (vendors): pairing, the per-field rule
for which side wins, and the mismatches nobody can resolve automatically.

Both directions are mirrors with their own flow and schedule (``jde_to_procurify`` with
``records: suppliers`` writes vendors; ``procurify_to_jde`` with ``records: vendors`` writes suppliers).
Both compute the same *agreed* values for every pair, so they never undo each other's work:

* **Pairing** (the same in both directions): a vendor whose ``external_id`` is the supplier's address
  number, or a supplier whose F0101 ALKY is ``PRC-V-<vendor id>`` (it was added from that vendor), or
  else one vendor and one supplier of the same name (case and spacing ignored).
* **Per field** (``FIELDS``: name, status, e-mail, contact person, phone), against the *baseline*, what
  each side held right after the last written version of the pair (in either flow): a field changed on
  one side only takes that side's value; changed on both (or a pair seen for the first time) takes the
  side the flow option ``supplier_rules`` names, ``{"name": "jde", "active": "jde", "email":
  "procurify", "contact": "procurify", "phone": "procurify"}`` by default: JD Edwards owns the legal
  name and whether AP may use the supplier, procurement keeps the contact details current. On a first
  pairing a blank value never wins over a filled one; a field a baseline does not hold (written before
  the field was synced) is not known yet and follows that first-pairing rule. Neither changed: the
  baseline's agreed value stands (a side that lost a conflict is brought to it by the other flow).
  JD Edwards side: F0101 ALPH and AT1, F0401 HDPY, Who's Who line 1 (F0111 MLNM, F01151 e-mail, F0115
  phone); Procurify side: the vendor's ``name``, ``active``, first ``email``, ``contact`` and ``phoneOne``.
  A phone is compared by its digits (and a leading +), so formatting alone is no change.
* **Unresolvable mismatches** become held versions with a reason (and their audit entry, with the
  source id): a name matching several records on the other side none of which is linked
  (``MAP-VENDOR-AMBIGUOUS`` / ``MAP-SUPPLIER-AMBIGUOUS``), a link pointing at a record that no longer
  exists, and, with ``create_missing: false``, a record with no match on the other side ("supplier
  in JD Edwards but no match in Procurify", ``MAP-NO-MATCH``).
"""

from dataclasses import dataclass

from ..models import Batch
from .mirror import clean_state

FIELDS = ("name", "active", "email", "contact", "phone")
SIDES = ("jde", "procurify")
DEFAULT_RULES = {"name": "jde", "active": "jde", "email": "procurify", "contact": "procurify", "phone": "procurify"}
KINDS = ("jde_suppliers", "procurify_vendors")  # the two mirrors' source kinds
WRITTEN = (Batch.State.POSTED, Batch.State.CONFIRMED)
LINK_PREFIX = "PRC-V-"


def rules(options):
    """The per-field winner from the flow option ``supplier_rules`` (partial dicts allowed)."""
    given = (options or {}).get("supplier_rules") or {}
    bad = {k: v for k, v in given.items() if k not in FIELDS or v not in SIDES}
    if bad:
        raise ValueError(f"option supplier_rules: {bad} (fields {', '.join(FIELDS)}; sides {' or '.join(SIDES)})")
    return {**DEFAULT_RULES, **given}


def name_key(name):
    return " ".join(str(name or "").split()).casefold()


def phone_key(text):
    """A phone number as compared: its digits, after a + when it starts with one ("+1 (604) 555-0142" ->
    "+16045550142")."""
    text = str(text or "").strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    return f"+{digits}" if digits and text.startswith("+") else digits


def jde_values(supplier):
    return {"name": supplier.name, "active": bool(supplier.active and not supplier.on_hold),
            "email": supplier.email.strip().lower(), "contact": supplier.contact.strip(), "phone": phone_key(supplier.phone)}


def procurify_values(vendor):
    return {"name": vendor.name, "active": bool(vendor.active), "email": (vendor.email[0] if vendor.email else "").lower(),
            "contact": vendor.contact.strip(), "phone": phone_key(vendor.phone)}


@dataclass
class Pair:
    supplier: object = None  # jde Supplier or None
    vendor: object = None  # procurify Vendor or None
    problem: list | None = None  # [code, message]: cannot be resolved without a person

    @property
    def an8(self):
        return str(self.supplier.address_number) if self.supplier else ""

    @property
    def vendor_id(self):
        return str(self.vendor.id) if self.vendor else ""


def pairs(suppliers, vendors):
    """Every supplier and every vendor, paired where they belong together (see the module doc)."""
    by_id = {str(v.id): v for v in vendors}
    numbers = {str(s.address_number) for s in suppliers}
    taken, out = set(), []
    vendors_named, suppliers_named = {}, {}
    for v in vendors:
        vendors_named.setdefault(name_key(v.name), []).append(v)
    for s in suppliers:
        suppliers_named.setdefault(name_key(s.name), []).append(s)
    for supplier in suppliers:
        an8 = str(supplier.address_number)
        linked = [v for v in vendors if v.external_id == an8]
        if not linked and supplier.reference.startswith(LINK_PREFIX):
            vendor = by_id.get(supplier.reference[len(LINK_PREFIX):])
            if vendor is None:
                out.append(Pair(supplier, None, ["MAP-NO-MATCH", f'supplier {an8} "{supplier.name}" in JD Edwards but no '
                                                 f"match in Procurify: vendor {supplier.reference[len(LINK_PREFIX):]} "
                                                 "it was added from is gone"]))
                continue
            linked = [vendor]
        if not linked:
            named = [v for v in vendors_named.get(name_key(supplier.name), []) if v.external_id not in numbers]
            if len(named) > 1:
                ids = ", ".join(str(v.id) for v in named)
                out.append(Pair(supplier, None, ["MAP-VENDOR-AMBIGUOUS", f'supplier {an8} "{supplier.name}" in JD Edwards '
                                                 f"matches {len(named)} Procurify vendors ({ids}); none carries its "
                                                 "address number"]))
                continue
            linked = named
        vendor = linked[0] if linked and str(linked[0].id) not in taken else None
        if vendor is not None:
            taken.add(str(vendor.id))
        out.append(Pair(supplier, vendor))
    for vendor in vendors:
        if str(vendor.id) in taken:
            continue
        if vendor.external_id and vendor.external_id.isdigit() and vendor.external_id not in numbers:
            out.append(Pair(None, vendor, ["MAP-NO-MATCH", f'vendor {vendor.id} "{vendor.name}" in Procurify but no match '
                                           f"in JD Edwards: its external id {vendor.external_id} is not in F0401"]))
            continue
        named = suppliers_named.get(name_key(vendor.name), [])
        problem = None
        if named:  # the name is taken by suppliers paired elsewhere or matching several vendors: a person decides
            problem = ["MAP-SUPPLIER-AMBIGUOUS", f'vendor {vendor.id} "{vendor.name}" in Procurify but no match in JD '
                       f"Edwards: the supplier(s) of that name ({', '.join(str(s.address_number) for s in named)}) "
                       "are linked to another vendor or match several"]
        out.append(Pair(None, vendor, problem))
    return out


def baselines(flow):
    """``{("jde", an8) | ("procurify", vendor id): (batch pk, agreed, after)}`` from the newest written
    version of each pair in either supplier flow between these two connections."""
    connections = {flow.source_id, flow.target_id}
    rows = (Batch.objects.filter(flow__tenant_id=flow.tenant_id, source_kind__in=KINDS, state__in=WRITTEN,
                                 flow__source_id__in=connections, flow__target_id__in=connections)
            .order_by("pk").values_list("pk", "payload"))
    found = {}
    for pk, payload in rows.iterator():
        state = (payload or {}).get("target") or {}
        if "_after" not in state:
            continue  # a version from before both ways existed: no baseline
        entry = (pk, {f: state.get(f) for f in FIELDS}, state["_after"])
        for side, key in (("jde", state.get("_an8")), ("procurify", state.get("_vendor"))):
            if key:
                found[(side, str(key))] = entry
    return found


def baseline_of(found, pair):
    entries = [found.get(("jde", pair.an8)) if pair.an8 else None,
               found.get(("procurify", pair.vendor_id)) if pair.vendor_id else None]
    entries = [e for e in entries if e]
    return max(entries, key=lambda e: e[0]) if entries else None


def holds(baseline, name):
    """Whether the baseline holds ``name`` for both sides (a version written before it was synced does not)."""
    _, _, after = baseline
    return all(name in (after.get(side) or {}) for side in SIDES)


def agree(jde, procurify, baseline, winners):
    """The agreed value of every field (see the module doc)."""
    out = {}
    for name in FIELDS:
        values = {"jde": jde.get(name) if jde else None, "procurify": procurify.get(name) if procurify else None}
        present = [side for side in SIDES if values[side] is not None]
        if len(present) == 1:
            out[name] = values[present[0]]
            continue
        if baseline is None or not holds(baseline, name):
            side, other = winners[name], "procurify" if winners[name] == "jde" else "jde"
            out[name] = values[side] if values[side] not in ("", None) else values[other]
            continue
        _, agreed, after = baseline
        changed = [side for side in SIDES if values[side] != (after.get(side) or {}).get(name)]
        if len(changed) == 1:
            out[name] = values[changed[0]]
        elif changed:
            out[name] = values[winners[name]]
        else:
            out[name] = agreed.get(name)
    return out


def in_step(baseline, jde, procurify):
    """Both sides hold what the baseline left them with: nothing to do in either direction. A field the
    baseline does not hold only needs both sides equal (an upgrade adding a field writes no version of a
    pair that already agrees on it)."""
    if baseline is None or jde is None or procurify is None:
        return False
    _, agreed, after = baseline
    if any(jde[f] != procurify[f] for f in FIELDS):
        return False
    return all(jde[f] == (after.get("jde") or {}).get(f) == (after.get("procurify") or {}).get(f) == agreed.get(f)
               for f in FIELDS if holds(baseline, f))


def pair_state(pair, found, winners, *, source, create_missing=True, known=None):
    """The target state of ``pair`` for the flow whose source side is ``source`` ("jde" or "procurify"):
    the agreed fields, both ids, and ``_after`` (each side's values once this version is written). None when
    the other direction already brought the pair in step and this flow has no version of it yet (``known``:
    its keys): a record the other flow just created needs no version here until something changes."""
    # Control characters never travel (mirror.clean_state): both sides are compared as they will be written.
    jde = clean_state(jde_values(pair.supplier)) if pair.supplier else None
    procurify = clean_state(procurify_values(pair.vendor)) if pair.vendor else None
    baseline = baseline_of(found, pair)
    key = pair.an8 if source == "jde" else pair.vendor_id
    if known is not None and key not in known and not pair.problem and in_step(baseline, jde, procurify):
        return None
    agreed = agree(jde, procurify, baseline, winners)
    mine = jde if source == "jde" else procurify
    target = "procurify" if source == "jde" else "jde"
    # ``_``: context, not part of the version (engine.mirror.fingerprint), so an id learnt from our own write
    # or a side catching up with the agreed values makes no new version
    state = {"key": key, **agreed, "_an8": pair.an8,
             "_vendor": pair.vendor_id, "_after": {source: mine, target: agreed}}
    if pair.problem:
        state["problem"] = list(pair.problem)
    elif not create_missing and agreed["active"] and (pair.vendor if source == "jde" else pair.supplier) is None:
        state["problem"] = ["MAP-NO-MATCH", f'supplier {pair.an8} "{agreed["name"]}" in JD Edwards but no match in Procurify'
                            if source == "jde" else f'vendor {pair.vendor_id} "{agreed["name"]}" in Procurify but no '
                            "match in JD Edwards"]
    return state
