"""Trains on one device and on two, and prints how far apart the results are.

Run by tests/test_distribution.py in a fresh process, because the device count
must be fixed before TensorFlow or JAX starts:

    KERAS_BACKEND=tensorflow python tests/multidevice_run.py   # MirroredStrategy, 2 CPUs
    KERAS_BACKEND=jax python tests/multidevice_run.py          # DataParallel, 2 host devices

Prints one JSON object: for each model, the largest difference of weights,
loss and metrics between the two runs, and whether two replicas drew
different noise for the same image.
"""

import json
import os
import sys

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
if BACKEND == "jax":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keras_svae import DEEN, SigmaVAE, networks  # noqa: E402
from keras_svae.family import SigmaVAEFamily  # noqa: E402
from keras_svae import distribution as dist  # noqa: E402

SHAPE = (8, 8, 1)
GLOBAL_BATCH = 8
HALF = GLOBAL_BATCH // 2
X = np.random.default_rng(0).uniform(size=(32,) + SHAPE).astype("float32")


MODELS = ("sigma_vae", "deen", "family")
NETWORK = dict(data_shape=SHAPE, latent_dim=4, conv_channels=(4, 8, 8), encoder_units=16,
               decoder_units=32)


def make(name):
    if name == "sigma_vae":
        return SigmaVAE(scale=0.5, seed=1, **NETWORK)
    if name == "family":
        return SigmaVAEFamily([dict(scale=0.5, seed=1), dict(noise="laplace", scale=0.3, seed=2)],
                              **NETWORK)
    return DEEN(0.5, energy=networks.EnergyNetwork((4, 8, 8), units=16), data_shape=SHAPE, seed=1)


def train(name, initial_weights=None):
    model = make(name)
    if initial_weights is not None:
        model.set_weights(initial_weights)
    # jit_compile=False: XLA under MirroredStrategy on CPU fails (resource on another device).
    model.compile(keras.optimizers.SGD(0.05), jit_compile=False)
    history = model.fit(X, batch_size=GLOBAL_BATCH, epochs=2, shuffle=False, verbose=0)
    return model, {k: v[-1] for k, v in history.history.items()}


def posterior_draw(model, x):
    """z ~ q(z | x) (member 0's, for a family)."""
    z = model(x)["z"]
    return z[0] if isinstance(model, SigmaVAEFamily) else z


def compare(name, scope):
    initial = make(name).get_weights()  # Both runs start from these weights.
    single, single_logs = train(name, initial)
    with scope():
        multi, multi_logs = train(name, initial)
    return multi, {
        "weights": max(float(np.abs(a - b).max())
                       for a, b in zip(single.get_weights(), multi.get_weights())),
        "metrics": max(abs(single_logs[k] - multi_logs[k]) for k in single_logs),
        "metric_names": sorted(multi_logs),
    }


def tensorflow_main():
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = dist.tf_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    report = {"replicas": strategy.num_replicas_in_sync}
    for name in MODELS:
        model, report[name] = compare(name, strategy.scope)
        # The same image on both replicas: the draws must differ.
        image = tf.constant(np.repeat(X[:1], GLOBAL_BATCH, axis=0))
        batches = strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices(image).batch(GLOBAL_BATCH))
        local = next(iter(batches))
        if name != "deen":
            draws = strategy.run(lambda x: posterior_draw(model, x), args=(local,))
        else:
            draws = strategy.run(
                lambda x: dist.normal(tf.shape(x), x.dtype, model.seed_generator), args=(local,))
        a, b = (v.numpy() for v in strategy.experimental_local_results(draws))
        report[name]["replicas_draw_differently"] = bool(not np.allclose(a, b))
    return report


def jax_main():
    import jax

    assert len(jax.devices()) == 2
    report = {"replicas": len(jax.devices())}
    for name in MODELS:

        class DataParallelScope:
            def __enter__(self):
                dist.jax_data_parallel()

            def __exit__(self, *exc):
                keras.distribution.set_distribution(None)

        model, report[name] = compare(name, DataParallelScope)
        # One SPMD program: the two devices' halves of a batch of one repeated image.
        image = np.repeat(X[:1], GLOBAL_BATCH, axis=0)
        with DataParallelScope():
            if name != "deen":
                draws = np.asarray(posterior_draw(model, image))
            else:
                draws = np.asarray(dist.normal(image.shape, "float32", model.seed_generator))
        report[name]["replicas_draw_differently"] = bool(not np.allclose(draws[:HALF],
                                                                         draws[HALF:]))
    return report


if __name__ == "__main__":
    print(json.dumps(tensorflow_main() if BACKEND == "tensorflow" else jax_main()))
