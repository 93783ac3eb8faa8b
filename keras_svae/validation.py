"""Checks on image batches, run before any weight changes.

Value checks (NaN, infinity, range) cannot raise from inside a compiled train
step on every backend (JAX's jit has no exceptions), so they run where the
data enters the model: on arrays and tensors eagerly, in NumPy, and on a
`tf.data.Dataset` as assertions mapped over its batches, which fire in the
input pipeline before the batch reaches the step. Shapes are also checked at
trace time in the models' `call`.
"""

import inspect
import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops


# ----------------------------------------------------------------------
# Parameters: noise scales, the KL weight, corruption levels.


def _as_float(name, value, requirement):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {requirement}, got {value!r}.") from None


def validate_scale(name, value):
    """`value` as a float, checked finite and > 0 (sigma, alpha); else ValueError naming it."""
    value = _as_float(name, value, "a positive number")
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {name}={value}.")
    return value


def validate_beta(beta):
    """beta as a float, checked finite and >= 0 (Theorem 1's KL weight)."""
    beta = _as_float("beta", beta, "a number >= 0")
    if not beta >= 0.0 or beta == float("inf"):  # `not >=` also catches NaN.
        raise ValueError(f"beta must be finite and >= 0, got beta={beta}.")
    return beta


def validate_level(name, value):
    """A noise level (a std or scale that may be 0): finite and >= 0."""
    value = _as_float(name, value, "a number >= 0")
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be finite and >= 0, got {name}={value}.")
    return value


def validate_probability(name, value):
    """A probability: in [0, 1]."""
    value = _as_float(name, value, "a probability in [0, 1]")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {name}={value}.")
    return value


# ----------------------------------------------------------------------
# Data: shapes and values of image batches.


def check_shape(shape, image_shape, name="x"):
    """Raises ValueError unless `shape` is (batch,) + image_shape."""
    shape = tuple(shape)
    expected = (None,) + tuple(image_shape)
    if len(shape) != len(expected) or any(
        want is not None and got is not None and got != want
        for got, want in zip(shape[1:], expected[1:])
    ):
        raise ValueError(
            f"{name} must be a batch of shape (batch, {', '.join(map(str, image_shape))}) "
            f"for this model, got shape {shape}."
        )


def as_concrete_numpy(x):
    """Returns `x` as a NumPy array, or None when `x` is symbolic (traced)."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(ops.convert_to_numpy(x))
    except Exception:  # Graph tensors and JAX tracers have no value yet.
        return None


# Why clean training data must lie in [0, 1], for the errors that refuse it.
UNIT_INTERVAL_REASON = (
    "the decoder's mean x_hat = sigmoid(logits) lies in (0, 1), so the model cannot fit "
    "pixels outside [0, 1] (for real-valued data, e.g. standardised features, a Gaussian "
    "or Laplace SigmaVAE takes readout='identity')"
)


def _unit_interval_message(name, low, high, dtype):
    hint = ""
    if np.issubdtype(dtype, np.integer) or high > 1.0:
        hint = " For 8-bit images (0-255) divide by 255 (data.load_mnist does)."
    return (f"{name} must have pixels in [0, 1] to train or evaluate on: {UNIT_INTERVAL_REASON}; "
            f"got pixels in [{low}, {high}].{hint}")


def check_values(array, unit_interval=False, name="x"):
    """Raises ValueError on NaN/infinite pixels, or pixels outside [0, 1]."""
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must hold numbers, got dtype {array.dtype}.")
    finite = np.isfinite(array)
    if not finite.all():
        raise ValueError(
            f"{name} has {np.size(finite) - np.count_nonzero(finite)} NaN or infinite pixel(s)."
        )
    if unit_interval and array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(_unit_interval_message(name, array.min(), array.max(), array.dtype))


def check_images(x, image_shape, unit_interval=False, name="x"):
    """Checks an array or tensor batch: shape, then values when concrete."""
    check_shape(ops.shape(x), image_shape, name)
    array = as_concrete_numpy(x)
    if array is not None:
        check_values(array, unit_interval, name)


def _first_component(element):
    """The images in a dataset element: x, or x from (x, y[, w])."""
    return element[0] if isinstance(element, (tuple, list)) else element


def checked_dataset(dataset, image_shape, unit_interval=False, name="x"):
    """Returns `dataset` with the image checks asserted on every batch.

    The shape is checked at once from the element spec; the values as the
    batches are produced (a `tf.errors.InvalidArgumentError` naming the
    problem).
    """
    spec = _first_component(dataset.element_spec)
    check_shape(spec.shape, image_shape, name)

    def check(*element):
        images = _first_component(element)
        asserts = [
            tf.debugging.assert_all_finite(
                tf.cast(images, tf.float32), f"{name} has NaN or infinite pixel(s)."
            )
        ]
        if unit_interval:
            message = (f"{name} must have pixels in [0, 1] to train or evaluate on: "
                       f"{UNIT_INTERVAL_REASON}. For 8-bit images (0-255) divide by 255.")
            asserts += [
                tf.debugging.assert_greater_equal(
                    tf.reduce_min(images), tf.cast(0, images.dtype), message=message),
                tf.debugging.assert_less_equal(
                    tf.reduce_max(images), tf.cast(1, images.dtype), message=message),
            ]
        with tf.control_dependencies(asserts):
            return tf.nest.map_structure(tf.identity, element if len(element) > 1 else element[0])

    return dataset.map(check)


def rank_of(x):
    """The rank of an array's, a tensor's or a dataset's input batches (None if unknown)."""
    if isinstance(x, tf.data.Dataset):
        return _first_component(x.element_spec).shape.rank
    return len(x.shape) if hasattr(x, "shape") else None


