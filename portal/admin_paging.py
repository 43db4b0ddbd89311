"""Pagination that costs the same on a list of a million rows as on a list of a hundred.

Django's admin paginator runs ``COUNT(*)`` over the whole (filtered) list on every page; on
PostgreSQL that reads every matching row (a million audit entries: hundreds of ms, each time).
``BoundedCountPaginator`` counts at most ``EXACT_UP_TO`` + 1 rows; a list longer than that
shows PostgreSQL's planner estimate of its length instead (one EXPLAIN, no rows read), never
less than what was counted. Other databases count such a list exactly (SQLite is for development).
The admins using it set ``show_full_result_count = False``: the "(N total)" next to a
filtered count is a second full count.
"""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

EXACT_UP_TO = 10_000


class BoundedCountPaginator(Paginator):
    exact_up_to = EXACT_UP_TO
    estimated = False  # True when ``count`` is the planner's estimate

    @cached_property
    def count(self):
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return super().count
        counted = queryset.order_by()[: self.exact_up_to + 1].count()
        if counted <= self.exact_up_to:
            return counted
        if connections[queryset.db].vendor != "postgresql":
            return super().count
        self.estimated = True
        return max(planner_estimate(queryset), counted)


def planner_estimate(queryset):
    """The rows PostgreSQL's planner expects ``queryset`` to return (from the table statistics)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])
