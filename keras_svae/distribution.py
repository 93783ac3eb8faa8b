"""Training on several devices: `tf.distribute` strategies and `keras.distribution`.

Two engines, one model code:

* TensorFlow: a `tf.distribute.Strategy` (default, mirrored, multi-worker,
  TPU). Keras runs `compute_loss` once per replica on its share of the global
  batch and *sums* the replicas' gradients, so a loss must be divided by the
  number of replicas (`scale_loss`) to give the single-device update.
* JAX: `keras.distribution.DataParallel`, one SPMD program over the global
  batch; no scaling is needed and random draws are already global. Several
  machines (or processes) join through `jax.distributed`
  (`initialize_jax_processes`): what we recommend beyond one machine, because
  Keras 3's `fit` under TF's MultiWorkerMirroredStrategy fails on its metric
  reduction (tensorflow/tensorflow#72388: a scalar reduced over axis 0).

Random draws: under a TF strategy every replica holds the same
`SeedGenerator` state, so a naive draw repeats across replicas. `normal`
draws for the *global* batch and keeps this replica's rows: replicas get
different noise, and the noise each example sees is the one it would see on
one device, which makes distributed training equal single-device training
when every global batch splits evenly over the replicas (`training` drops
partial batches whenever there are several replicas).
"""

import keras
from keras import ops

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def _tensorflow():
    return keras.backend.backend() == "tensorflow"


def replica_context():
    """(replica id, number of replicas in sync); (0, 1) outside tf.distribute."""
    if not _tensorflow():
        return 0, 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def scale_loss(loss):
    """Divides a per-replica mean loss by the number of replicas (TF strategies)."""
    _, replicas = replica_context()
    return loss if replicas == 1 else loss / replicas


def normal(shape, dtype, seed):
    """Standard normal draws for this replica's rows of the global batch.

    Args:
        shape: the local shape; its first axis is the replica's batch.
        dtype: float dtype.
        seed: a `keras.random.SeedGenerator` (or int).
    """
    replica, replicas = replica_context()
    if replicas == 1:
        return keras.random.normal(shape, dtype=dtype, seed=seed)
    shape = tuple(shape)
    local = shape[0]
    draws = keras.random.normal((local * replicas,) + shape[1:], dtype=dtype, seed=seed)
    # Replica r holds rows [r * local, (r + 1) * local) of the global batch.
    start = [replica * local] + [0] * (len(shape) - 1)
    return ops.slice(draws, start, shape)


def tf_strategy(name="default", tpu=None):
    """Returns the `tf.distribute.Strategy` that `name` stands for.

    Args:
        name: "default" (one device), "mirrored" (all local GPUs, or CPUs),
            "multi_worker" (MultiWorkerMirroredStrategy; reads TF_CONFIG), or
            "tpu".
        tpu: the TPU address for "tpu" ("" or "local" on a TPU VM).

    Every strategy runs the same model code; only the TPU resolver differs.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")


def initialize_jax_processes(coordinator_address, num_processes, process_id):
    """Joins this process to a multi-process JAX runtime (one per machine or worker).

    Must run before any JAX computation. On CPUs the collectives go through
    gloo; on GPUs and TPUs JAX picks its own. Then `jax_data_parallel` spans
    the devices of every process.

    Args:
        coordinator_address: "host:port" of process 0, the same for all.
        num_processes: int, how many processes take part.
        process_id: int in [0, num_processes), this process's rank.
    """
    if keras.backend.backend() != "jax":
        raise ValueError("Multi-process training needs KERAS_BACKEND=jax.")
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator_address, num_processes=num_processes,
        process_id=process_id,
    )


def jax_data_parallel():
    """Sets and returns `keras.distribution.DataParallel` over every JAX device.

    With several processes (after `jax.distributed.initialize`), the devices
    are those of all processes.
    """
    if keras.backend.backend() != "jax":
        raise ValueError("Data parallelism through keras.distribution needs KERAS_BACKEND=jax.")
    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    keras.distribution.set_distribution(distribution)
    return distribution
