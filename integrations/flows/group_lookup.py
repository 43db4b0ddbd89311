"""What a group search found, kept for the posts of the group (``engine.lookup``).

The handler asks the target once for every reference of a claimed group and keeps, for each
reference it asked about, the documents found (none: certainly absent). A post takes its
reference's answer once; a reference not asked about (the search failed, or left it out) has
no answer, and that post searches for itself as before. Posts run on several threads: a lock
guards the answers.
"""

import threading
from urllib.parse import urlencode

# IIS refuses a query string over 2,048 bytes by default (requestFiltering/requestLimits maxQueryString,
# learn.microsoft.com/previous-versions/iis/settings-schema/ms689462(v=vs.90)); Acumatica runs on IIS. Each
# search's filter stays under this, encoded, leaving room for the other parameters; past it, one more call.
QUERY_BUDGET = 1800


class GroupAnswers:
    def __init__(self):
        self._lock = threading.Lock()
        self._found = {}

    def keep(self, keys, found):
        """``found``: {key: [document]} for the ``keys`` asked about; a key missing from it was not found."""
        with self._lock:
            for key in keys:
                self._found[key] = list(found.get(key, []))

    def take(self, key):
        """The documents found for ``key`` ([] when absent), or None when no group search answered for it."""
        with self._lock:
            return self._found.pop(key, None)


def chunks(values, render, name, budget=QUERY_BUDGET):
    """``values`` cut into runs whose ``render(run)``, sent as query parameter ``name``, stays within ``budget``."""
    run = []
    for value in values:
        if run and len(urlencode({name: render([*run, value])})) > budget:
            yield run
            run = []
        run.append(value)
    if run:
        yield run
