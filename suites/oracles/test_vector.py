"""Oracles of the vector kinds against SciPy and NumPy, and their documented edge cases."""

import math

import numpy as np
import pytest
import scipy.special as sp

from actaudit import catalog
from actaudit.oracles import evaluate

inf, nan = math.inf, math.nan


def hi(name, xs, grad=False, **params):
    out = evaluate(catalog.get(name), xs, params, grad=grad)
    return np.array([[e.hi for e in row] for row in out] if out and isinstance(out[0], list)
                    else [e.hi for e in out])


X = [0.5, -1.25, 3.0, 2.0]


def test_softmax_family_against_scipy():
    np.testing.assert_allclose(hi("softmax", X), sp.softmax(X), rtol=1e-15)
    np.testing.assert_allclose(hi("log_softmax", X), sp.log_softmax(X), rtol=1e-15)
    np.testing.assert_allclose(hi("logsumexp", X), [sp.logsumexp(X)], rtol=1e-15)
    np.testing.assert_allclose(hi("logmeanexp", X), [sp.logsumexp(X) - math.log(4)],
                               rtol=1e-15)


def test_logsumexp_with_b_and_sign_against_scipy():
    b = [1.0, 0.0, -2.0, 0.5]
    value, sign = sp.logsumexp(X, b=b, return_sign=True)
    np.testing.assert_allclose(hi("logsumexp", X, b=b, return_sign=True), [value, sign],
                               rtol=1e-15)
    assert math.isnan(hi("logsumexp", X, b=b)[0])  # a negative sum without return_sign


def test_jacobians_against_closed_forms():
    s = sp.softmax(X)
    np.testing.assert_allclose(hi("softmax", X, grad=True), np.diag(s) - np.outer(s, s),
                               rtol=1e-13, atol=1e-17)
    np.testing.assert_allclose(hi("log_softmax", X, grad=True), np.eye(4) - s[None, :],
                               rtol=1e-13, atol=1e-17)
    np.testing.assert_allclose(hi("logsumexp", X, grad=True), [s], rtol=1e-14)


def test_standardize_and_its_jacobian():
    x = np.array(X)
    sigma = np.sqrt(x.var() + 1e-5)
    np.testing.assert_allclose(hi("standardize", X), (x - x.mean()) / sigma, rtol=1e-14)
    eps = 1e-7
    fd = np.array([(hi("standardize", list(x + eps * e)) - hi("standardize", list(x - eps * e)))
                   / (2 * eps) for e in np.eye(4)]).T
    np.testing.assert_allclose(hi("standardize", X, grad=True), fd, rtol=1e-6, atol=1e-8)


def test_glu():
    a, g = np.array(X[:2]), np.array(X[2:])
    np.testing.assert_allclose(hi("glu", X), a * sp.expit(g), rtol=1e-15)
    with pytest.raises(ValueError, match="even"):
        hi("glu", X[:3])


@pytest.mark.parametrize(
    ("name", "xs", "params", "want"),
    [
        ("softmax", [inf, 1.0], {}, [nan, nan]),  # documented: +inf makes the slice NaN
        ("softmax", [-inf, -inf], {}, [nan, nan]),
        ("softmax", [-inf, 0.0], {}, [0.0, 1.0]),
        ("softmax", [1.0, 5.0], {"where": (True, False)}, [1.0, 0.0]),  # masked: 0
        ("log_softmax", [1.0, 5.0], {"where": (True, False)}, [0.0, -inf]),  # masked: -inf
        ("logsumexp", [-inf, -inf], {}, [-inf]),
        ("logsumexp", [1.0, 1.0], {"b": (1.0, -1.0), "return_sign": True}, [-inf, 0.0]),
        ("one_hot", [0, 2, 3, -1], {"num_classes": 3},
         [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]),  # out of range: a row of zeros
        ("glu", [inf, 1.0, -inf, 0.0], {}, [nan, 0.5]),  # inf * sigmoid(-inf) = inf * 0
    ],
)
def test_documented_edge_cases(name, xs, params, want):
    np.testing.assert_array_equal(hi(name, xs, **params), np.array(want, dtype=float))


def test_a_float32_tie_broken_only_past_20000_bits_is_decided():
    """log_softmax([5933.67431640625, -8252.0])[1] is −d − log1p(e^−d), d = 14185.67431640625.
    d has 25 significant bits: −d lies exactly halfway between two float32 numbers, and only
    the second term, about 10^−6161, says which way to round (down: the true value is below
    −d). Seeing it takes more than 20,480 bits; the oracle's last try is at its limit,
    32,768 (a hypothesis search found this input)."""
    d = 5933.67431640625 + 8252.0
    near = np.float32(-d)
    other = np.nextafter(near, np.float32(-np.inf if float(near) > -d else np.inf))
    assert float(near) + float(other) == -2 * d  # a float32 midpoint
    exact = evaluate(catalog.get("log_softmax"), [5933.67431640625, -8252.0])
    assert exact[1].rounded["float32"] == min(float(near), float(other))
    assert exact[1].hi == -d and exact[0].rounded["float32"] == 0.0
