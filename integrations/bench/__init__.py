"""``manage.py bench``: end-to-end throughput of every implemented flow kind, one JSON object per kind.

The command (``integrations/management/commands/bench.py``) is the conductor; the measured work
runs in fresh worker processes (one per size, so each peak-memory figure is that run's own)
against a sandbox in its own process and a scratch database cloned from one migrated template.
One module per concern:

* ``kinds``      per-kind setup registry: how to build a flow of a kind over the sandbox
* ``scratch``    scratch databases: a SQLite file or PostgreSQL databases, migrated once, cloned per run
* ``sandbox``    the sandbox process and its ``/_sandbox/`` control API
* ``recording``  every HTTP request the portal sends, recorded in the bench process only
* ``queries``    database queries of every thread's connection
* ``replay``     the recorded requests sent again, with the same concurrency: the floor the portal is compared to
* ``worker``     one measured run inside a worker process
* ``report``     the runs of one kind folded into its JSON object
* ``runner``     scratch database, sandbox, workers: the whole benchmark
"""
