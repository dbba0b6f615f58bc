"""logsumexp with scale factors b (`_vector._signed_weights_at`): entries with b = 0 do not
count, in the value and in both gradients (as in jax.nn's), even in a slice where
nothing counts; a
dominated slice keeps the second derivative at its top entry, s_k(1 − s_k), which
1 − s_k rounded would lose. Expected values from the closed forms in float64."""

import jax
import jax.numpy as jnp
import numpy as np

from actaudit.impl import load

logsumexp = load("reference").get("logsumexp")


def test_entries_with_b_zero_have_zero_gradients_even_in_an_empty_sum():
    x = jnp.asarray([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]], jnp.float32)
    b = jnp.asarray([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]], jnp.float32)
    da, db = jax.grad(lambda x, b: jnp.sum(logsumexp(x, axis=-1, b=b)), (0, 1))(x, b)
    assert np.asarray(logsumexp(x, axis=-1, b=b))[1] == -np.inf
    assert da[0, 1] == 0 and np.all(da[1] == 0) and np.all(db[1] == 0), (da, db)
    total = np.exp(0.0) + 2 * np.exp(2.0)
    # b's own derivative is 0 where b = 0 too, as jax.nn's (which drops those entries
    # before it differentiates)
    np.testing.assert_allclose(db[0], np.exp([0.0, -np.inf, 2.0]) / total, rtol=2e-7)
    np.testing.assert_allclose(da[0, [0, 2]], [1 / total, 2 * np.exp(2.0) / total], rtol=2e-7)


def test_the_top_entry_of_a_dominated_slice_keeps_its_curvature():
    x = np.asarray([0.0, -20.0, -30.0, -25.0], np.float32)
    b = np.asarray([1.0, 0.5, -2.0, 3.0], np.float32)
    hessian = jax.hessian(lambda x: logsumexp(x, b=jnp.asarray(b)))(jnp.asarray(x))
    terms = b.astype(np.float64) * np.exp(x.astype(np.float64))
    s = terms / terms.sum()
    top = s[0] * (terms[1:].sum() / terms.sum())  # s_0(1 − s_0), without the cancellation
    assert abs(float(hessian[0, 0]) - top) <= 4 * np.spacing(np.float32(top)), (hessian[0, 0], top)
