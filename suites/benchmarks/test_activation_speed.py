"""Activation timings with pytest-benchmark: the test of `actaudit bench`, collected here
with a small selection of its own.

In the default test run (``--benchmark-disable``) each case runs once, untimed: every
kind of activation, parameter array and dtype goes through the benchmark code (inputs on
the device, compilation, jax.vjp, extra_info). Timed, with a choice of your own::

    pytest suites/benchmarks/test_activation_speed.py --benchmark-enable \\
        --impl reference --impl jax.nn --only gelu,softmax --dtypes float32 --sizes 1048576

``actaudit bench`` runs the same test over every activation and writes the tables.
"""

from actaudit import catalog, impl
from actaudit.bench._cases import cases, platforms
from actaudit.bench._plugin import Selection, jobs
from actaudit.bench._suite import test_speed

# one of each kind (elementwise with a code-path variant, axis with masks and weights,
# gated, index) and every parameter array
REPRESENTATIVE = ("relu", "gelu", "softmax", "logsumexp", "glu", "one_hot", "standardize")


def _split(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def pytest_generate_tests(metafunc):
    opt = metafunc.config.getoption
    impls = [impl.load(s) for s in dict.fromkeys(opt("impl") or ["reference", "jax.nn"])]
    acts = [catalog.get(n) for n in _split(opt("only")) or REPRESENTATIVE]
    chosen = cases(impls, acts, _split(opt("dtypes")), [int(n) for n in _split(opt("sizes"))],
                   _split(opt("modes")), platforms())
    Selection(jobs(chosen, impls)).pytest_generate_tests(metafunc)


__all__ = ["test_speed"]
