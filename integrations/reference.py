"""Reference data of target systems for the flows: loaders per system and a per-cycle index.

The cache itself (``mappings.ReferenceEntry``) and its refresh live in ``mappings``;
this module plugs the system clients in as loaders and gives a flow the accounts it
validates against, refreshing the cache when it is older than the flow allows.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from mappings.reference import INACTIVE, OK, ReferenceSet, last_refreshed, refresh_reference, register_loader


def load_jde_accounts(connection):
    from .systems.jde import JdeClient

    for account in JdeClient(connection).accounts():
        yield {
            "kind": "account",
            "key": account.key,
            "description": account.description,
            "active": account.posting_edit != "I",
            "postable": account.is_postable,
            "data": {
                "aid": account.aid,
                "company": account.company,
                "posting_edit": account.posting_edit,
                "level_of_detail": account.level_of_detail,
            },
        }


def load_acumatica_accounts(connection):
    """Acumatica accounts and subaccounts (kinds ``account`` / ``subaccount``, what the Acumatica mapping
    targets are checked against)."""
    from .systems.acumatica import AcumaticaClient

    client = AcumaticaClient(connection)
    for account in client.list("Account", select=["AccountCD", "Description", "Active", "Type"]):
        yield {"kind": "account", "key": str(account["AccountCD"]).strip(), "description": account.get("Description") or "",
               "active": bool(account.get("Active")), "data": {"type": account.get("Type") or ""}}
    for sub in client.list("Subaccount", select=["SubaccountCD", "Description", "Active"]):
        yield {"kind": "subaccount", "key": str(sub["SubaccountCD"]).strip(), "description": sub.get("Description") or "",
               "active": bool(sub.get("Active"))}
def load_ifs_code_parts(connection):
    """IFS code part values as ``code_a`` (accounts), ``code_b``, ``code_c``... entries (mappings.vocabulary).
    ``active`` is the value's own state; its validity dates are kept in ``data`` and checked per voucher date."""
    from .systems.ifs import IfsClient

    for row in IfsClient(connection).code_part_values():
        yield {
            "kind": f"code_{row['CodePart'].lower()}",
            "key": row["CodeValue"],
            "description": row.get("Description") or "",
            "active": row.get("Objstate") == "Active",
            "data": {"valid_from": row.get("ValidFrom"), "valid_until": row.get("ValidUntil")},
        }


def register_loaders():
    register_loader("jde", load_jde_accounts)
    register_loader("acumatica", load_acumatica_accounts)
    register_loader("ifs", load_ifs_code_parts)


def refresh_if_stale(connection, *, max_age_minutes=60):
    refreshed = last_refreshed(connection.pk)
    if refreshed is None or refreshed < timezone.now() - timedelta(minutes=max_age_minutes):
        refresh_reference(connection, actor="cycle")


@dataclass(frozen=True)
class AccountStatus:
    key: str
    active: bool
    postable: bool  # False for a non-posting account (and, as it cannot take postings, an inactive one)


class AccountIndex(Mapping):
    """key ("BU.OBJ" or "BU.OBJ.SUB") -> AccountStatus, a read-only view of a ReferenceSet's accounts."""

    def __init__(self, refset):
        self._table = refset.kinds.get("account", {})

    def __getitem__(self, key):
        status, canonical = self._table[key]
        return AccountStatus(canonical, active=status != INACTIVE, postable=status == OK)

    def __iter__(self):
        return iter(self._table)

    def __len__(self):
        return len(self._table)


def account_index(connection, *, max_age_minutes=60):
    """key ("BU.OBJ" or "BU.OBJ.SUB") -> object with ``.active`` and ``.postable``, refreshed first when stale
    or missing. Built on ``ReferenceSet.for_connection``: the rows are loaded once per refresh per process
    (later cycles cost one aggregate query), shared with rule validation and the coverage check."""
    refresh_if_stale(connection, max_age_minutes=max_age_minutes)
    return AccountIndex(ReferenceSet.for_connection(connection))
