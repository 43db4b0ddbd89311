"""For control runs only: let a connection ask for more calls in flight than its vendor allows
(``registry.MAX_CONCURRENCY``), to show the overrun that the ceiling and the shared limiter prevent."""


def lift_ceiling(system):
    from integrations.systems import registry

    registry.MAX_CONCURRENCY.pop(system, None)
