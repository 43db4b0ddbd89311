"""Reference data of target systems for the flows: loaders per system and a per-cycle index.

The cache itself (``mappings.ReferenceEntry``) and its refresh live in ``mappings``;
this module plugs the system clients in as loaders and gives a flow the accounts it
validates against, refreshing the cache when it is older than the flow allows.
"""

from datetime import timedelta

from django.utils import timezone

from mappings.models import ReferenceEntry
from mappings.reference import last_refreshed, refresh_reference, register_loader


def load_jde_accounts(connection):
    from .systems.jde import JdeClient

    for account in JdeClient(connection).accounts():
        yield {
            "kind": "account",
            "key": account.key,
            "description": account.description,
            "active": account.posting_edit != "I",
            "postable": account.is_postable,
            "data": {"aid": account.aid, "company": account.company, "posting_edit": account.posting_edit,
                     "level_of_detail": account.level_of_detail},
        }


def register_loaders():
    register_loader("jde", load_jde_accounts)


def refresh_if_stale(connection, *, max_age_minutes=60):
    refreshed = last_refreshed(connection.pk)
    if refreshed is None or refreshed < timezone.now() - timedelta(minutes=max_age_minutes):
        refresh_reference(connection, actor="cycle")


def account_index(connection, *, max_age_minutes=60):
    """key ("BU.OBJ" or "BU.OBJ.SUB") -> ReferenceEntry, refreshed first when stale or missing."""
    refresh_if_stale(connection, max_age_minutes=max_age_minutes)
    return {e.key: e for e in ReferenceEntry.objects.filter(connection=connection, kind="account")}
