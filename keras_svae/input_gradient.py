"""The one backend-specific piece: the gradient of a network with respect to its input.

DEEN's estimator x_hat(y) = y - sigma^2 grad_y f(y) (eq. 3) puts an input
gradient inside the training loss (eq. 2), so training differentiates through
a gradient (double backprop). `keras.ops` has no gradient op, so each backend
gets a branch here, each written so that the *outer* differentiation (Keras's
train step, with respect to the weights) still sees the computation:

* TensorFlow: an inner `GradientTape` watching the input; the outer tape of
  Keras's train step records the inner gradient's ops (also under XLA).
* JAX: `jax.value_and_grad` of the closure; it traces inside Keras's stateless
  train step, which differentiates the result again.
* PyTorch: `torch.autograd.grad(..., create_graph=True)` under
  `torch.enable_grad()` (Keras evaluates under `no_grad`); without
  `create_graph` the weight gradients would silently be None.

The function must be stateless: state updates (BatchNormalization statistics,
Dropout seeds) inside JAX's inner trace would leak tracers. DEEN refuses
energy networks with such state.
"""

import keras


def value_and_input_gradient(fn, inputs, differentiable=True):
    """Returns (fn(inputs), d sum(fn(inputs)) / d inputs).

    Args:
        fn: maps a batch (batch, ...) to one value per example (batch,); the
            examples must not interact, so that the gradient of the sum is
            each example's own gradient.
        inputs: float tensor (batch, ...).
        differentiable: keep the results differentiable with respect to what
            `fn` closes over (training). False for inference: no second-order
            graph is kept, and the results are cut from the weights.

    Returns:
        values of shape (batch,), and the gradient, shaped like `inputs`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        values, gradient = _tensorflow(fn, inputs)
    elif backend == "jax":
        values, gradient = _jax(fn, inputs)
    elif backend == "torch":
        values, gradient = _torch(fn, inputs, differentiable)
    else:
        raise NotImplementedError(f"No input gradient for the {backend!r} backend.")
    if not differentiable:
        values, gradient = keras.ops.stop_gradient(values), keras.ops.stop_gradient(gradient)
    return values, gradient


def _tensorflow(fn, inputs):
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    # Only the input is watched here; the weights are the outer tape's business.
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(inputs)
        values = fn(inputs)
        total = tf.reduce_sum(values)
    return values, tape.gradient(total, inputs)


def _jax(fn, inputs):
    import jax
    import jax.numpy as jnp

    def total(y):
        values = fn(y)
        return jnp.sum(values), values

    (_, values), gradient = jax.value_and_grad(total, has_aux=True)(jnp.asarray(inputs))
    return values, gradient


def _torch(fn, inputs, differentiable):
    import torch

    # Keep the graph of the gradient only when someone outside will use it:
    # training asks for it; evaluation (under no_grad) and inference do not.
    outer_grad = differentiable and torch.is_grad_enabled()
    inputs = keras.ops.convert_to_tensor(inputs)
    with torch.enable_grad():
        if not inputs.requires_grad:
            inputs = inputs.detach().requires_grad_(True)
        values = fn(inputs)
        (gradient,) = torch.autograd.grad(values.sum(), inputs, create_graph=outer_grad)
    if not outer_grad:
        values = values.detach()
    return values, gradient
