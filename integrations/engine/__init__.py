"""The engine: the sync cycle and the posting protocol, independent of any one system.

    fetch -> record -> map -> validate -> post -> confirm -> audit

One module per concern:

* ``cycle``      run_cycle: lease, phases in order, time budget, finishing
* ``lease``      the flow lease renewed on a clock, fencing every state write
* ``intake``     storing a page of source records as batches (bad records held), cursor
* ``mapping``    NEW -> READY or HELD
* ``protocol``   claim, send, settle the result (posted / held / failed / in doubt)
* ``reconcile``  settle window, search the target, compare, decide
* ``outage``     connection errors pause the flow, one alert per outage
* ``sanitize``   storable payloads, control characters out of what is sent
* ``context``    what the phases share; fenced state moves with their audit entries
"""

from ..flows.base import payload_hash
from .cycle import run_cycle
from .result import CycleResult

__all__ = ["CycleResult", "payload_hash", "run_cycle"]
