"""The totals of the exponentials (`_vector._unit_total`): to half an ulp of the exact
sum, for slices of every length and the patterns that break a plain sum, against
math.fsum of the same numbers. A plain XLA sum of these is up to 6 ulps off (the
"small" rows of 1023 entries); so would the split be, were XLA to fold its rounding
away. Sums of both signs (logsumexp's b·exp(x − m)), scaled by a bound on their terms:
within half an ulp of the sum and a sixteenth of one of the bound, however much they
cancel."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from actaudit.impl.reference._vector import _unit_total

# one slice, the longest in one piece, the first chunked, and many chunks
LENGTHS = [1, 3, 97, 1023, 2048, 2049, 100_000]
PATTERNS = {
    "uniform": lambda rng, n: rng.random((2, n)),
    "exponentials": lambda rng, n: np.exp(-rng.random((2, n)) * 30),
    "small": lambda rng, n: rng.random((2, n)) * 2.0 ** -14,
    "thirds": lambda rng, n: np.full((2, n), 1 / 3),
    "halfway": lambda rng, n: rng.integers(0, 4, (2, n)) * 2.0 ** -14 + 1.5 * 2.0 ** -15,
}


def rows(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Two rows of n entries in [0, 1] per pattern, each starting with 1 (the top entry of
    a slice)."""
    v = np.concatenate([make(rng, n) for make in PATTERNS.values()])
    v[:, 0] = 1.0
    return [p for p in PATTERNS for _ in range(2)], v


@pytest.mark.parametrize("scaled", [False, True], ids=["unit", "scaled"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unit_total_within_half_an_ulp(dtype, scaled):
    rng = np.random.default_rng(0)
    with jax.enable_x64(dtype == "float64"):
        total = jax.jit(lambda v: _unit_total(
            v, -1, jnp.max(v, -1, keepdims=True) if scaled else None))
        for n in LENGTHS:
            names, v = rows(n, rng)
            v = v.astype(dtype)
            if scaled:  # a rest: the same rows, far smaller
                v = v * np.asarray(2.0 ** -40, dtype)
            got = np.asarray(total(jnp.asarray(v)))[:, 0].astype(np.float64)
            exact = np.array([math.fsum(r.astype(np.float64)) for r in v])
            ulps = np.abs(got - exact) / np.spacing(exact.astype(dtype)).astype(np.float64)
            worst = int(ulps.argmax())
            assert ulps.max() <= 0.5, f"{names[worst]} {dtype} n={n}: {ulps.max():.2f} ulps"


SIGNED = {
    "mixed": lambda rng, n: rng.standard_normal((2, n)),
    "cancelling": lambda rng, n: np.concatenate([v := rng.random((2, n // 2)), -v * (
        1 + rng.standard_normal((2, n // 2)) * 2.0 ** -20), rng.random((2, n % 2))], 1),
    "b_exp": lambda rng, n: rng.choice([-1.0, 0.0, 1.0], (2, n)) * np.exp(
        -rng.random((2, n)) * 20) * 2.0 ** 40,
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_signed_total_within_a_fraction_of_an_ulp_of_its_bound(dtype):
    rng = np.random.default_rng(1)
    with jax.enable_x64(dtype == "float64"):
        total = jax.jit(lambda v: _unit_total(v, -1, jnp.max(jnp.abs(v), -1, keepdims=True)))
        for n in LENGTHS:
            v = np.concatenate([make(rng, n) for make in SIGNED.values()]).astype(dtype)
            got = np.asarray(total(jnp.asarray(v)))[:, 0].astype(np.float64)
            exact = np.array([math.fsum(r.astype(np.float64)) for r in v])
            bound = np.abs(v).max(1).astype(np.float64)
            allowed = (np.spacing(np.abs(exact).astype(dtype)) / 2 +
                       np.spacing(bound.astype(dtype)) / 16).astype(np.float64)
            worst = int((np.abs(got - exact) / allowed).argmax())
            assert np.all(np.abs(got - exact) <= allowed), (
                f"{list(SIGNED)[worst // 2]} {dtype} n={n}: {got[worst]!r} for {exact[worst]!r}")


def test_non_finite_entries_make_the_total_a_plain_sum_makes():
    v = jnp.asarray([[1.0, jnp.inf, 0.5], [1.0, jnp.nan, 0.2], [0.0, 0.0, 0.0]], jnp.float32)
    got = np.asarray(_unit_total(v, -1))[:, 0]
    assert got[0] == np.inf and np.isnan(got[1]) and got[2] == 0
