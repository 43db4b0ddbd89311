"""``manage.py prove_clusters``: two django-q2 clusters over every flow of two tenants, under faults.

Issue #15, point 1: zero double posts, zero lost records, zero vendor-limit breaches, with one
cluster killed and restarted in the middle. One module per concern:

* ``kinds``     per flow kind: the source records it must move and the target's ledger, read from the fakes
* ``check``     the verdict from those and the portal's batches (pure, unit-tested)
* ``world``     the sandboxes (one per tenant) and the tenants' flows over them
* ``clusters``  the ``manage.py qcluster`` processes: start, SIGKILL, restart, stop
* ``faults``    random vendor faults through the sandboxes' fault API
* ``runner``    the whole run: set up, drive, kill, drain, check, report
"""
