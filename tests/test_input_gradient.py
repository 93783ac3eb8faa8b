"""The backend-specific input gradient: first order against closed forms, second
order (through a Keras train step) against central finite differences."""

import keras
import numpy as np
import pytest
from keras import ops
from scipy import special

from conftest import to_numpy
from keras_svae import DEEN, input_gradient, networks


def test_gradient_of_a_quadratic_form(rng):
    """f(y) = 1/2 y'Ay + b'y has gradient Ay + b (A symmetric)."""
    m = rng.normal(size=(4, 4))
    a, b = (m + m.T).astype("float32"), rng.normal(size=4).astype("float32")
    y = rng.normal(size=(6, 4)).astype("float32")

    def f(v):
        return 0.5 * ops.sum(v * ops.matmul(v, a), axis=-1) + ops.matmul(v, b)

    values, gradient = input_gradient.value_and_input_gradient(f, y)
    np.testing.assert_allclose(to_numpy(values), 0.5 * np.einsum("ni,ij,nj->n", y, a, y) + y @ b,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(gradient), y @ a + b, rtol=1e-5, atol=1e-5)


def test_gradient_of_log_sum_exp_on_images(rng):
    """f(y) = logsumexp(W' vec y) has gradient W softmax(W' vec y), shaped like y."""
    w = rng.normal(size=(12, 5)).astype("float32")
    y = rng.normal(size=(3, 2, 3, 2)).astype("float32")

    def f(v):
        return ops.logsumexp(ops.matmul(ops.reshape(v, (-1, 12)), w), axis=-1)

    _, gradient = input_gradient.value_and_input_gradient(f, y)
    expected = special.softmax(y.reshape(3, 12) @ w, axis=-1) @ w.T
    np.testing.assert_allclose(to_numpy(gradient), expected.reshape(y.shape), rtol=1e-5, atol=1e-6)


# Second order --------------------------------------------------------------------

SIGMA = 0.7


def numpy_deen_loss(params, y, x):
    """Eq. 2 for f(y) = w2' silu(W1' y + b1), its input gradient written out by hand."""
    w1, b1, w2 = params
    u = y @ w1 + b1
    s = special.expit(u)
    dsilu = s * (1 + u * (1 - s))
    grad_f = (dsilu * w2[:, 0]) @ w1.T
    x_hat = y - SIGMA**2 * grad_f
    return np.mean(np.sum((x - x_hat) ** 2, axis=-1))


def central_difference(params, y, x, h):
    """The central difference (L(w + h e) - L(w - h e)) / 2h for every weight."""
    grads = []
    for i, p in enumerate(params):
        g = np.zeros_like(p)
        for index in np.ndindex(p.shape):
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[i][index] += h
            minus[i][index] -= h
            g[index] = (numpy_deen_loss(plus, y, x) - numpy_deen_loss(minus, y, x)) / (2 * h)
        grads.append(g)
    return grads


# The central difference errs by c2 h^2 + c4 h^4 + ... plus rounding ~eps |L| / h. At
# h = 1e-5 that is up to ~1e-8 here (h^2 / 6 times a third derivative ~1e2): more than a
# float64 train step's error, so a tolerance below it fails on the reference, not the code.
# Richardson's (4 D(h/2) - D(h)) / 3 cancels the h^2 term: at h = 1e-3 it leaves ~h^4 =
# 1e-12 and rounding ~2e-13 |L|, far inside the float64 tolerance of the test.
RICHARDSON_H = 1e-3


def richardson_gradient(params, y, x, h=RICHARDSON_H):
    coarse, fine = central_difference(params, y, x, h), central_difference(params, y, x, h / 2)
    return [(4 * f - c) / 3 for f, c in zip(fine, coarse)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weight_gradient_through_the_input_gradient_matches_finite_differences(dtype, rng):
    if dtype == "float64" and keras.backend.backend() == "jax":
        pytest.skip("float64 needs jax_enable_x64, which would change every other test; "
                    "JAX is checked in float32 against the same float64 reference.")
    if dtype == "float64" and keras.backend.backend() == "torch":
        # Measured: keras.ops.matmul of two float64 tensors errs by ~2e-7 on torch.
        pytest.skip("Keras's torch backend computes float64 matmuls (Dense) in float32 "
                    "(keras-team/keras#23704): float64 would only repeat the float32 check.")
    x = rng.normal(size=(8, 3))
    y = x + SIGMA * rng.normal(size=x.shape)
    model = DEEN(SIGMA, energy=networks.MLPEnergy((5,), dtype=dtype), data_shape=(3,),
                 dtype=dtype)
    params = [to_numpy(v).astype("float64") for v in model.trainable_variables]
    expected = richardson_gradient(params, y, x)

    # One plain SGD step through Keras's own train step: w_new = w - lr * grad.
    lr = 1e-3
    model.compile(keras.optimizers.SGD(learning_rate=lr))
    model.train_on_batch(y.astype(dtype), x.astype(dtype))
    measured = [(p - to_numpy(v).astype("float64")) / lr
                for p, v in zip(params, model.trainable_variables)]
    rtol, atol = (2e-3, 2e-3) if dtype == "float32" else (1e-6, 1e-8)
    for got, want in zip(measured, expected):
        # ||x - y||^2 has no weight gradient: all of it comes through grad_y f.
        assert np.abs(want).max() > 1e-2
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * np.abs(want).max())

