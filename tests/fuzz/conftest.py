"""Fuzzed vendor payloads (issue #15 point 2): the hypothesis profile and one sandbox per module.

Profiles: ``fuzz-ci`` (the default) runs ``FUZZ_EXAMPLES`` examples per test and flow (20; the JD Edwards sources,
whose typed columns leave less to vary, half as many), derandomized so CI
is repeatable, with no deadline (a cycle makes real HTTP calls); ``FUZZ_PROFILE=fuzz-deep`` draws
fresh random examples each run (hypothesis prints the seed of a failure: rerun it with
``--hypothesis-seed``). ``FUZZ_EXAMPLES=200 ./scripts/test tests/fuzz`` for a longer run.
"""

import os

from hypothesis import HealthCheck, Phase, settings

from .harness import EXAMPLES

_common = {
    "max_examples": EXAMPLES,
    "deadline": None,
    "print_blob": True,
    # Each example reseeds a module-scoped sandbox and makes its own tenant: function-scoped fixtures are fine.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
}
# No shrinking in CI: a failing example is printed as drawn (shrinking a cycle over HTTP takes minutes).
settings.register_profile("fuzz-ci", derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate], **_common)
settings.register_profile("fuzz-deep", **_common)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "fuzz-ci"))