def checked_input(x, image_shape, unit_interval=False, name="x"):
    """Checks what a user hands to fit/evaluate/predict and returns it.

    Arrays and tensors are checked now; a `tf.data.Dataset` gets its checks
    mapped over its first component (the inputs; targets inside a dataset
    are not value-checked); anything else (generators, `PyDataset`) passes unchecked
    here and meets only the shape check in `call`.
    """
    if x is None:
        return x
    if isinstance(x, tf.data.Dataset):
        return checked_dataset(x, image_shape, unit_interval, name)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        check_images(x, image_shape, unit_interval, name)
    return x


class _JaxStateGuard(keras.callbacks.Callback):
    """Gives a model back its variables when data raises inside Keras's JAX loop.

    Keras's JAX trainer detaches the variables' values when its loop starts and
    carries them in the step's state, so an error from the data (our checks of a
    tf.data dataset run as it is iterated) would leave the model without weights in
    memory. The guard keeps the values the loop starts from (`on_train_begin`,
    `on_test_begin`); `restore` syncs the state of the last step taken, else puts
    those values back. Drawing a batch ahead instead would advance a reshuffling
    dataset's order.
    """

    def _keep(self):
        # `_value`: a detached variable's `value` would call its (dropped) initializer.
        self.kept = [(v, v._value) for v in _loop_variables(self.model) if v._value is not None]

    def on_train_begin(self, logs=None):
        self._keep()

    def on_test_begin(self, logs=None):
        self._keep()

    def restore(self, model):
        if getattr(model, "_jax_state", None) and not getattr(model, "_jax_state_synced", True):
            model.jax_state_sync()
        for variable, value in getattr(self, "kept", []):
            if variable._value is None:
                variable.assign(value)


def _loop_variables(model):
    optimizer = getattr(model, "optimizer", None)
    return (model.trainable_variables + model.non_trainable_variables
            + (optimizer.variables if optimizer is not None else []) + model.metrics_variables)


def _guarded(run, model, kwargs):
    """Runs fit or evaluate; on JAX, an error leaves the model its variables."""
    given = kwargs.get("callbacks")
    # A CallbackList: Keras's fit validating, whose guard already sees on_test_begin.
    if keras.backend.backend() != "jax" or isinstance(given, keras.callbacks.CallbackList):
        return run(**kwargs)
    guard = _JaxStateGuard()
    kwargs["callbacks"] = list(given or []) + [guard]
    try:
        return run(**kwargs)
    except Exception:
        guard.restore(model)
        raise


def _positional(method, args):
    """Keras's positional arguments after x and y, by name (so that callbacks can be added)."""
    names = list(inspect.signature(method).parameters)[2:]
    return dict(zip(names, args))


class InputChecks:
    """Mixin for `keras.Model`s: checks data where it enters fit/evaluate/predict.

    The model defines `data_shape` (one example's shape) and
    `_unit_interval` (whether the data of fit/evaluate must lie in [0, 1]).
    Inputs and, when given, targets are checked; `predict` checks only shape
    and finiteness (it is meant for noisy data).
    """

    def _checked(self, x, name="x", unit_interval=None):
        unit_interval = self._unit_interval if unit_interval is None else unit_interval
        return checked_input(x, self.data_shape, unit_interval, name)

    def _checked_targets(self, y):
        # Targets, where a model takes them (DEEN's clean x for noisy inputs).
        return y if y is None else self._checked(y, "y")

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        x, y = self._checked(x), self._checked_targets(y)
        if isinstance(validation_data, (tuple, list)):
            self._checked(validation_data[0], "validation_data")
        else:
            validation_data = self._checked(validation_data, "validation_data")
        return _guarded(super().fit, self, dict(kwargs, x=x, y=y, validation_data=validation_data,
                                                **_positional(super().fit, args)))

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return _guarded(super().evaluate, self, dict(
            kwargs, x=self._checked(x), y=self._checked_targets(y),
            **_positional(super().evaluate, args)))

    def predict(self, x, *args, **kwargs):
        return super().predict(self._checked(x, unit_interval=False), *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        return super().train_on_batch(self._checked(x), self._checked_targets(y), *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        return super().test_on_batch(self._checked(x), self._checked_targets(y), *args, **kwargs)
